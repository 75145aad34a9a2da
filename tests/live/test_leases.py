"""Camera leases on a real PostgreSQL: shares, takeover of a dead worker's cameras, giving
cameras up when the database is cut off. The keepers are ticked by hand (no threads), so each
step is deterministic; the 3-worker end-to-end case is in test_workers_takeover.py."""

from __future__ import annotations

import threading
import time
from datetime import datetime, timezone

import pytest
import sqlalchemy as sa

from tests.support.rtsp_harness import wait_for as wait
from vigil.live.leases import CameraLeases, LeaseKeeper
from vigil.store import Store
from vigil.store.schema import runs

pytestmark = pytest.mark.postgres

CAMS = [f"c{i}" for i in range(5)]


def keeper(store: Store, name: str, capacity: int, ttl: float = 3.0) -> LeaseKeeper:
    return LeaseKeeper(CameraLeases(store.engine, "site", name, ttl), CAMS, capacity, ttl=ttl, renew_every=ttl / 3)


def tick_all(*keepers: LeaseKeeper, rounds: int = 1) -> None:
    for _ in range(rounds):
        for k in keepers:
            k.tick()


def test_workers_share_the_cameras_disjointly_within_capacity(pg_url):
    with Store(pg_url) as store:
        a, b, c = keeper(store, "a", 4), keeper(store, "b", 4), keeper(store, "c", 1)
        tick_all(a, b, c, rounds=3)
        held = [a.wanted(), b.wanted(), c.wanted()]
        assert set().union(*held) == set(CAMS)
        assert sum(len(h) for h in held) == len(CAMS)  # disjoint
        assert len(held[2]) <= 1  # never above its capacity
        assert CameraLeases(store.engine, "site", "x", 3).holders() == {cam: o for o, h in zip("abc", held)
                                                                       for cam in h}


def test_a_new_worker_gets_cameras_handed_over(pg_url):
    with Store(pg_url) as store:
        a = keeper(store, "a", 5)
        tick_all(a, rounds=2)
        assert a.wanted() == set(CAMS)
        b = keeper(store, "b", 5)
        for _ in range(6):  # a hands one camera a round; the daemon reports it stopped
            tick_all(a, b)
            for cam in list(a._handing_over):
                a.stopped(cam, a.handover(cam))
        assert len(a.wanted()) == 3 and len(b.wanted()) == 2 and not a.wanted() & b.wanted()


def test_a_dead_workers_cameras_are_taken_over_after_the_ttl(pg_url):
    with Store(pg_url) as store:
        a, b = keeper(store, "a", 5), keeper(store, "b", 5)
        tick_all(a, b, rounds=3)
        lost = set(a.wanted())
        assert lost and len(b.wanted()) < len(CAMS)
        dead_runs = [store.begin_run(cam, "rtsp://x", None, kind="live") for cam in sorted(lost)]
        t0 = time.monotonic()
        while not lost <= b.wanted():  # a no longer ticks: as after kill -9
            assert time.monotonic() - t0 < 3.0 + 2.0, "not taken over within ttl + one renewal"
            time.sleep(0.2)
            b.tick()
        took = time.monotonic() - t0
        assert b.wanted() == set(CAMS)
        with store.engine.connect() as conn:
            st = dict(conn.execute(sa.select(runs.c.id, runs.c.status).where(runs.c.id.in_(dead_runs))).all())
        assert set(st.values()) == {"interrupted"}  # the new owner closed the dead worker's runs
        a.tick()  # a comes back: its leases are gone, it does not run them
        assert not (a.wanted() & b.wanted())
        print(f"\ntakeover after {took:.1f} s (ttl 3 s)")


