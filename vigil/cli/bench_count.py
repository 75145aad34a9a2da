"""`vigil bench count`: counter time per frame at 10, 50 and 200 tracks (synthetic stream)."""

from __future__ import annotations

import json

import typer

from vigil.cli.app import bench_app
from vigil.errors import VigilError


@bench_app.command("count")
def bench_count_cmd(
        objects: list[int] = typer.Option([10, 50, 200], "--objects", help="tracks per frame (repeatable)"),
        frames: int = typer.Option(600, "--frames", help="frames per run (10 fps, a new id every 6 s per slot)"),
        embedding_dim: int = typer.Option(512, "--embedding-dim", help="re-ID embedding size; 0 = no embeddings"),
        as_json: bool = typer.Option(False, "--json", help="print JSON instead of a table"),
) -> None:
    """Time the counting stage alone: two lines and a zone, tracks turning over all the time."""
    if frames < 1 or any(n < 1 for n in objects) or embedding_dim < 0:
        raise VigilError("--frames and --objects must be at least 1 and --embedding-dim at least 0")
    from vigil.bench.counter import bench_counter

    result = bench_counter(objects, frames, embedding_dim)
    if as_json:
        print(json.dumps(result))
        return
    print(f"{'tracks':>7} {'wall ms/frame':>14} {'cpu ms/frame':>13} {'events':>7}")
    for n, r in result.items():
        print(f"{n:>7} {r['wall_ms']:>14.3f} {r['cpu_ms']:>13.3f} {r['events']:>7}")
