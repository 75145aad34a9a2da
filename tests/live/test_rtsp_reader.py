"""The RTSP reader against a real GStreamer RTSP server on loopback."""

from __future__ import annotations

import logging
import threading
import time
from contextlib import contextmanager
from datetime import datetime, timezone

import numpy as np
import pytest

from tests.support.rtsp_harness import wait_for
from vigil.sources.rtsp import Backoff, FrameQueue, LatestFrameSlot, StreamReader

pytestmark = pytest.mark.rtsp


@contextmanager
def running(url, slot=None, **kw):
    """A started reader of `url`; stopped (and proven stopped) on exit."""
    kw.setdefault("backoff", Backoff(initial=0.3, maximum=1.0, jitter=0.1))
    kw.setdefault("open_timeout", 5)
    kw.setdefault("read_timeout", 3)
    stop = threading.Event()
    r = StreamReader("cam", url, LatestFrameSlot() if slot is None else slot, stop, **kw)
    r.start()
    try:
        yield r
    finally:
        stop.set()
        r.join(5)
    assert not r.is_alive()


def test_frames_arrive_with_wall_clock_time_and_live_mode_drops_stale_frames(rtsp, clip5):
    srv = rtsp({"cam": clip5})
    slot = LatestFrameSlot()
    with running(srv.url("cam"), slot) as r:
        assert wait_for(lambda: r.stats.frames >= 3 and len(slot) == 1, 15), f"no frames: {r.stats}"
        before = datetime.now(timezone.utc)
        frame = slot.take()
        assert frame.image.shape == (360, 640, 3) and frame.camera_id == "cam"
        # wall clock, not stream time; never in the future: the server's first frames come in a
        # burst, and anchored on the first one every later frame was ~1 s ahead of the clock
        assert 0 <= (before - frame.time).total_seconds() < 2.0
        # Nobody takes frames now: the slot keeps only the newest, every other one is dropped.
        n0, d0 = r.stats.frames, slot.dropped
        time.sleep(1.5)
        decoded = r.stats.frames - n0
        assert 4 <= decoded <= 11, f"a 5 fps stream delivers ~7 frames in 1.5 s, not {decoded}"
        assert slot.dropped - d0 >= decoded - 1
        newest = slot.take()
        assert newest.index > frame.index and newest.pts > frame.pts
        assert r.stats.state == "streaming" and r.stats.decode_fps() > 3


def test_replay_mode_keeps_every_frame(rtsp, clip5):
    srv = rtsp({"cam": clip5})
    slot = FrameQueue(maxsize=1000)
    with running(srv.url("cam"), slot) as r:
        assert wait_for(lambda: r.stats.frames >= 10, 20)
    # compared once the reader has stopped: while it runs, a frame can be counted but not yet queued
    assert len(slot) == r.stats.frames and slot.dropped == 0
    frames = [slot.take() for _ in range(len(slot))]
    assert [f.index for f in frames] == list(range(len(frames)))
    # one clock per frame (the tracker reads pts, the counter time): time steps as pts does, less
    # only while early frames grow the stream's lead, so it never steps back or runs ahead
    steps = [((b.time - a.time).total_seconds(), b.pts - a.pts) for a, b in zip(frames, frames[1:])]
    assert all(0 <= dt <= dp + 1e-6 for dt, dp in steps), steps
    assert frames[-1].time <= datetime.now(timezone.utc)
    assert sum(dp - dt for dt, dp in steps) < 1.5, steps  # the lead is the burst, not a drift


def test_frame_stride_hands_on_every_nth_decoded_frame(rtsp, clip5):
    """The pipeline's frame_stride applies live as in replay: every frame is decoded (the
    next ones need it), every third is analysed, with its index in the stream."""
    srv = rtsp({"cam": clip5})
    slot = FrameQueue(maxsize=1000)
    with running(srv.url("cam"), slot, stride=3) as r:
        assert wait_for(lambda: r.stats.frames >= 10, 20)
        decoded = r.stats.frames
        frames = [slot.take() for _ in range(len(slot))]
    assert (decoded + 2) // 3 - 1 <= len(frames) <= (decoded + 2) // 3
    assert [f.index for f in frames] == list(range(0, 3 * len(frames), 3))
    assert all(b.pts > a.pts for a, b in zip(frames, frames[1:]))


def test_udp_transport_streams(rtsp, clip5):
    srv = rtsp({"cam": clip5})
    with running(srv.url("cam"), transport="udp") as r:
        assert wait_for(lambda: r.stats.frames >= 3, 15), r.stats.last_error


def test_wrong_password_is_a_masked_error_and_backoff(rtsp, clip5, caplog):
    srv = rtsp({"cam": clip5}, user="viewer", password="right-pass")
    with caplog.at_level(logging.WARNING, logger="vigil"), running(srv.url("cam", "viewer", "wrong-pass")) as r:
        assert wait_for(lambda: r.stats.reconnects >= 2, 15)
        assert r.stats.state in ("backoff", "connecting") and r.stats.frames == 0
    err = r.stats.last_error
    assert "authentication failed" in err and "viewer:***@" in err and "wrong-pass" not in err
    assert "wrong-pass" not in caplog.text and "retrying in" in caplog.text
    assert "Traceback" not in caplog.text
    with running(srv.url("cam", "viewer", "right-pass")) as ok:  # the right password streams
        assert wait_for(lambda: ok.stats.frames >= 2, 15), ok.stats.last_error