def test_a_worker_cut_off_from_postgres_gives_its_cameras_up(restartable_pg):
    with Store(restartable_pg.url()) as store:
        a = keeper(store, "a", 5)
        tick_all(a, rounds=2)
        assert a.wanted() == set(CAMS)
        restartable_pg.halt()
        try:
            t0 = time.monotonic()
            while a.wanted():
                assert time.monotonic() - t0 < 3.0, "still counting cameras it may no longer own"
                a.tick()
                time.sleep(0.2)
            gave_up = time.monotonic() - t0
        finally:
            restartable_pg.resume()
        assert gave_up < 3.0 - 1.0 + 0.5  # ttl - margin, before the server frees the cameras
        for _ in range(20):  # back: the leases have run out, it takes its cameras again
            time.sleep(0.3)
            a.tick()
            if a.wanted() == set(CAMS):
                break
        assert a.wanted() == set(CAMS)


def test_leases_refuse_sqlite(tmp_path):
    with Store(f"sqlite:///{tmp_path}/v.db") as store, pytest.raises(ValueError, match="PostgreSQL"):
        CameraLeases(store.engine, "site", "a", 10)


def test_a_worker_with_no_free_camera_says_so_once(pg_url, caplog):
    with Store(pg_url) as store:
        a, b = keeper(store, "a", 5), keeper(store, "b", 5)
        tick_all(a, rounds=2)
        with caplog.at_level("WARNING", logger="vigil.live"):
            tick_all(b, rounds=3)
        said = [r.getMessage() for r in caplog.records if "no free camera" in r.getMessage()]
        assert said == ["no free camera: all 5 cameras of site 'site' are held by other workers; standing by to "
                        "take over"]
        assert not b.wanted()


def site_yaml(tmp_path) -> str:
    (tmp_path / "p.yaml").write_text("detector: {weights: none.onnx}\n")
    path = tmp_path / "site.yaml"
    path.write_text("site: s\npipeline: p.yaml\nlive: {leases: {enabled: true}}\n"
                    "cameras:\n  - {id: a, source: 'rtsp://127.0.0.1:9/a'}\n")
    return str(path)


