"""Measure what serialising outbox writers per camera costs on PostgreSQL (review s25, finding 4):

    python -m tests.store.measure_outbox_writes [rounds] [seconds]

A throwaway PostgreSQL (tests/pg_fixture.py). Four writer threads store batches of 50 events
with outbox rows (write_events, as EventWriter does), either all on one camera (they now take
turns on its row) or each on its own camera (no contention), for `seconds` per arm. Each round
runs both arms without the camera lock ("before": the lock made a no-op) and with it ("after"),
interleaved, so the two see the same machine load. Prints events/s and the median batch
latency per arm (median over the rounds) and the load average."""

from __future__ import annotations

import statistics
import sys
import threading
import time
from datetime import UTC, datetime

from tests.store.faultkit import started_pg
from vigil.store import Store
from vigil.store import writer as writer_mod
from vigil.types import CountEvent

THREADS, BATCH = 4, 50


def arm(store: Store, runs: list[int], cams: list[str], seconds: float) -> tuple[float, float]:
    stop, lat, n = threading.Event(), [], [0]
    lock = threading.Lock()

    def work(k: int) -> None:
        ids, track = writer_mod.SeriesIds(), 0
        while not stop.is_set():
            now = datetime.now(UTC)
            evs = [CountEvent(cams[k], "line", "L1", track + i, "car", "in" if i % 2 else "out", now)
                   for i in range(BATCH)]
            track += BATCH
            t0 = time.perf_counter()
            done = writer_mod.write_events(store.engine, ids, [(runs[k], e) for e in evs], outbox=True)
            with lock:
                lat.append(time.perf_counter() - t0)
                n[0] += done.stored

    threads = [threading.Thread(target=work, args=(k,)) for k in range(THREADS)]
    t0 = time.monotonic()
    for t in threads:
        t.start()
    time.sleep(seconds)
    stop.set()
    for t in threads:
        t.join()
    return n[0] / (time.monotonic() - t0), statistics.median(lat) * 1000


def main(rounds: int = 3, seconds: float = 5.0) -> None:
    server = started_pg()
    real = writer_mod._serialise_outbox
    try:
        store = Store(server.url(), outbox=True)
        layouts = {"one camera": ["cam0"] * THREADS, "own camera each": [f"cam{k}" for k in range(THREADS)]}
        runs = {name: [store.begin_run(c, "rtsp://x", None, kind="live") for c in cams]
                for name, cams in layouts.items()}
        results: dict[tuple[str, str], list[tuple[float, float]]] = {}
        for r in range(rounds):
            for name, cams in layouts.items():
                for when in ("before", "after"):
                    writer_mod._serialise_outbox = real if when == "after" else (lambda conn, cams: None)
                    results.setdefault((name, when), []).append(arm(store, runs[name], cams, seconds))
            print(f"round {r + 1}/{rounds} done, load {open('/proc/loadavg').read().split()[:3]}", flush=True)
        print(f"{THREADS} writer threads, {BATCH} events a batch with outbox rows, {seconds:g} s an arm, "
              f"median of {rounds} rounds")
        for (name, when), got in results.items():
            print(f"  {name:16s} {when:6s}: {statistics.median(g[0] for g in got):8.0f} events/s, "
                  f"batch {statistics.median(g[1] for g in got):6.1f} ms  (rounds: "
                  f"{', '.join(f'{g[0]:.0f}' for g in got)})")
        print("load average:", open("/proc/loadavg").read().strip())
        store.close()
    finally:
        writer_mod._serialise_outbox = real
        server.stop()


if __name__ == "__main__":
    main(*(float(a) if i else int(a) for i, a in enumerate(sys.argv[1:])))
