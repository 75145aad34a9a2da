"""Scale 1 -> 2 -> 3 workers over 6 cameras with the default lease settings (ttl 10 s, renew
2 s): seconds until every worker runs its fair share. Lease keepers on a throwaway PostgreSQL
(tests/pg_fixture.py); the stand-in daemon stops a handed-over camera at once (no video), so the
figures are the lease bookkeeping alone, without opening streams.

    python bench/lease_scaling.py [--rounds 3]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.pg_fixture import PgServer, find_pg_bin  # noqa: E402
from vigil.live.leases import CameraLeases, LeaseKeeper  # noqa: E402
from vigil.store import Store  # noqa: E402

CAMS = [f"c{i}" for i in range(6)]


def one_round(url: str) -> dict[str, float]:
    store = Store(url)
    keepers: list[LeaseKeeper] = []
    stop = threading.Event()

    def daemon() -> None:  # what LiveDaemon.follow_leases does, minus the cameras
        while not stop.is_set():
            for k in keepers:
                for cam in list(k._handing_over):
                    k.stopped(cam)
            time.sleep(0.05)

    def add(name: str) -> LeaseKeeper:
        k = LeaseKeeper(CameraLeases(store.engine, "s", name, 10), CAMS, 6, ttl=10, renew_every=2)
        keepers.append(k)
        k.start()
        return k

    threading.Thread(target=daemon, daemon=True).start()
    out = {}
    t0 = time.monotonic()
    first = add("w1")
    while len(first.wanted()) < len(CAMS):
        time.sleep(0.05)
    out["1 worker holds 6"] = time.monotonic() - t0
    for n in (2, 3):
        add(f"w{n}")
        t0 = time.monotonic()
        while sorted(len(k.wanted()) for k in keepers) != [len(CAMS) // n] * n:
            time.sleep(0.05)
        out[f"{n - 1} -> {n} workers balanced"] = time.monotonic() - t0
    stop.set()
    for k in keepers:
        k.stop()
    store.close()
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    bindir = find_pg_bin()
    if bindir is None:
        print("PostgreSQL server binaries not found (Debian's postgresql package)", file=sys.stderr)
        return 2
    srv = PgServer(bindir, "postgres" if os.geteuid() == 0 else None)
    srv.start()
    try:
        rounds = [one_round(srv.create_database()) for _ in range(args.rounds)]
    finally:
        srv.stop()
    for key in rounds[0]:
        print(f"{key}: median {statistics.median(r[key] for r in rounds):.1f} s "
              f"({', '.join(f'{r[key]:.1f}' for r in rounds)})")
    print("load average:", " ".join(open("/proc/loadavg").read().split()[:3]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
