"""`vigil bench outputs`: outputs' delivery rate from a backlog, and counting fps with outputs on vs off."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from vigil.cli.app import bench_app
from vigil.errors import VigilError


@bench_app.command("outputs")
def bench_outputs_cmd(
        video: Path = typer.Option(..., "--video", help="clip to replay for the counting side (a short cut is enough)"),
        weights: Path = typer.Option(..., "--weights", help="detector weights (e.g. yolov8n_int8.onnx)"),
        events: int = typer.Option(10_000, "--events", help="backlog size delivered by each output"),
        rounds: int = typer.Option(3, "--rounds", help="rounds per side; medians are reported"),
        count: bool = typer.Option(True, "--count/--no-count", help="also replay the clip with outputs on and off"),
        events_per_post: int = typer.Option(50, "--events-per-post", min=1, max=1000,
                                            help="also time the webhook with this many events per POST (1: not)"),
        as_json: bool = typer.Option(False, "--json", help="print JSON instead of text"),
) -> None:
    """Events/s delivered to MQTT (local mosquitto) and a webhook (local receiver process) from
    a backlog, and replay fps with outputs on vs off, side by side in one run."""
    if events < 2 or rounds < 1:
        raise VigilError("--events must be at least 2 and --rounds at least 1")
    for p, what in ((video, "--video"), (weights, "--weights")):
        if not p.is_file():
            raise VigilError(f"{what} '{p}' does not exist; give a file")
    from vigil.bench.outputs import bench_outputs

    result = bench_outputs(video, weights, events, rounds, count, events_per_post)
    if as_json:
        print(json.dumps(result))
        return
    for kind, r in result["backlog_events_per_s"].items():
        print(f"{kind:>11}: {r['median']:8.0f} events/s from a {events}-event backlog "
              f"(rounds: {', '.join(f'{x:.0f}' for x in r['rounds'])})")
    if "count_fps" in result:
        for side, r in result["count_fps"].items():
            print(f"outputs {side:>3}: {r['median']:6.2f} fps (rounds: {', '.join(f'{x:.2f}' for x in r['rounds'])}; "
                  f"CPU ms/frame: {', '.join(f'{x:.0f}' for x in r['cpu_ms_per_frame'])}; events {r['events']})")
        print(f"slowdown with outputs on: {100 * result['count_slowdown']:.1f} % (median fps), "
              f"{100 * result['count_cpu_overhead']:.1f} % more CPU per frame")
