"""`vigil preview`: see where the lines and zones of a site config fall on a real frame."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Optional

import typer

from vigil.cli.app import app
from vigil.config.load import load_site
from vigil.errors import ConfigError, VigilError

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg")


@app.command()
def preview(
    config: Path = typer.Argument(..., help="site config YAML (configs/*.yaml)"),
    camera: Optional[str] = typer.Option(None, "--camera", help="only this camera (default: every camera)"),
    out: Path = typer.Option(Path("preview.png"), "-o", "--out",
                             help="PNG (or JPEG) to write; with several cameras, NAME-<camera>.png each; "
                                  "a folder (or a name without extension): DIR/<camera>.png"),
    timeout: Optional[float] = typer.Option(None, "--timeout", min=0.1,
                                            help="seconds to wait for a stream's first frame "
                                                 "(default: the site's live open_timeout + read_timeout)"),
) -> None:
    """Draw every line (A->B arrow, the "in" side shaded green, its name) and zone of the
    config on one real frame of each camera (a file's first frame, or a stream's current
    one), print the frame size, and warn about lines or zones outside the frame."""
    cfg = load_site(config)
    ids = [c.id for c in cfg.site.cameras]
    if camera is not None and camera not in ids:
        raise ConfigError(f"camera '{camera}' is not in {cfg.site_path}; cameras there: {', '.join(ids)}")
    chosen = [cfg.site.camera(camera)] if camera else cfg.site.cameras
    from vigil.render.preview import first_frame, output_paths, render_preview, write_png

    paths = output_paths(out, [c.id for c in chosen])
    bad = [p for p in paths.values() if p.suffix.lower() not in IMAGE_SUFFIXES]
    if bad:
        raise ConfigError(f"cannot write '{bad[0]}': give -o a .png or .jpg file, or a folder")
    failed = 0
    for cam in chosen:  # one camera that cannot be read does not stop the others' previews
        try:
            p = render_preview(cam, first_frame(cfg, cam, timeout))
            write_png(paths[cam.id], p.image)
        except (VigilError, OSError) as exc:
            failed += 1
            print(f"error: {' '.join(str(exc).split())}", file=sys.stderr)
            continue
        print(f"{cam.id}: {p.width}x{p.height} frame, {len(cam.lines)} line(s), {len(cam.zones)} zone(s) "
              f"-> {paths[cam.id]}")
        for w in p.warnings:
            print(f"warning: {w}", file=sys.stderr)
    if failed:
        raise typer.Exit(code=VigilError.exit_code)
