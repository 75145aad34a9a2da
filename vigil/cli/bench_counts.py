"""`vigil bench counts`: time `vigil counts` queries over a synthetic SQLite store."""

from __future__ import annotations

import contextlib
import io
import os
import time
from pathlib import Path
from typing import Annotated

import typer

from vigil.cli.app import bench_app
from vigil.errors import VigilError


@bench_app.command("counts")
def bench_counts_cmd(
        events: Annotated[int, typer.Option("--events", help="Number of synthetic events.")] = 10_000_000,
        days: Annotated[int, typer.Option("--days", help="Days they span.")] = 30,
        cameras: Annotated[int, typer.Option("--cameras", help="Cameras (36 series each).")] = 2,
        db: Annotated[Path | None, typer.Option("--db", help="SQLite file; default: a reusable file in the "
                                                             "temp directory.")] = None,
        repeat: Annotated[int, typer.Option("--repeat", help="Runs per query.")] = 5) -> None:
    """Time `vigil counts` queries over a synthetic SQLite store (generated once, then reused)."""
    from vigil.bench import count_queries as bench
    from vigil.cli import main

    if events < 1 or days < 1 or cameras < 1 or repeat < 1:
        raise VigilError("--events, --days, --cameras and --repeat must be >= 1")
    path = db or bench.default_path(events, days, cameras)
    t = time.perf_counter()
    store = bench.generate(path, events, days, cameras)
    print(f"store ready in {time.perf_counter() - t:.1f} s")
    try:
        load = " (load average %.1f, %d CPUs)" % (os.getloadavg()[0], os.cpu_count())
    except OSError:
        load = ""
    print(f"Store.counts(...) wall times in ms{load}; cpu = median CPU time of this process")
    print(f"{'query':<92} {'rows':>6} {'first':>7} {'median':>7} {'best':>7} {'cpu':>7}")

    def show(r) -> None:
        print(f"{r.label:<92} {r.rows:>6} {r.first_ms:>7.1f} {r.median_ms:>7.1f} {r.best_ms:>7.1f} {r.cpu_ms:>7.1f}")

    for r in bench.time_queries(store, repeat):
        show(r)
    argv = ["counts", "--db", f"sqlite:///{path}", "--by", "hour", "--format", "json"]

    def whole_command() -> list:
        with contextlib.redirect_stdout(io.StringIO()):
            if main(argv) != 0:
                raise VigilError("vigil counts failed in the benchmark")
        return []

    show(bench.time_query("whole `vigil counts --by hour --format json` in-process, output to a buffer",
                          whole_command, repeat))
    store.close()
