"""`vigil bench retention`: prune a synthetic store while counting goes on."""

from __future__ import annotations

import json
import os
from typing import Annotated

import typer

from vigil.cli.app import bench_app
from vigil.errors import VigilError


@bench_app.command("retention")
def bench_retention_cmd(
        events: Annotated[int, typer.Option("--events", help="Synthetic events to generate.")] = 10_000_000,
        days: Annotated[int, typer.Option("--days", help="Days they span.")] = 400,
        keep_days: Annotated[int, typer.Option("--keep-days", help="Raw events kept (retention).")] = 90,
        rate: Annotated[int, typer.Option("--rate", help="Events a second written while pruning.")] = 100,
        baseline: Annotated[float, typer.Option("--baseline", help="Seconds of writing before pruning.")] = 10.0,
        batch: Annotated[int, typer.Option("--batch", help="Rows per delete statement.")] = 5000) -> None:
    """Generate (or reuse) a SQLite store of --events over --days, prune it to --keep-days while
    a writer counts --rate events/s, and report: rows deleted, time, the writer's flush latency
    before/during pruning, and whether counts by day/hour over the pruned range changed."""
    from vigil.bench.retention import run_bench

    if min(events, days, keep_days, rate, batch) < 1 or keep_days >= days or baseline <= 0:
        raise VigilError("--events, --days, --keep-days, --rate, --batch must be >= 1, --keep-days < --days, "
                         "--baseline > 0")
    out = run_bench(events, days, keep_days, rate, baseline, batch)
    out["load"] = os.getloadavg()
    print(json.dumps(out, indent=1))
