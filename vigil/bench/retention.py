"""`vigil bench retention`: prune a synthetic store (N events over D days) to K days while an
event writer keeps counting, and check that counts by hour and day did not change.

The store is the one `vigil bench counts` generates (vigil/bench/count_queries.py). "Now" for
the cutoff is the end of the generated data, so (D - K) / D of the events go. The writer puts
`rate` events a second (stamped now, so retention keeps them) and its flush latency (put ->
committed) is measured for `baseline` seconds before pruning and throughout the pruning.
"""

from __future__ import annotations

import statistics
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime

from vigil.bench.count_queries import START, generate
from vigil.config.retention import RetentionConfig
from vigil.store.retention import DAY_S, Pruned, Retention
from vigil.store.store import Store
from vigil.types import CountEvent

QUERIES = [dict(by="day"), dict(by="day", tz="Europe/Berlin"), dict(by="hour", since="2026-03-01",
                                                                     until="2026-04-01"), dict()]


@dataclass
class Latencies:
    ms: list[float] = field(default_factory=list)

    def summary(self) -> dict:
        if not self.ms:
            return {"flushes": 0}
        s = sorted(self.ms)
        return {"flushes": len(s), "median_ms": round(statistics.median(s), 1),
                "p95_ms": round(s[int(0.95 * (len(s) - 1))], 1), "max_ms": round(s[-1], 1)}


def keep_counting(store: Store, rate: int, stop: threading.Event, marks: dict[str, Latencies],
                  phase: list[str]) -> None:
    """Put `rate` events a second in 10 puts, flushing each: the latency a live camera sees."""
    run = store.begin_run("bench-live", "synthetic", None, kind="live")
    with store.writer(flush_interval=0.1) as w:
        i = 0
        while not stop.is_set():
            evs = [CountEvent(camera_id="bench-live", kind="line", name="L1", class_name="car", direction="in",
                              track_id=i + k, time=datetime.now(UTC)) for k in range(max(1, rate // 10))]
            i += len(evs)
            t = time.perf_counter()
            w.put(run, evs)
            w.flush(60)
            marks.setdefault(phase[0], Latencies()).ms.append(1000 * (time.perf_counter() - t))
            stop.wait(max(0.0, 0.1 - (time.perf_counter() - t)))
    store.finish_run(run, "done", 0)


def run_bench(n_events: int, days: int, keep_days: int, rate: int, baseline: float, batch: int,
              log=print) -> dict:
    from vigil.bench.count_queries import default_path

    path = default_path(n_events, days, 2).with_name(f"vigil-bench-retention-{n_events}-{days}d.db")
    generate(path, n_events, days, 2, log=log).close()
    end = START.timestamp() + days * DAY_S
    cfg = RetentionConfig(events_days=keep_days, batch=batch)
    with Store(f"sqlite:///{path}") as store:
        before = [store.counts(**q) for q in QUERIES]
        marks: dict[str, Latencies] = {}
        phase, stop = ["baseline"], threading.Event()
        writer = threading.Thread(target=keep_counting, args=(store, rate, stop, marks, phase), daemon=True)
        writer.start()
        time.sleep(baseline)
        phase[0] = "pruning"
        log(f"pruning to {keep_days} days in batches of {batch:,} while counting {rate} events/s ...")
        done: Pruned = Retention(store.engine, cfg, clock=lambda: end).prune()
        phase[0] = "after"
        time.sleep(min(baseline, 5))
        stop.set()
        writer.join()
        after = [store.counts(**q) for q in QUERIES]
    live = [r for r in after[-1] if r["camera"] == "bench-live"]
    same = [[r for r in a if r["camera"] != "bench-live"] == b for a, b in zip(after, before)]
    return {"events": n_events, "days": days, "keep_days": keep_days, "deleted": done.rows,
            "prune_s": round(done.seconds, 1), "rows_per_s": round(done.total / max(done.seconds, 1e-9)),
            "counts_unchanged": dict(zip([str(q) for q in QUERIES], same)),
            "live_events_written": sum(r["count"] for r in live),
            "writer_flush": {k: v.summary() for k, v in marks.items()}}