def test_unreachable_host_backs_off_with_growing_delays(caplog):
    from tests.support.rtsp_harness import free_port

    backoff = Backoff(initial=0.1, maximum=0.4, jitter=0.0)
    url = f"rtsp://u:secret@127.0.0.1:{free_port()}/x"
    with caplog.at_level(logging.WARNING, logger="vigil"), running(url, backoff=backoff) as r:
        assert wait_for(lambda: r.stats.reconnects >= 5, 10)
    delays = [rec.delay_s for rec in caplog.records if getattr(rec, "event", None) == "backoff"]
    assert "connection refused" in r.stats.last_error and "secret" not in r.stats.last_error
    assert "secret" not in caplog.text and "Traceback" not in caplog.text
    assert delays[:4] == pytest.approx([0.1, 0.2, 0.4, 0.4])  # doubles, then bounded (no jitter here)


def test_unresolvable_host_is_named():
    with running("rtsp://admin:pw@no-such-camera.invalid/stream", backoff=Backoff(initial=5, jitter=0)) as r:
        assert wait_for(lambda: r.stats.reconnects >= 1, 10)
    assert "cannot resolve host 'no-such-camera.invalid'" in r.stats.last_error
    assert "admin:***@" in r.stats.last_error


def test_server_killed_camera_backs_off_and_reconnects(rtsp, clip5):
    srv = rtsp({"cam": clip5})
    slot = LatestFrameSlot()
    with running(srv.url("cam"), slot) as r:
        assert wait_for(lambda: r.stats.frames >= 3, 15)
        srv.kill()
        assert wait_for(lambda: r.stats.state == "backoff", 10), r.stats
        assert r.stats.reconnects >= 1
        n_down = r.stats.frames
        time.sleep(1.0)
        assert r.stats.frames == n_down
        srv.start()  # the camera comes back on the same address
        assert wait_for(lambda: r.stats.frames >= n_down + 3, 20), r.stats
        assert r.stats.state == "streaming"
        last_pts = slot.take().pts
        assert wait_for(lambda: len(slot) == 1, 5)
        assert slot.take().pts > last_pts  # pts stays increasing across the reconnect


def test_a_reader_that_fell_behind_skips_to_a_keyframe_instead_of_lagging(rtsp, clip5):
    """The reader thread stalls for 3 s (a GC pause, a starved CPU): packets pile up in the socket.
    With max_lag 1 s it must skip the stale packets (counted) rather than decode its way through."""

    class StallOnce(LatestFrameSlot):
        stalled = False

        def put(self, frame, stop):
            if frame.index == 5 and not self.stalled:
                self.stalled = True
                time.sleep(3.0)
            super().put(frame, stop)

    srv = rtsp({"cam": clip5})
    slot = StallOnce()
    with running(srv.url("cam"), slot, max_lag=1.0) as r:
        assert wait_for(lambda: slot.stalled and r.stats.frames >= 12, 20), r.stats
    assert r.stats.skipped >= 3, f"expected stale packets skipped after a 3 s stall, got {r.stats.skipped}"


@pytest.fixture(scope="module")
def clip2(gst):
    """2 s of saoyan_test.mp4 at 5 fps: 10 frames, so a reader reaches the end and reconnects soon."""
    from tests.support.data import VIDEO, need
    from tests.support.rtsp_harness import prepare_clip

    return prepare_clip(need(VIDEO / "saoyan_test.mp4"), fps=5, seconds=2)


def test_hwaccel_cuda_without_a_gpu_falls_back_once_and_decodes_the_same_frames(rtsp, clip2, caplog):
    """`live.hwaccel: cuda` on a machine without a usable NVIDIA decoder: the camera streams in
    software, the fallback is counted and logged once (not again at the reconnect after the clip
    ends), and the frames are the ones `none` decodes. On a machine where CUDA decode works, the
    frames are decoded there and must match software decode up to colour-conversion noise."""
    srv = rtsp({"cam": clip2})
    sw, hw = FrameQueue(maxsize=1000), FrameQueue(maxsize=1000)
    with caplog.at_level(logging.INFO, logger="vigil"), running(srv.url("cam"), sw, hwaccel="none") as r_sw, \
            running(srv.url("cam"), hw, hwaccel="cuda") as r_hw:
        assert wait_for(lambda: r_hw.stats.reconnects >= 1 and r_hw.stats.frames >= 12
                        and r_sw.stats.frames >= 10, 30), (r_hw.stats, r_sw.stats)
    a = [sw.take().image for _ in range(10)]
    b = [hw.take().image for _ in range(10)]
    assert r_sw.stats.decoder == "software" and r_sw.stats.decode_fallbacks == 0
    if r_hw.stats.decoder == "cuda":  # a GPU machine: hardware decode really ran
        assert r_hw.stats.decode_fallbacks == 0
        assert all(np.abs(x.astype(int) - y).mean() < 2.0 for x, y in zip(a, b))
        return
    assert r_hw.stats.decoder == "software"
    assert r_hw.stats.decode_fallbacks == 1, "a fallback is counted once per camera, not per connection"
    assert "cuda" in r_hw.stats.decode_fallback_reason
    warnings = [rec for rec in caplog.records if getattr(rec, "event", None) == "hwaccel_fallback"]
    assert len(warnings) == 1 and "decoding in software" in warnings[0].getMessage()
    assert all(np.array_equal(x, y) for x, y in zip(a, b))
