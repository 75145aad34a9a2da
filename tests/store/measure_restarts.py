"""Measure what survives PostgreSQL restarts under load (issue 19):

    python -m tests.store.measure_restarts [restarts] [down_s]

A live-style writer puts 5 events every 5 ms; a replay loop begins a run, puts 50 events,
flushes and finishes it, over and over; the server is stopped (immediate mode) and started
again `restarts` times, down `down_s` seconds each. Prints events put vs stored, duplicates,
runs left running and the writer's health counters."""

from __future__ import annotations

import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path

from tests.store.faultkit import RestartablePg, started_pg
from tests.store.test_store_faults import numbered
from vigil.store import Store


def main(restarts: int = 10, down_s: float = 4.0) -> None:
    server = started_pg(RestartablePg)
    try:
        store = Store(server.url(), spill_dir=Path(tempfile.mkdtemp()) / "spill", retry_window=60)
        live = store.begin_run("cam-live", "rtsp://cam", None, kind="live")
        w = store.writer(flush_interval=0.05)
        stop = threading.Event()
        put = Counter()
        errors: list[str] = []
        max_pending = 0

        def produce():
            n = 0
            while not stop.is_set():
                w.put(live, numbered(5, n, "cam-live"))
                n += 5
                put["cam-live"] += 5
                time.sleep(0.005)

        def replays():
            i = 0
            while not stop.is_set():
                try:
                    run = store.begin_run("cam-file", f"clip{i}.mp4", f"hash{i}")
                    w.put(run, numbered(50, i * 50, "cam-file"))
                    put["cam-file"] += 50
                    w.flush(timeout=60)
                    store.finish_run(run, "done", 50)
                except Exception as exc:  # noqa: BLE001 - counted and printed
                    errors.append(f"{type(exc).__name__}: {exc}")
                i += 1

        threads = [threading.Thread(target=produce), threading.Thread(target=replays)]
        for t in threads:
            t.start()
        t0 = time.monotonic()
        for _ in range(restarts):
            time.sleep(1.0)
            server.halt()
            time.sleep(down_s)
            max_pending = max(max_pending, w.pending)
            server.resume()
        time.sleep(1.0)
        stop.set()
        for t in threads:
            t.join()
        w.flush(timeout=120)
        store.finish_run(live, "stopped", 0)
        w.close()
        stored = Counter((e["camera"], e["track_id"]) for e in store.events(limit=None))
        running = [r["id"] for r in store.runs() if r["status"] == "running"]
        print(f"{restarts} restarts, {down_s:g} s down each, {time.monotonic() - t0:.0f} s in all")
        print(f"events put: {sum(put.values())}  stored: {sum(stored.values())}  distinct: {len(stored)}  "
              f"duplicates: {sum(n - 1 for n in stored.values())}")
        print(f"counts total: {sum(r['count'] for r in store.counts())}  runs: {len(store.runs())}  "
              f"left running: {len(running)}  errors in replay loop: {len(errors)} {errors[:3]}")
        print(f"writer: failures={w.failures} max pending={max_pending} written={w.written} "
              f"rejected={w.rejected} dropped={w.dropped}")
        store.close()
    finally:
        server.stop()


if __name__ == "__main__":
    main(*(int(sys.argv[1]),) if len(sys.argv) > 1 else (), *(float(sys.argv[2]),) if len(sys.argv) > 2 else ())
