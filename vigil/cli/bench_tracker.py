"""`vigil bench tracker`: tracker time per frame at 10, 50 and 200 objects (synthetic scene)."""

from __future__ import annotations

import json

import typer

from vigil.cli.app import bench_app
from vigil.errors import VigilError


@bench_app.command("tracker")
def bench_tracker(
    objects: str = typer.Option("10,50,200", "--objects", help="comma-separated object counts"),
    frames: int = typer.Option(300, "--frames", min=10, help="frames timed per object count"),
    repeats: int = typer.Option(3, "--repeats", min=1, help="runs per object count; the fastest is reported"),
    peers: bool = typer.Option(False, "--peers", help="also time ultralytics ByteTrack and BoT-SORT"),
    fmt: str = typer.Option("table", "--format", help="table or json"),
) -> None:
    """Time Vigil's tracker (motion only, no camera-motion compensation) on a synthetic scene of
    constant-velocity boxes with jitter and missed detections. Reports milliseconds per frame
    (best of --repeats runs): wall time, and the process's CPU time, which is what the tracker
    costs when other work shares the machine."""
    try:
        counts = [int(x) for x in objects.split(",") if x.strip()]
    except ValueError:
        raise VigilError(f"--objects {objects!r} must be comma-separated integers, e.g. 10,50,200") from None
    if not counts or min(counts) < 1:
        raise VigilError(f"--objects {objects!r} needs positive counts, e.g. 10,50,200")
    if fmt not in ("table", "json"):
        raise VigilError(f"unknown --format {fmt!r}; use table or json")
    from vigil.bench.tracker import bench_tracker
    from vigil.bench.ultralytics_trackers import ULTRALYTICS_TRACKERS

    names = ["vigil", *(ULTRALYTICS_TRACKERS if peers else ())]
    res = bench_tracker(counts, frames, names, repeats)
    if fmt == "json":
        typer.echo(json.dumps({k: {str(n): v for n, v in r.items()} for k, r in res.items()}, indent=2))
        return
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"tracker ms/frame, wall / CPU ({frames} frames, best of {repeats})")
    table.add_column("tracker", no_wrap=True)
    for n in counts:
        table.add_column(f"{n} objects", justify="right")
    for name, r in res.items():
        table.add_row(name, *(f"{r[n]['wall_ms']:.3f} / {r[n]['cpu_ms']:.3f}" for n in counts))
    Console().print(table)
