"""`vigil replay`: recorded video through detection, tracking, counting and the store."""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Optional

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from rich.table import Table

from vigil.cli.app import app
from vigil.cli.outputs import load_checked
from vigil.errors import VigilError


def summary_table(results) -> Table:
    table = Table(title="counted in this replay")
    for col in ("camera", "file", "status", "frames", "kind", "name", "class", "in", "out"):
        table.add_column(col, justify="right" if col in ("frames", "in", "out") else "left")
    for r in results:
        rows: dict[tuple, dict] = {}
        for (kind, name, cls, direction), n in r.counts.items():
            rows.setdefault((kind, name, cls), {"in": 0, "out": 0})[direction] += n
        base = [r.job.camera.id, r.job.path.name, r.status, str(r.frames)]
        if not rows:
            table.add_row(*base, "", "", "", "0", "0")
        for (kind, name, cls), d in sorted(rows.items()):
            table.add_row(*base, kind, name, cls, str(d["in"]), str(d["out"]))
            base = ["", "", "", ""]
    return table


@app.command()
def replay(
    config: Path = typer.Argument(..., help="site config YAML (configs/*.yaml)"),
    videos: Optional[list[str]] = typer.Argument(
        None, help="video files to replay; CAMERA=path picks the camera; default: each camera's source file"),
    db: Optional[str] = typer.Option(None, "--db",
                                     help="SQLAlchemy database URL (default: $VIGIL_DB, else the config's database)"),
    camera: Optional[str] = typer.Option(None, "--camera", help="replay only this camera / give all files to it"),
    progress: bool = typer.Option(True, "--progress/--no-progress", help="show a progress bar"),
    annotate: Optional[Path] = typer.Option(
        None, "--annotate", metavar="DIR",
        help="also write DIR/<camera>-<file>.mp4 per file: every analysed frame with boxes, class, track id, "
             "traces, lines and zones with live counts (drawing and encoding cost a few ms per frame)"),
    hwaccel: Optional[str] = typer.Option(
        None, "--hwaccel", help="video decode device: auto, cuda, qsv, vaapi or none (default: the site's "
                                "live.hwaccel, so replay decodes as `vigil run` does); a named device that "
                                "does not open decodes in software with one warning per file"),
    outputs_wait: float = typer.Option(
        60.0, "--outputs-wait", min=0,
        help="with outputs configured: seconds to keep delivering after the last frame; what is left "
             "waits in the outbox for the next run or `vigil outputs run`"),
) -> None:
    """Replay recorded video: detect, track and count, and write every event to the database.

    Replaying a file again for the same camera replaces its earlier run (files are
    identified by content hash), so counts never double. Files of different cameras
    are processed side by side with one batched detector. Events go to the site's outputs
    (MQTT, webhooks) as they are stored."""
    if hwaccel is not None and hwaccel not in ("auto", "cuda", "qsv", "vaapi", "none"):
        raise VigilError(f"--hwaccel {hwaccel!r}: use auto, cuda, qsv, vaapi or none")
    cfg = load_checked(config)  # outputs too: an unknown broker host is one line before any frame
    # Here, not at the top: every `vigil` command imports this module, and the pipeline (scipy,
    # the tracker, the counter) cost each one, `vigil counts` or a config error too, a second.
    from vigil.pipeline.stages import build_stages, plan_jobs

    jobs = plan_jobs(cfg, videos or [], camera)
    if annotate is not None:
        try:
            annotate.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise VigilError(f"--annotate {annotate}: cannot make that folder ({exc.strerror}); "
                             "give a writable folder") from None
    from vigil.config.database import resolve_db_url
    from vigil.pipeline.replay import Replay, probe_frames
    from vigil.store import Store

    store = Store(resolve_db_url(db, cfg.site.database), outbox=bool(cfg.site.outputs))
    detector, embedder = build_stages(cfg)
    console_err = Console(stderr=True)
    picked = " (picked by engine: auto)" if cfg.pipeline.detector.engine == "auto" else ""
    console_err.print(f"detector: {detector.describe()}{picked}", highlight=False)
    if embedder is not None:
        console_err.print(f"re-ID: {embedder.describe()} (reid.engine: {cfg.pipeline.reid.engine})",
                          highlight=False)
    delivery = None
    if cfg.site.outputs:
        from vigil.outputs.delivery import Delivery

        delivery = Delivery(cfg, store.engine, cameras=sorted({j.camera.id for j in jobs})).start()
        store.on_commit = delivery.wake  # deliver right after each commit, no polling in between
    total = sum(probe_frames(j.path, cfg.pipeline.frame_stride) for j in jobs)
    console = Console(stderr=True)
    columns = [TextColumn("[bold]replay"), BarColumn(), MofNCompleteColumn(), TextColumn("frames"),
               TextColumn("{task.fields[fps]:.1f} fps"), TimeElapsedColumn(), TextColumn("eta"),
               TimeRemainingColumn()]
    started = time.perf_counter()
    with Progress(*columns, console=console, disable=not progress, transient=False) as bar:
        task = bar.add_task("replay", total=total or None, fps=0.0)

        def advance(n: int) -> None:
            done = bar.tasks[0].completed + n
            bar.update(task, advance=n, fps=done / max(time.perf_counter() - started, 1e-9))

        observers = None
        if annotate is not None:
            from vigil.render.annotate import annotators

            observers = annotators(annotate, cfg.pipeline.frame_stride, cfg.pipeline.detector.vocabulary)
        runner = Replay(cfg, store, detector, embedder, on_frames=advance, observers=observers, hwaccel=hwaccel)
        try:
            results = runner.run(jobs)
        except BaseException:
            if delivery is not None:
                delivery.close()
            raise
    elapsed = time.perf_counter() - started
    if delivery is not None:
        delivered = delivery.close(grace=outputs_wait)
        snap = delivery.snapshot()["outputs"]
        print("outputs: " + ", ".join(f"{o['name']} {o['delivered']} delivered" for o in snap)
              + ("" if delivered else "; not all delivered yet: they wait in the outbox "
                                      f"(`vigil outputs run {config} --drain` delivers them)"), file=sys.stderr)
    Console().print(summary_table(results))
    print(f"{runner.frames} frames analysed in {elapsed:.1f} s ({runner.frames / max(elapsed, 1e-9):.1f} fps) "
          f"on {detector.engine}; database: {store.url}",  # Store.url has the password masked
          file=sys.stderr)
    if annotate is not None:
        from vigil.render.annotate import annotated_path

        for r in results:
            path = annotated_path(annotate, r.job.camera.id, r.job.path)
            if path.is_file():
                print(f"annotated video: {path}", file=sys.stderr)
    for r in results:
        for note in r.notes:
            print(f"{r.job.camera.id}: {note} (in {r.job.path.name})", file=sys.stderr)
        for w in r.warnings:
            print(f"warning: {w} (in {r.job.path.name})", file=sys.stderr)
    errors = [r for r in results if r.error]
    for r in errors:
        print(f"error: {r.error}", file=sys.stderr)
    if errors:
        raise typer.Exit(code=VigilError.exit_code)
