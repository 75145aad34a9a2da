"""`vigil serve` under a heavy query mix: is /healthz still quick, are answers capped, does
the server's memory stay bounded?

    python -m vigil.bench.api_load --events 1000000 --clients 6 --seconds 45

Builds (or reuses) a synthetic SQLite store with vigil.bench.count_queries (the store's bulk writer
path: one INSERT, then the aggregates rebuilt), starts a real `python -m vigil serve` process
on loopback, and runs --clients threads that each loop over MIX (minute buckets over a month,
hour buckets in Berlin, 15-minute buckets in Kolkata, full pages of events, CSV) while one
more thread asks /healthz every 50 ms on its own connection and another samples the server's
RSS. Prints one JSON object: /healthz p50/p99/max, per-query latency, status and the largest
answer, server RSS at start and peak. --vigil PATH serves another checkout (e.g. the old code).
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import statistics
import subprocess
import sys
import time
from collections import defaultdict
from pathlib import Path

import httpx
import psutil

from vigil.bench import count_queries as bench
from vigil.bench.serving import wait_healthy

REPO = Path(__file__).resolve().parents[2]  # the checkout this module belongs to

MIX = [
    ("minute, whole month", "/api/counts", {"by": "minute"}),
    ("hour, Europe/Berlin", "/api/counts", {"by": "hour", "tz": "Europe/Berlin"}),
    ("15min, Asia/Kolkata", "/api/counts", {"by": "15min", "tz": "Asia/Kolkata"}),
    ("day, America/New_York", "/api/counts", {"by": "day", "tz": "America/New_York"}),
    ("minute, 1 camera+class, 1 day", "/api/counts", {"by": "minute", "camera": "cam1", "class": "car",
                                                       "since": "2026-01-12", "until": "2026-01-13"}),
    ("totals", "/api/counts", {}),
    ("events, 10000", "/api/events", {"limit": "10000"}),
    ("events CSV, cam1 from a date", "/api/events", {"limit": "10000", "format": "csv", "camera": "cam1",
                                                      "since": "2026-01-20T08:00"}),
]


def pct(xs: list[float], q: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(q * len(xs)))] if xs else float("nan")


def probe(base: str, until: float) -> tuple[list[float], int]:
    """/healthz every 50 ms on its own connection: latencies in ms, and failures."""
    ms, failed = [], 0
    with httpx.Client(base_url=base, timeout=30) as c:
        while time.time() < until:
            t = time.perf_counter()
            try:
                failed += c.get("/healthz").status_code != 200
            except httpx.HTTPError:
                failed += 1
            ms.append((time.perf_counter() - t) * 1000)
            time.sleep(0.05)
    return ms, failed


def client(base: str, until: float, i: int) -> dict[str, list[tuple[int, int, float]]]:
    """MIX in turn, from entry i on: (status, bytes, seconds) per query label."""
    out: dict[str, list] = defaultdict(list)
    with httpx.Client(base_url=base, timeout=300) as c:
        k = i
        while time.time() < until:
            label, route, params = MIX[k % len(MIX)]
            k += 1
            t = time.perf_counter()
            size = 0
            try:
                with c.stream("GET", route, params=params) as r:
                    for chunk in r.iter_bytes():
                        size += len(chunk)
                    status = r.status_code
            except httpx.HTTPError:
                status = -1
            out[label].append((status, size, time.perf_counter() - t))
    return dict(out)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--events", type=int, default=1_000_000)
    ap.add_argument("--days", type=int, default=30)
    ap.add_argument("--clients", type=int, default=6)
    ap.add_argument("--seconds", type=float, default=45)
    ap.add_argument("--port", type=int, default=8765)
    ap.add_argument("--vigil", type=Path, default=REPO, help="checkout whose `vigil serve` to run")
    args = ap.parse_args()

    path = bench.default_path(args.events, args.days, 2)
    bench.generate(path, args.events, args.days, 2, log=lambda m: print(m, file=sys.stderr)).close()
    env = {**os.environ, "PYTHONPATH": str(args.vigil)}
    env.pop("VIGIL_API_TOKEN", None)
    server = subprocess.Popen([sys.executable, "-m", "vigil", "serve", "--db", f"sqlite:///{path}",
                               "--port", str(args.port)], cwd=args.vigil, env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://localhost:{args.port}"
    try:
        try:
            wait_healthy(base, server)
        except RuntimeError as e:
            raise SystemExit(f"vigil serve did not come up: {e}") from e
        proc = psutil.Process(server.pid)
        rss_start = proc.memory_info().rss
        rss_peak = rss_start
        until = time.time() + args.seconds
        t0 = time.monotonic()
        # Clients and the probe are processes of their own, so their GILs do not add to what is measured.
        with multiprocessing.Pool(args.clients + 1) as pool:
            probe_run = pool.apply_async(probe, (base, until))
            client_runs = [pool.apply_async(client, (base, until, i)) for i in range(args.clients)]
            while time.time() < until + 1 or not all(r.ready() for r in client_runs):
                rss_peak = max(rss_peak, proc.memory_info().rss)
                time.sleep(0.05)
            health, health_fail = probe_run.get()
            results: dict[str, list] = defaultdict(list)
            for r in client_runs:
                for label, rows in r.get().items():
                    results[label] += rows
        wall = time.monotonic() - t0
    finally:
        server.terminate()
        server.wait(30)

    out = {
        "events": args.events, "clients": args.clients, "seconds": round(wall, 1), "vigil": str(args.vigil),
        "load_avg_1m": round(os.getloadavg()[0], 1), "cpus": os.cpu_count(),
        "healthz_ms": {"n": len(health), "p50": round(statistics.median(health), 1),
                       "p99": round(pct(health, 0.99), 1), "max": round(max(health), 1), "failed": health_fail},
        "server_rss_mb": {"start": round(rss_start / 2**20), "peak": round(rss_peak / 2**20)},
        "max_answer_mb": round(max((s for rs in results.values() for _, s, _ in rs), default=0) / 2**20, 2),
        "queries": {label: {"n": len(rs), "status": sorted({s for s, _, _ in rs}),
                            "max_mb": round(max(s for _, s, _ in rs) / 2**20, 2),
                            "p50_s": round(statistics.median(t for _, _, t in rs), 2),
                            "p95_s": round(pct([t for _, _, t in rs], 0.95), 2)}
                    for label, rs in results.items()},
    }
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