@pytest.mark.parametrize("db,says", [
    ("sqlite:///{tmp}/v.db", "live.leases.enabled in"),
    ("postgresql+psycopg://vigil:secret@127.0.0.1:9/vigil", "cannot open database"),
])
def test_run_with_leases_on_a_bad_database_says_so_in_one_line(tmp_path, capsys, db, says):
    from vigil.cli import main

    assert main(["run", site_yaml(tmp_path), "--db", db.format(tmp=tmp_path)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and says in err and "secret" not in err, err


def test_the_daemon_stops_counting_when_postgres_is_cut_off_and_loses_nothing(restartable_pg, tmp_path):
    """The daemon loop itself (stand-in frames and detector, real store, keeper and PostgreSQL):
    cameras stop before their leases could be taken, no event is counted while unowned, every
    event counted is stored, and the cameras come back with new runs."""
    from tests.live.test_live_units import CountingDetector
    from vigil.live.daemon import LiveDaemon
    from vigil.pipeline.round import AnalysisRound

    with Store(restartable_pg.url(), spill_dir=tmp_path) as store:
        ready, reader_stop, make_camera = fresh_start(store)

        ttl = 3.0
        k = LeaseKeeper(CameraLeases(store.engine, "site", "w1", ttl), ["a", "b"], 2, ttl=ttl, renew_every=1.0)
        emitted: list = []
        daemon = LiveDaemon([], AnalysisRound(CountingDetector()), store, ready=ready, reader_stop=reader_stop,
                            leases=k, make_camera=make_camera, on_events=emitted.extend)
        stop = threading.Event()
        loop = threading.Thread(target=daemon.run, args=(stop,))
        loop.start()
        try:
            assert wait(lambda: {c.camera_id for c in daemon.cameras} == {"a", "b"} and len(emitted) > 10, 15)
            restartable_pg.halt()
            cut = datetime.now(timezone.utc)
            t0 = time.monotonic()
            assert wait(lambda: not daemon.cameras, ttl), "still counting cameras it may no longer own"
            gave_up = time.monotonic() - t0
            stopped_at = datetime.now(timezone.utc)
            time.sleep(1.0)
            late = [e for e in emitted if e.kind == "line" and e.time > stopped_at]
            assert not late  # nothing counted while unowned
            restartable_pg.resume()
            assert wait(lambda: {c.camera_id for c in daemon.cameras} == {"a", "b"}, 20), "cameras not retaken"
            assert wait(lambda: any(e.time > stopped_at for e in emitted), 10)
        finally:
            stop.set()
            loop.join(60)
        assert not loop.is_alive()
        runs_ = store.runs()
        assert sorted(r["camera_id"] for r in runs_) == ["a", "a", "b", "b"]  # a new run after the cut
        first = [r for r in runs_ if r["id"] in sorted(r2["id"] for r2 in runs_)[:2]]
        # released by the worker itself, or (when that write fell into the outage) closed as
        # interrupted at its last heartbeat by the takeover: either way ended before the cut-off
        assert {r["status"] for r in first} <= {"released", "interrupted"}, first
        assert all(r["finished_us"] <= stopped_at.timestamp() * 1e6 for r in first)
        stored = store.events(limit=None)
        assert len(stored) == len(emitted)  # everything counted before and after the cut is stored
        print(f"\ngave up {gave_up:.1f} s after PostgreSQL went away (ttl {ttl:g} s); cut at {cut:%T}")


class SlowReleaseWorker:
    """A daemon (worker w1, cameras a and b, stand-in frames and detector) on a real store whose
    write of a `released` run takes 2.5 s: the slow write that opened the hand-over races."""

    def __init__(self, store: Store, ttl: float = 3.0) -> None:
        from tests.live.test_live_units import CountingDetector
        from vigil.live.daemon import LiveDaemon
        from vigil.pipeline.round import AnalysisRound

        ready, reader_stop, make_camera = fresh_start(store)
        finish_run = store.finish_run

        def slow_release(run_id, status, *a, **kw):
            if status == "released":
                time.sleep(2.5)
            finish_run(run_id, status, *a, **kw)

        store.finish_run = slow_release  # type: ignore[method-assign]
        self.store, self.cams = store, ["a", "b"]
        keeper = LeaseKeeper(CameraLeases(store.engine, "site", "w1", ttl), self.cams, 2, ttl=ttl, renew_every=0.5)
        self.daemon = LiveDaemon([], AnalysisRound(CountingDetector()), store, ready=ready, reader_stop=reader_stop,
                                 leases=keeper, make_camera=make_camera)
        self.other = LeaseKeeper(CameraLeases(store.engine, "site", "w2", ttl), self.cams, 2, ttl=ttl,
                                 renew_every=0.5)
        self.stop = threading.Event()
        self.loop = threading.Thread(target=self.daemon.run, args=(self.stop,))
        self.loop.start()
        assert wait(lambda: self.running() == set(self.cams), 15)

    def running(self) -> set[str]:
        return {c.camera_id for c in self.daemon.cameras}

    def statuses(self, camera: str) -> list[str]:
        with self.store.engine.connect() as conn:
            return list(conn.execute(sa.select(runs.c.status).where(runs.c.camera_id == camera)).scalars())

    def close(self) -> None:
        self.stop.set()
        self.loop.join(60)
        assert not self.loop.is_alive()


def test_a_handed_over_camera_is_released_only_after_its_run_is_marked(pg_url, tmp_path):
    """A camera handed to a new worker: its run is `released` in the store before the lease is
    handed back, even when that write is slow, so the new owner never finds the run still
    running and marks it `interrupted` (it did while the lease was released first)."""
    with Store(pg_url, spill_dir=tmp_path) as store:
        w = SlowReleaseWorker(store)
        try:
            t0 = time.monotonic()
            while not w.other.wanted():  # a second worker joins: w1 hands one camera over
                assert time.monotonic() - t0 < 15, "no camera handed over"
                w.other.tick()
                time.sleep(0.2)
            (moved,) = w.other.wanted()
            assert w.statuses(moved) == ["released"]  # already, the moment the new owner holds it
            assert moved not in w.running()
        finally:
            w.close()


def test_stopping_the_worker_mid_handover_still_marks_the_run_before_the_lease_goes(pg_url, tmp_path):
    """SIGTERM while a handed-over camera's run is being marked: shutdown waits for that write
    before it lets its leases go, so the next owner finds the run released, not running."""
    with Store(pg_url, spill_dir=tmp_path) as store:
        w = SlowReleaseWorker(store)
        try:
            w.other.tick()  # a second worker: w1 hands one camera over
            assert wait(lambda: len(w.running()) == 1, 15)
            (moved,) = set(w.cams) - w.running()
        finally:
            w.close()  # while that camera's run is still being marked
        w.other.tick()
        w.other.tick()
        assert moved in w.other.wanted()
        assert w.statuses(moved) == ["released"]


def test_a_late_word_about_an_earlier_handover_does_not_release_the_camera_won_again(pg_url):
    with Store(pg_url) as store:
        with store.engine.begin() as conn:
            conn.execute(sa.text("DELETE FROM camera_leases; DELETE FROM lease_workers"))
        ttl = 1.5
        a = LeaseKeeper(CameraLeases(store.engine, "site", "a", ttl), CAMS, 5, ttl=ttl, renew_every=0.5)
        b = LeaseKeeper(CameraLeases(store.engine, "site", "b", ttl), CAMS, 5, ttl=ttl, renew_every=0.5)
        tick_all(a, a, b, a)
        assert list(a._handing_over) == ["c4"]
        first = a.handover("c4")  # the daemon stops c4; its run's write hangs in the outage below
        beat = a.leases.beat
        a.leases.beat = lambda cap: (_ for _ in ()).throw(OSError("connection refused"))  # type: ignore
        time.sleep(ttl)
        a.tick()
        assert a.wanted() == set()  # cut off: gave everything up
        a.leases.beat = beat  # type: ignore[method-assign]
        time.sleep(ttl)
        a.tick()
        assert a.wanted() == set(CAMS)  # back, and won everything again (b's share came later)
        tick_all(b, a)
        assert list(a._handing_over) == ["c4"] and a.handover("c4") != first  # a second hand-over
        a.stopped("c4", first)  # the first hand-over's thread finally reports
        a.tick()
        assert CameraLeases(store.engine, "site", "x", ttl).holders()["c4"] == "a"  # not released early


def test_a_camera_that_cannot_start_is_given_back_and_not_retaken_at_once(pg_url):
    with Store(pg_url) as store:
        with store.engine.begin() as conn:
            conn.execute(sa.text("DELETE FROM camera_leases; DELETE FROM lease_workers"))
        a = keeper(store, "a", 5)
        tick_all(a, rounds=2)
        assert "c0" in a.wanted()
        a.give_back("c0")  # its run could not be begun
        assert "c0" not in a.wanted()
        tick_all(a, rounds=2)
        assert "c0" not in a.wanted() and "c0" not in CameraLeases(store.engine, "site", "x", 3).holders()
        b = keeper(store, "b", 5)
        tick_all(b, rounds=2)
        assert "c0" in b.wanted()  # free for another worker meanwhile


def fresh_start(store: Store):
    """No leases or workers of earlier tests; stand-in cameras (10 fps readers, one event a frame)."""
    from tests.live.test_live_units import EveryFramePipeline, FakeReader
    from vigil.live.daemon import LiveCamera
    from vigil.sources.factory import Feed
    from vigil.sources.rtsp import LatestFrameSlot

    with store.engine.begin() as conn:
        conn.execute(sa.text("DELETE FROM camera_leases; DELETE FROM lease_workers"))
    ready, reader_stop = threading.Event(), threading.Event()

    def make_camera(cam: str) -> LiveCamera:
        stop, slot = threading.Event(), LatestFrameSlot(ready)
        feed = Feed(cam, f"rtsp://host/{cam}", [FakeReader(cam, slot, stop, 10_000, 10.0)], slot)
        return LiveCamera(feed, EveryFramePipeline(cam), stop=stop)

    return ready, reader_stop, make_camera

