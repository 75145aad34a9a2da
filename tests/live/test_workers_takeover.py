"""Three `vigil run` workers share six loopback RTSP cameras through leases on one real
PostgreSQL; one is killed with SIGKILL and its cameras move to the others.

The cameras are shared RTSP mounts (one pipeline per mount, like a real camera seen by several
viewers), so a single-process reference `vigil run` (SQLite, no leases) watches the very same
streams at the same time: the workers' counts are compared with it camera by camera, and the
loss on a moved camera with the crossings the reference counted in the takeover gap."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from tests.live.conftest import write_site
from tests.support.data import VIDEO, need
from tests.support.rtsp_harness import RtspServer, prepare_clip, wait_for
from vigil.store import Store

pytestmark = [pytest.mark.rtsp, pytest.mark.slow, pytest.mark.postgres]

N_CAMS, N_WORKERS, TTL = 6, 3, 8.0
# The clip is served this many times slower than recorded (every frame analysed live). A loaded
# CPU drops frames at 15 (then the count comparison is skipped); VIGIL_TAKEOVER_SLOWDOWN=60 gives
# every process four times the time per frame, and the waits grow to match.
SLOWDOWN = int(os.environ.get("VIGIL_TAKEOVER_SLOWDOWN", "15"))
STRETCH = SLOWDOWN / 15


def start(site: Path, tmp_path: Path, name: str, db: str) -> subprocess.Popen:
    env = {**os.environ, "YOLO_OFFLINE": "1", "PYTHONUNBUFFERED": "1"}
    log = open(tmp_path / f"{name}.log", "w")  # noqa: SIM115 - closed with the process
    return subprocess.Popen([sys.executable, "-m", "vigil", "run", str(site), "--db", db, "--status-file",
                             str(tmp_path / f"{name}.json"), "--log-format", "json"],
                            cwd=tmp_path, env=env, stdout=log, stderr=subprocess.STDOUT, text=True)


def start_ref(site: Path, tmp_path: Path, db: str, cameras: list[str]) -> subprocess.Popen:
    env = {**os.environ, "YOLO_OFFLINE": "1", "PYTHONUNBUFFERED": "1"}
    log = open(tmp_path / "ref.log", "w")  # noqa: SIM115 - closed with the process
    return subprocess.Popen([sys.executable, "-m", "vigil", "run", str(site), "--db", db, "--status-file",
                             str(tmp_path / "ref.json"), "--log-format", "json",
                             *(a for c in cameras for a in ("--camera", c))],
                            cwd=tmp_path, env=env, stdout=log, stderr=subprocess.STDOUT, text=True)


def status(tmp_path: Path, name: str) -> dict:
    try:
        return json.loads((tmp_path / f"{name}.json").read_text())
    except (OSError, ValueError):
        return {}


def analysing(snap: dict) -> set[str]:
    """Cameras of a worker that hold a lease and have analysed frames."""
    held = set(snap.get("leases", {}).get("held", []))
    return {c["camera"] for c in snap.get("cameras", []) if c["camera"] in held and c["frames_processed"] > 0}


def stop_all(procs: list[subprocess.Popen]) -> None:
    for p in procs:
        if p.poll() is None:
            p.send_signal(signal.SIGTERM)
    for p in procs:
        try:
            p.wait(60)
        except subprocess.TimeoutExpired:
            p.kill()


def overlaps(runs: list[dict]) -> list[tuple[int, int]]:
    """Pairs of runs of one camera whose [start, end] intervals overlap (end: finished, else heartbeat)."""
    bad = []
    by_cam: dict[str, list[dict]] = {}
    for r in runs:
        by_cam.setdefault(r["camera_id"], []).append(r)
    for rs in by_cam.values():
        rs.sort(key=lambda r: r["started_us"])
        for a, b in zip(rs, rs[1:]):
            end = a["finished_us"] or a["heartbeat_us"] or a["started_us"]
            if end > b["started_us"]:
                bad.append((a["id"], b["id"]))
    return bad


def dropped(snap: dict, cams: set[str]) -> int:
    return sum(c["dropped_frames"] for c in snap.get("cameras", []) if c["camera"] in cams)


def test_three_workers_share_six_cameras_and_take_over_a_killed_ones(tmp_path, gst, pg_server):
    # 4 s of traffic at 15 fps served 15x slower (every frame analysed live), 4 times: 240 s.
    clip = prepare_clip(need(VIDEO / "saoyan_test.mp4"), fps=15, seconds=4, slowdown=SLOWDOWN, loops=4)
    srv = RtspServer({f"m{i}": clip for i in range(N_CAMS)}, shared=True).start()
    cams = {f"c{i}": srv.url(f"m{i}") for i in range(N_CAMS)}
    pg = pg_server.create_database()
    (tmp_path / "ref").mkdir()
    ref_db = f"sqlite:///{tmp_path}/ref/ref.db"
    tracker = f"{{max_lost_seconds: {SLOWDOWN}}}"  # the clip's time is stretched too
    ref_site = write_site(tmp_path / "ref", cams, db=ref_db, live="status_interval: 0.5", tracker=tracker)
    site = write_site(tmp_path, cams, db=pg, tracker=tracker,
                      live=f"status_interval: 0.5, max_cameras: 3, leases: {{enabled: true, ttl: {TTL}, renew: 2}}")
    names = [f"w{i}" for i in range(N_WORKERS)]
    if SLOWDOWN != 15:  # keep the counter's memory above the tracker's, as at 15x
        for d in (tmp_path, tmp_path / "ref"):
            with open(d / "pipeline.yaml", "a") as f:
                f.write(f"counting: {{lost_after_s: {1.5 * SLOWDOWN}}}\n")
    procs: list[subprocess.Popen] = []
    try:
        workers = [start(site, tmp_path, n, pg) for n in names]
        procs += workers

        def settled() -> bool:
            held = [analysing(status(tmp_path, n)) for n in names]
            return sorted(len(h) for h in held) == [2, 2, 2] and len(set().union(*held)) == N_CAMS

        assert wait_for(settled, 300, 0.5), [status(tmp_path, n).get("leases") for n in names]
        moved = analysing(status(tmp_path, "w0"))
        control = sorted(set(cams) - moved)[0]  # a camera that stays where it is
        watched = {*moved, control}
        # The single-process reference watches the same streams (shared mounts) from here on.
        ref = start_ref(ref_site, tmp_path, ref_db, sorted(watched))
        procs.append(ref)

        def ref_streaming() -> bool:
            cs = status(tmp_path, "ref").get("cameras", [])
            return len(cs) == len(watched) and all(c["frames_processed"] > 0 for c in cs)

        assert wait_for(ref_streaming, 300, 0.5), status(tmp_path, "ref")
        t_from = datetime.now(timezone.utc) + timedelta(seconds=5)
        drops0 = dropped(status(tmp_path, "ref"), watched) + sum(dropped(status(tmp_path, n), watched)
                                                                for n in names)
        time.sleep(10 * STRETCH)
        drops_dead = dropped(status(tmp_path, "w0"), watched)  # its last figure (the status file stays)
        workers[0].kill()  # SIGKILL: no lease released, no run finished
        t_kill = time.monotonic()
        t_kill_utc = datetime.now(timezone.utc)
        workers[0].wait(10)

        def taken() -> bool:
            return moved <= analysing(status(tmp_path, "w1")) | analysing(status(tmp_path, "w2"))

        assert wait_for(taken, 30, 0.2), "cameras not moved within 30 s"
        takeover_s = time.monotonic() - t_kill
        # A new connection skips what arrived while it opened: inside the takeover gap, not counted.
        drops_at_open = sum(dropped(status(tmp_path, n), moved) for n in names[1:])
        time.sleep(15 * STRETCH)
        drops1 = drops_dead + dropped(status(tmp_path, "ref"), watched) + sum(
            dropped(status(tmp_path, n), watched) for n in names[1:])
        t_to = datetime.now(timezone.utc) - timedelta(seconds=3)
        stop_all(procs)
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
        srv.stop()
    for p in [workers[1], workers[2], ref]:
        assert p.returncode == 0, (tmp_path / "w1.log").read_text()[-2000:]

    with Store(pg) as store:
        runs = store.runs()
        assert not overlaps(runs), runs  # no camera analysed by two workers at once
        assert {r["camera_id"] for r in runs} == set(cams)
        for cam in moved:  # the dead worker's run of the camera was closed by its new owner
            statuses = [r["status"] for r in runs if r["camera_id"] == cam]
            assert "interrupted" in statuses, statuses
        new_start = {cam: min(r["started_us"] for r in runs if r["camera_id"] == cam
                              and r["started_us"] > t_kill_utc.timestamp() * 1e6) for cam in moved}
        got = {c: len(store.events(camera=c, since=t_from, until=t_to, limit=None)) for c in watched}
    with Store(ref_db) as ref_store:
        want = {c: len(ref_store.events(camera=c, since=t_from, until=t_to, limit=None)) for c in watched}
        # What a moved camera may lose: crossings from the last flush before the kill (1 s) until
        # its new owner analysed frames again: its run start + the stream's probe (5 frames at
        # 1 fps, ~5 s) + up to 5 s by which a reader stamps frames after that probe.
        gap = {c: len(ref_store.events(camera=c, since=t_kill_utc - timedelta(seconds=2),
                                       until=datetime.fromtimestamp(new_start[c] / 1e6, timezone.utc)
                                       + timedelta(seconds=12 * STRETCH), limit=None)) for c in moved}
    report = {"takeover_s": round(takeover_s, 1), "moved": sorted(moved), "control": control, "workers": got,
              "reference": want, "gap_events": gap, "frames_dropped_in_window": drops1 - drops0 - drops_at_open,
              "load": open("/proc/loadavg").read().split()[:3]}
    print("\n3 workers vs 1 process:", json.dumps(report))
    assert takeover_s <= 30
    if drops1 - drops0 - drops_at_open:  # a loaded CPU: the processes analysed different frames
        pytest.xfail(f"frames dropped in the compared window, counts not comparable: {report}")
    edge = 1  # a crossing within ~1 s of a window edge may fall on either side in the two processes
    assert abs(want[control] - got[control]) <= edge, report
    for c in moved:  # lost at most what the reference counted in the gap; nothing counted twice
        assert -edge <= want[c] - got[c] <= gap[c] + edge, (c, report)
