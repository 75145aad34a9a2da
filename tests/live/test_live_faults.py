"""Fault injection on the live daemon, all parts real: two cameras on loopback RTSP servers,
the real detector and tracker, events into a real PostgreSQL (and, for a full disk, SQLite on a
small tmpfs). PostgreSQL is stopped and started several times, a camera's server is killed and
brought back, the disk fills and is freed. At the end every event the counters emitted is in the
database exactly once (compared with the counters' own tally) and no run is left `running`.

Each test prints a one-line report: faults injected per kind, events emitted, stored, duplicates,
lost, runs left running."""

from __future__ import annotations

import time
from collections import Counter
from pathlib import Path

import pytest

from tests.live.conftest import write_site
from tests.live.daemonkit import InProcess
from tests.support.rtsp_harness import wait_for
from tests.support.tmpfs import mount_or_skip

pytestmark = [pytest.mark.rtsp, pytest.mark.slow, pytest.mark.postgres]

# A zone over the whole picture: every confirmed track enters it, so the counters emit events
# all through the run, not only at the few line crossings.
ZONE = "[{name: all, polygon: [[0, 0], [639, 0], [639, 359], [0, 359]]}]"


def key(e) -> tuple:
    return (e.camera_id, e.kind, e.name, e.class_name, e.direction, e.track_id,
            int(e.time.timestamp() * 1e6))


def stored_keys(store) -> list[tuple]:
    rows = store.events(limit=None)
    from datetime import datetime

    out = []
    for r in rows:
        t = r["time"] if isinstance(r["time"], datetime) else datetime.fromisoformat(r["time"])
        out.append((r["camera"], r["kind"], r["name"], r["class_name"], r["direction"], r["track_id"],
                    int(t.timestamp() * 1e6)))
    return out


def report(name: str, faults: Counter, emitted: list, store, writer) -> tuple[int, int, int, int]:
    want, got = Counter(map(key, emitted)), Counter(stored_keys(store))
    duplicates = sum(n - 1 for n in got.values() if n > 1)
    lost = sum((want - got).values())
    running = sum(1 for r in store.runs() if r["status"] == "running")
    print(f"\n[{name}] faults {dict(faults)}; events emitted {len(emitted)}, stored {sum(got.values())}, "
          f"duplicates {duplicates}, lost {lost}, unexpected {sum((got - want).values())}, "
          f"runs left running {running}; failed write attempts the writer rode out {writer.failures}")
    return duplicates, lost, sum((got - want).values()), running


def sites_with_zone(tmp_path: Path, cameras: dict[str, str], db: str) -> Path:
    site = write_site(tmp_path, cameras, live="backoff: {initial: 0.5, maximum: 2}, flush_interval: 0.5", db=db)
    text = site.read_text().replace("in_side: right}]}", f"in_side: right}}], zones: {ZONE}}}")
    site.write_text(text)
    return site


def test_postgres_restarts_and_a_dying_camera_lose_and_double_nothing(tmp_path, rtsp, clip5, stages, restartable_pg):
    srv_a, srv_b = rtsp({"cam": clip5}), rtsp({"cam": clip5})
    site = sites_with_zone(tmp_path, {"a": srv_a.url("cam"), "b": srv_b.url("cam")}, restartable_pg.url())
    faults: Counter = Counter()
    with InProcess(site, stages) as run:
        assert wait_for(lambda: len(run.emitted) >= 2, 60), run.daemon.snapshot()
        for _ in range(3):  # the database goes away while both cameras keep counting
            restartable_pg.halt()  # as a crash: clients cut off, in-flight transactions lost
            faults["postgres_stop"] += 1
            before = len(run.emitted)
            wait_for(lambda before=before: len(run.emitted) > before, 6)
            time.sleep(1)
            restartable_pg.resume()
            time.sleep(2)
        srv_a.kill()  # a camera dies and comes back; the other runs on
        faults["rtsp_kill"] += 1
        time.sleep(3)
        srv_a.start()
        assert wait_for(lambda: run.daemon.cameras[0].feed.stats.state == "streaming", 30)
        time.sleep(2)
    duplicates, lost, unexpected, running = report("postgres+rtsp", faults, run.emitted, run.store, run.daemon.writer)
    assert len(run.emitted) >= 5 and run.daemon.writer.failures >= 1  # the outages were felt
    assert (duplicates, lost, unexpected, running) == (0, 0, 0, 0)


def test_a_full_disk_loses_and_doubles_nothing(tmp_path, rtsp, clip5, stages):
    with mount_or_skip(tmp_path / "disk", "2m") as disk:
        srv = rtsp({"cam": clip5})
        site = sites_with_zone(tmp_path, {"a": srv.url("cam")}, f"sqlite:///{disk.path}/v.db")
        faults: Counter = Counter()
        with InProcess(site, stages) as run:
            assert wait_for(lambda: len(run.emitted) >= 1, 60), run.daemon.snapshot()
            disk.fill()  # to the last byte
            faults["disk_full"] += 1
            before = len(run.emitted)
            wait_for(lambda: len(run.emitted) >= before + 2, 20)
            disk.free()  # space comes back
            time.sleep(3)
        duplicates, lost, unexpected, running = report("disk full", faults, run.emitted, run.store, run.daemon.writer)
        assert run.daemon.writer.failures >= 1  # the full disk was felt
        assert (duplicates, lost, unexpected, running) == (0, 0, 0, 0)
