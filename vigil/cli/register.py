"""`vigil register` and `vigil eval register`: visible <-> thermal registration."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

import typer

from vigil.cli.app import app, eval_app
from vigil.errors import VigilError

_FORMATS = ("text", "json")


def _read(path: Path, what: str):
    from vigil.fusion.pairs import read_pair_image

    if not path.exists():
        raise VigilError(f"{what} image '{path}' does not exist")
    if path.is_dir():
        raise VigilError(f"{what} image '{path}' is a folder; give an image file")
    return read_pair_image(path)


def _matrix(m) -> str:
    return "[" + ", ".join("[" + ", ".join(f"{v:.9g}" for v in row) + "]" for row in m) + "]"


@app.command("register")
def register_cmd(
    visible: Path = typer.Argument(..., help="visible (RGB) image"),
    thermal: Path = typer.Argument(..., help="thermal image of the same scene"),
    # \\[ keeps Rich from reading [x, y] as markup
    points: Optional[Path] = typer.Option(None, "--points",
                                          help="YAML of clicked point pairs ({visible: \\[x, y], thermal: \\[x, y]} "
                                               "under 'points:', >= 4; optional 'model: affine'); without it the "
                                               "images are registered automatically"),
    fmt: str = typer.Option("text", "--format", help="text or json"),
) -> None:
    """Estimate the homography between a visible and a thermal image, with its confidence.

    Prints the visible -> thermal matrix and its inverse (thermal -> visible), which is what a
    camera's `thermal: homography:` entry in the site config takes. Exit status 0 when
    registered, 1 when automatic registration refused (the images do not match or lack
    structure), 2 for bad input.
    """
    from vigil.fusion.register import calibrate_file, register_images

    if fmt not in _FORMATS:
        raise VigilError(f"--format {fmt!r} is not known; use text or json")
    vis = _read(visible, "visible")
    ir = _read(thermal, "thermal")
    reg = calibrate_file(points) if points is not None else register_images(vis, ir)
    if fmt == "json":
        print(json.dumps(reg.to_dict(), indent=2))
    else:
        if reg.ok:
            print(f"registered ({reg.method}), confidence {reg.confidence:.2f}")
        else:
            print(f"refused: {reg.reason} (confidence {reg.confidence:.2f})")
        if reg.visible_to_thermal is not None:
            label = "" if reg.ok else " (rejected best guess)"
            print(f"visible -> thermal{label}: {_matrix(reg.visible_to_thermal)}")
            print(f"thermal -> visible{label}: {_matrix(reg.thermal_to_visible)}")
        if reg.reprojection_px is not None:
            print(f"reprojection error: rms {reg.reprojection_rms_px:.3f} px, "
                  f"max {float(reg.reprojection_px.max()):.3f} px over {len(reg.reprojection_px)} pairs (thermal px)")
        if reg.ok:
            print(f"site config (camera's thermal: section):\n  homography: {_matrix(reg.thermal_to_visible)}")
    if not reg.ok:
        raise typer.Exit(1)


@eval_app.command("register")
def eval_register_cmd(
    pairs: Optional[Path] = typer.Option(None, "--pairs",
                                         help="folder of pairs (visible|vis|vi|rgb and infrared|ir|thermal "
                                              "subfolders, images with the same stem)"),
    homographies: Optional[Path] = typer.Option(None, "--homographies",
                                                help="CSV of reference visible -> thermal homographies (columns "
                                                     "name, h00..h22); default PAIRS/homographies.csv"),
    derive_from: list[Path] = typer.Option([], "--derive-from",
                                           help="instead of --pairs: folder of ALIGNED pairs (VIFB, TNO, ...; may "
                                                "be repeated) turned into unregistered pairs with known, seeded "
                                                "homographies (a simulated second camera), then scored"),
    mismatched: bool = typer.Option(False, "--mismatched",
                                    help="also register each visible image with another pair's thermal image "
                                         "and count how many of these wrong pairs are refused"),
    fmt: str = typer.Option("table", "--format", help="table or json"),
) -> None:
    """Score automatic registration against reference homographies (corner error in thermal px).

    Figures are given for all pairs and for the development and held-back halves (the
    registration's thresholds were tuned on the development half only). A refused pair counts
    as a failure in "within 10 px" and is counted apart; "accepted right" is the share of the
    pairs it did not refuse that are within 10 px.
    """
    import hashlib
    import tempfile

    from vigil.eval.registration import derive_pairs, evaluate_folder

    if fmt not in ("table", "json"):
        raise VigilError(f"--format {fmt!r} is not known; use table or json")
    if (pairs is None) == (not derive_from):
        raise VigilError("give --pairs DIR (pairs with reference homographies) or --derive-from DIR (aligned pairs)")
    if derive_from:
        key = hashlib.sha1("|".join(sorted(str(d.resolve()) for d in derive_from)).encode()).hexdigest()[:12]
        pairs = derive_pairs(derive_from, Path(tempfile.gettempdir()) / f"vigil-derived-pairs-{key}")
    assert pairs is not None
    result = evaluate_folder(pairs, homographies, mismatched=mismatched)
    if fmt == "json":
        print(json.dumps(result, indent=2))
        return
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"registration vs reference ({pairs})")
    for col in ("pair", "error px", "refused", "confidence", "seconds", "reason"):
        table.add_column(col, justify="left" if col in ("pair", "reason") else "right")
    for r in result["per_pair"]:
        err = "" if r["error_px"] is None else f"{r['error_px']:.1f}"
        table.add_row(r["name"], err, "yes" if r["refused"] else "", f"{r['confidence']:.2f}",
                      f"{r['seconds']:.2f}", "" if not r["refused"] else r["reason"])
    console = Console() if Console().is_terminal else Console(width=160)
    console.print(table)
    summary = Table(title="summary (refused pairs count as failures in 'within'; 'accepted right': within 10 px "
                          "of those not refused)")
    for col in ("pairs", "n", "within 10 px", "within 5 px", "median px", "refused", "accepted right"):
        summary.add_column(col, justify="left" if col == "pairs" else "right")
    for label, key in (("all", None), ("development", "development"), ("held-back", "held_back")):
        s = result if key is None else result.get(key)
        if s is None:
            continue
        med, acc = s["median_error_px"], s["accepted_within_10px"]
        summary.add_row(label, str(s["pairs"]), f"{s['success_rate_10px']:.0%}", f"{s['success_rate_5px']:.0%}",
                        "-" if med is None else f"{med:.2f}", str(s["refused"]), "-" if acc is None else f"{acc:.0%}")
    console.print(summary)
    console.print(f"mean {result['mean_seconds']:.2f} s/pair ({result['mean_cpu_seconds']:.2f} s CPU)")
    if mismatched:
        console.print(f"mismatched pairs refused: {result['mismatched_refused']} of {result['mismatched_pairs']}")
