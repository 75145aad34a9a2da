"""Live-daemon pieces without a server: URL masking, credentials, NVR URLs, backoff, frame slots,
logs, and the daemon loop with small fakes for the edge cases (a failing pipeline, shutdown
draining, status file and metrics)."""

from __future__ import annotations

import io
import json
import logging
import random
import threading
import time
import urllib.request
from datetime import datetime, timezone
from types import SimpleNamespace

import numpy as np
import pytest

from tests.support.rtsp_harness import wait_for
from vigil.config.live import LiveConfig
from vigil.config.site import CameraConfig, SiteConfig
from vigil.errors import ConfigError
from vigil.live.daemon import LiveCamera, LiveDaemon
from vigil.live.health import write_atomic
from vigil.live.logs import setup_logging
from vigil.live.metrics import serve_metrics
from vigil.pipeline.round import AnalysisRound
from vigil.sources.factory import Feed, FileFeeder
from vigil.sources.nvr import nvr_url, stream_target
from vigil.sources.rtsp import Backoff, FrameQueue, LatestFrameSlot, ReaderStats, mask_url, scrub, with_credentials
from vigil.store.engine import StoreError
from vigil.types import CountEvent, Detections, Frame

# ---------------------------------------------------------------- URLs and credentials

@pytest.mark.parametrize("url, masked", [
    ("rtsp://admin:s3cret@10.0.0.5:554/Streaming/Channels/101", "rtsp://admin:***@10.0.0.5:554/Streaming/Channels/101"),
    ("rtsp://admin:p%40ss%3Aw@cam/x?channel=1", "rtsp://admin:***@cam/x?channel=1"),
    ("rtsp://cam.local/live", "rtsp://cam.local/live"),
    ("rtsp://user@cam/live", "rtsp://user@cam/live"),
    ("rtsp://u:pw@[fe80::1]:8554/a", "rtsp://u:***@[fe80::1]:8554/a"),
])
def test_mask_url_hides_only_the_password(url, masked):
    assert mask_url(url) == masked


def test_with_credentials_quotes_special_characters_and_round_trips():
    url = with_credentials("rtsp://cam:554/live", "ad min", "p@ss:w/rd")
    assert url == "rtsp://ad%20min:p%40ss%3Aw%2Frd@cam:554/live"
    assert "p@ss" not in mask_url(url) and mask_url(url).startswith("rtsp://ad%20min:***@cam:554")
    # existing credentials: the password alone can be replaced
    assert with_credentials("rtsp://old:x@cam/a", None, "new") == "rtsp://old:new@cam/a"
    assert with_credentials("rtsp://cam/a", None, None) == "rtsp://cam/a"


def test_scrub_removes_the_password_from_library_messages():
    url = "rtsp://admin:p%40ss@cam/x"
    assert scrub("Error opening rtsp://admin:p%40ss@cam/x (p@ss)", url) == "Error opening rtsp://admin:***@cam/x (***)"
    assert scrub("no password here", "rtsp://cam/x") == "no password here"


def live_with_nvrs(**nvrs) -> LiveConfig:
    return LiveConfig.model_validate({"nvrs": nvrs})


@pytest.mark.parametrize("vendor, channel, stream, path", [
    ("hikvision", 1, "main", "/Streaming/Channels/101"),
    ("hikvision", 12, "sub", "/Streaming/Channels/1202"),
    ("dahua", 3, "main", "/cam/realmonitor?channel=3&subtype=0"),
    ("dahua", 3, "sub", "/cam/realmonitor?channel=3&subtype=1"),
])
def test_vendor_urls(vendor, channel, stream, path):
    nvr = live_with_nvrs(n={"vendor": vendor, "host": "10.1.2.3"}).nvrs["n"]
    assert nvr_url(nvr, channel, stream) == f"rtsp://10.1.2.3:554{path}"


def test_generic_nvr_template_and_its_errors():
    nvr = live_with_nvrs(n={"host": "nvr", "port": 8554, "path_template": "ch{channel}/{stream}"}).nvrs["n"]
    assert nvr_url(nvr, 4, "sub") == "rtsp://nvr:8554/ch4/sub"
    with pytest.raises(Exception, match="path_template"):
        live_with_nvrs(n={"host": "nvr"})
    bad = live_with_nvrs(n={"host": "nvr", "path_template": "/c{chan}"}).nvrs["n"]
    with pytest.raises(ConfigError, match="path_template"):
        nvr_url(bad, 1)


def test_camera_on_nvr_gets_env_password_and_camera_credentials_override(monkeypatch):
    live = live_with_nvrs(gate={"vendor": "hikvision", "host": "10.0.0.9", "username": "admin",
                                "password_env": "GATE_NVR_PW"})
    cam = CameraConfig(id="c1", nvr="gate", channel=2, stream="sub")
    monkeypatch.delenv("GATE_NVR_PW", raising=False)
    with pytest.raises(ConfigError, match="GATE_NVR_PW.*not set"):
        stream_target(cam, live, None)
    monkeypatch.setenv("GATE_NVR_PW", "hunter2")
    target = stream_target(cam, live, None)
    assert target.url == "rtsp://admin:hunter2@10.0.0.9:554/Streaming/Channels/202"
    assert target.masked == "rtsp://admin:***@10.0.0.9:554/Streaming/Channels/202"
    assert "hunter2" not in repr(target)
    own = CameraConfig(id="c2", nvr="gate", channel=1, username="viewer", password="pw2")
    assert stream_target(own, live, None).url == "rtsp://viewer:pw2@10.0.0.9:554/Streaming/Channels/101"
    explicit = CameraConfig(id="c3", source="rtsp://cam/a", transport="udp", password_env="GATE_NVR_PW",
                            username="u")
    t = stream_target(explicit, live, explicit.source)
    assert t.url == "rtsp://u:hunter2@cam/a" and t.transport == "udp"


@pytest.mark.parametrize("fields, message", [
    ({"nvr": "x"}, "needs channel"),
    ({"channel": 2}, "nvr is not"),
    ({"nvr": "x", "channel": 1, "source": "rtsp://a/b"}, "either source or nvr"),
    ({"source": "rtsp://a/b", "password": "p", "password_env": "P"}, "either password or password_env"),
    ({"source": "rtsp://a/b", "transport": "http"}, "tcp"),
])
def test_camera_stream_fields_are_validated(fields, message):
    with pytest.raises(Exception, match=message):
        CameraConfig(id="c", **fields)


def test_unknown_nvr_is_a_config_error():
    with pytest.raises(ConfigError, match="NVR 'nope' is not in live.nvrs"):
        stream_target(CameraConfig(id="c", nvr="nope", channel=1), LiveConfig(), None)


def test_password_never_appears_in_a_dumped_config():
    site = SiteConfig.model_validate({"cameras": [{"id": "c", "source": "rtsp://cam/a", "password": "topsecret"}]})
    assert "topsecret" not in repr(site) and "topsecret" not in site.model_dump_json()


# ---------------------------------------------------------------- backoff and slots

def test_backoff_grows_is_bounded_jittered_and_resets_after_a_healthy_period():
    b = Backoff(initial=1, maximum=10, factor=2, jitter=0.25, healthy_after=30, rng=random.Random(0))
    delays = [b.next_delay() for _ in range(8)]
    for i, d in enumerate(delays):
        base = min(8, 2 ** i)  # the cap leaves room for +25 % jitter under the 10 s maximum
        assert 0.75 * base <= d <= 1.25 * base <= 10
    assert len(set(delays)) == len(delays)  # jittered, not in lockstep
    b.reset_if_healthy(5)  # a short stream does not reset
    assert b.next_delay() >= 6
    b.reset_if_healthy(31)
    assert b.next_delay() <= 1.25


def frame(i: int, cam: str = "c") -> Frame:
    return Frame(np.zeros((4, 4, 3), np.uint8), i, i / 5, datetime.now(timezone.utc), cam)


def test_latest_slot_keeps_the_newest_and_counts_the_stale():
    slot, stop = LatestFrameSlot(), threading.Event()
    for i in range(5):
        slot.put(frame(i), stop)
    assert slot.dropped == 4 and slot.ready.is_set()
    assert slot.take().index == 4 and slot.take() is None


def test_queue_keeps_every_frame_and_blocks_when_full():
    q, stop = FrameQueue(maxsize=2), threading.Event()
    q.put(frame(0), stop)
    q.put(frame(1), stop)
    t = threading.Thread(target=q.put, args=(frame(2), stop))
    t.start()
    time.sleep(0.2)
    assert t.is_alive()  # waits for the consumer instead of dropping
    assert q.take().index == 0
    t.join(2)
    assert [q.take().index, q.take().index] == [1, 2] and q.dropped == 0


# ---------------------------------------------------------------- logs

def test_json_logs_carry_structured_fields():
    buf = io.StringIO()
    setup_logging("json", "INFO", stream=buf)
    logging.getLogger("vigil.test").warning("cam %s down", "c1", extra={"camera": "c1", "event": "backoff",
                                                                        "delay_s": 2.0})
    rec = json.loads(buf.getvalue().splitlines()[-1])
    assert rec["msg"] == "cam c1 down" and rec["camera"] == "c1" and rec["delay_s"] == 2.0
    assert rec["level"] == "warning" and rec["ts"].endswith("+00:00")
    setup_logging("text", "INFO", stream=buf)


# ---------------------------------------------------------------- the daemon loop, with fakes

class FakeReader(threading.Thread):
    """Feeds `n` frames at `fps` into a slot, like a stream reader would."""

    def __init__(self, cam, slot, stop, n=1000, fps=50.0):
        super().__init__(daemon=True)
        self.cam, self.slot, self.stop_event, self.n, self.fps = cam, slot, stop, n, fps
        self.stats = ReaderStats(state="streaming")

    def run(self):
        for i in range(self.n):
            if self.stop_event.wait(1 / self.fps):
                break
            self.stats.note_frame(time.monotonic())
            self.slot.put(frame(i, self.cam), self.stop_event)
        self.stats.state = "stopped" if self.stop_event.is_set() else "finished"


class CountingDetector:
    def __init__(self, delay=0.01):
        self.delay, self.batches = delay, []

    def detect(self, images):
        time.sleep(self.delay)
        self.batches.append(len(images))
        return [Detections.empty() for _ in images]


class EveryFramePipeline:
    """One event per frame; raises on chosen frames; one more event at finish."""

    def __init__(self, cam, fail_on=()):
        self.cam, self.fail_on, self.finished = cam, set(fail_on), False
        self.camera, self.warnings = SimpleNamespace(id=cam), []
        self.last_tracks = None  # what CameraPipeline keeps for the live view

    def prepare(self, frame, dets):
        return dets

    def update(self, frame, dets, clock=None):
        if frame.index in self.fail_on:
            raise ValueError("bad frame")
        return [CountEvent(self.cam, "line", "l", frame.index, "car", "in", frame.time)]

    def finish(self, time_=None):
        self.finished = True
        return [CountEvent(self.cam, "zone", "z", 0, "car", "out", datetime.now(timezone.utc), 1.0)]


class MemoryStore:
    """Records runs and what was flushed; `put` events only count once flushed."""

    def __init__(self):
        self.runs, self.pending, self.flushed = {}, [], []

    def begin_run(self, camera_id, source, content_hash=None, kind="replay"):
        self.runs[len(self.runs) + 1] = {"camera": camera_id, "source": source, "kind": kind, "status": "running"}
        return len(self.runs)

    def finish_run(self, run_id, status, frames, error=None, at_us=None):
        self.runs[run_id].update(status=status, frames=frames, error=error)

    def writer(self, flush_interval):
        store = self

        class Writer:
            def put(self, run_id, events):
                store.pending.extend(events)

            def flush(self, timeout=None):
                store.flushed.extend(store.pending)
                store.pending.clear()

            close = flush
        return Writer()


def make_daemon(tmp_path, cams=("a", "b"), fps=50.0, n=1000, fail_on=(), detector=None, slot_cls=LatestFrameSlot):
    ready, reader_stop = threading.Event(), threading.Event()
    cameras = []
    for cam in cams:
        slot = slot_cls(ready)
        feed = Feed(cam, f"rtsp://u:***@host/{cam}", [FakeReader(cam, slot, reader_stop, n, fps)], slot)
        cameras.append(LiveCamera(feed, EveryFramePipeline(cam, fail_on if cam == "a" else ())))
    store = MemoryStore()
    daemon = LiveDaemon(cameras, AnalysisRound(detector or CountingDetector()), store, ready=ready,
                        reader_stop=reader_stop,
                        status_path=tmp_path / "status.json", status_interval=0.1)
    return daemon, store


def run_for(daemon, seconds):
    stop = threading.Event()
    t = threading.Thread(target=daemon.run, args=(stop,))
    t.start()
    time.sleep(seconds)
    stop.set()
    t.join(10)
    assert not t.is_alive()


def test_batches_across_cameras_drops_stale_frames_and_flushes_everything_at_stop(tmp_path):
    det = CountingDetector(delay=0.05)  # slower than the 50 fps feeds: frames must drop
    daemon, store = make_daemon(tmp_path, detector=det)
    run_for(daemon, 1.0)
    assert max(det.batches) == 2  # one detector call for both cameras
    for cam in daemon.cameras:
        assert cam.feed.slot.dropped > 0 and cam.proc.processed > 0
        assert cam.proc.processed + cam.feed.slot.dropped == cam.feed.stats.frames  # every frame processed or dropped
        assert cam.pipeline.finished
    # every event produced, finish() events included, was flushed; runs are marked
    assert len(store.flushed) == sum(c.proc.events for c in daemon.cameras) and not store.pending
    assert len(store.flushed) == sum(c.proc.processed + 1 for c in daemon.cameras)
    assert {r["status"] for r in store.runs.values()} == {"stopped"}
    assert all(r["kind"] == "live" for r in store.runs.values())


def test_events_reach_the_writer_once_when_it_reports_an_earlier_failure(tmp_path, caplog):
    """A writer that has taken the events and then reports an earlier batch's failure (as the
    old EventWriter.put did) must not be handed them again: that stored a blip's events twice."""
    daemon, store = make_daemon(tmp_path, cams=("a",), fps=20)
    real_writer = store.writer

    def blipping_writer(flush_interval):
        w = real_writer(flush_interval)
        put, calls = w.put, {"n": 0}

        def put_then_raise(run_id, events):
            put(run_id, events)
            calls["n"] += 1
            if calls["n"] == 3:
                raise RuntimeError("an earlier batch failed: connection lost")

        w.put = put_then_raise
        return w

    store.writer = blipping_writer
    with caplog.at_level(logging.ERROR, logger="vigil"):
        run_for(daemon, 1.0)
    a = daemon.cameras[0]
    assert len(store.flushed) == a.proc.events and daemon.store_errors == 1
    assert len({(e.track_id, e.kind) for e in store.flushed}) == len(store.flushed)  # each event once
    assert "database write failed" in caplog.text


def test_a_failing_pipeline_does_not_stop_the_other_camera(tmp_path, caplog):
    daemon, store = make_daemon(tmp_path, fps=20, fail_on=range(0, 10_000, 2))
    with caplog.at_level(logging.ERROR, logger="vigil"):
        run_for(daemon, 1.0)
    a, b = daemon.cameras
    assert a.proc.errors > 3 and a.proc.processed > 0 and b.proc.errors == 0
    assert b.proc.processed >= 10
    assert caplog.text.count("pipeline error") == 3  # a fault on every other frame: not every traceback
    assert a.failure is None and not daemon.failures  # an unexpected error costs its frame only


def test_a_camera_whose_config_does_not_fit_its_stream_stops_alone_in_one_line(tmp_path, caplog):
    """A Vigil error from the round (lines drawn on a 16:9 reference_size, a 4:3 stream) is there
    to stay: that camera stops with its run marked error, once, without a traceback; it was
    retried on every frame, a traceback each, and the camera read as streaming."""
    daemon, store = make_daemon(tmp_path, fps=20)
    a, b = daemon.cameras

    def wrong_aspect(frame, dets):
        raise ConfigError("camera 'a': the video is 640x480 (aspect 1.333) but reference_size is 1920x1080")

    a.pipeline.prepare = wrong_aspect
    with caplog.at_level(logging.INFO, logger="vigil"):
        run_for(daemon, 1.0)
    assert a.closed and a.proc.errors == 1 and "reference_size" in daemon.failures["a"]
    assert b.proc.processed >= 10 and not b.proc.errors
    runs = {r["camera"]: r for r in store.runs.values()}
    assert runs["a"]["status"] == "error" and "reference_size" in runs["a"]["error"]
    assert runs["b"]["status"] == "stopped"
    assert "Traceback" not in caplog.text and caplog.text.count("this camera stops") == 1


class AwayStore(MemoryStore):
    """A database that is away: every flush waits out its timeout and fails."""

    def writer(self, flush_interval):
        w = super().writer(flush_interval)

        def flush(timeout=None):
            time.sleep(timeout or 0)
            raise StoreError("database unreachable")

        w.flush, w.close = flush, lambda timeout=None: None
        return w


def test_with_the_database_away_a_finished_file_camera_stalls_no_one_and_a_stop_waits_once(tmp_path):
    """Closing a camera waits for the database off the loop: a recording that ends stalled every
    live camera for store_wait, and a stop waited store_wait per camera, one after another."""
    ready, reader_stop = threading.Event(), threading.Event()
    q = FrameQueue(ready)
    rec = Feed("rec", "rec.mp4", [FileFeeder("rec", lambda: (frame(i, "rec") for i in range(5)), q, reader_stop)], q)
    cams = [LiveCamera(rec, EveryFramePipeline("rec"))]
    for cid in ("c1", "c2", "c3"):
        slot = LatestFrameSlot(ready)
        cams.append(LiveCamera(Feed(cid, "rtsp://x", [FakeReader(cid, slot, reader_stop, 10_000, 25.0)], slot),
                               EveryFramePipeline(cid)))
    daemon = LiveDaemon(cams, AnalysisRound(CountingDetector(0.0)), AwayStore(), ready=ready, reader_stop=reader_stop)
    daemon.store_wait, daemon.stop_wait = 3.0, 1.0
    stop = threading.Event()
    t = threading.Thread(target=daemon.run, args=(stop,))
    t.start()
    assert wait_for(lambda: cams[0].closed, 5)
    seen = cams[1].proc.processed
    time.sleep(1.0)  # within the recording's store_wait: live cameras go on
    assert cams[1].proc.processed >= seen + 10
    t0 = time.monotonic()
    stop.set()
    t.join(15)
    assert not t.is_alive() and time.monotonic() - t0 < 1.0 + 2.5  # one stop_wait (+ readers), not 3 x 3 s


def test_a_recording_whose_reader_breaks_fails_and_the_daemon_still_ends(tmp_path):
    """Any error in a file camera's reader (not only a SourceError) marks it failed: the thread
    died in silence before, the camera read as streaming and a file-only daemon never ended."""
    def broken():
        yield from (frame(i, "rec") for i in range(3))
        raise RuntimeError("cv2.error: bad warp")

    ready, reader_stop = threading.Event(), threading.Event()
    q = FrameQueue(ready)
    cam = LiveCamera(Feed("rec", "rec.mp4", [FileFeeder("rec", broken, q, reader_stop)], q), EveryFramePipeline("rec"))
    store = MemoryStore()
    daemon = LiveDaemon([cam], AnalysisRound(CountingDetector(0.0)), store, ready=ready, reader_stop=reader_stop)
    t = threading.Thread(target=daemon.run, args=(threading.Event(),))
    t.start()
    t.join(10)
    assert not t.is_alive(), "a file-only daemon ends when its recording fails"
    assert cam.proc.processed == 3 and "bad warp" in daemon.failures["rec"]
    assert store.runs[1]["status"] == "error"


def test_replay_slots_keep_every_frame_and_file_cameras_finish(tmp_path):
    daemon, store = make_daemon(tmp_path, n=15, fps=200, slot_cls=FrameQueue)
    stop = threading.Event()
    daemon.run(stop)  # returns by itself: every camera finished
    for cam in daemon.cameras:
        assert cam.proc.processed == 15 and cam.feed.slot.dropped == 0 and cam.closed
    assert {r["status"] for r in store.runs.values()} == {"done"}
    assert len(store.flushed) == 2 * 16


def test_detector_crash_flushes_counted_events_and_marks_runs_failed(tmp_path):
    class Boom(CountingDetector):
        def detect(self, images):
            if len(self.batches) >= 5:
                raise RuntimeError("CUDA out of memory")
            return super().detect(images)

    daemon, store = make_daemon(tmp_path, detector=Boom())
    with pytest.raises(RuntimeError, match="out of memory"):
        daemon.run(threading.Event())
    assert len(store.flushed) == sum(c.proc.events for c in daemon.cameras) > 0
    assert {r["status"] for r in store.runs.values()} == {"failed"}
    assert json.loads((tmp_path / "status.json").read_text())["state"] == "failed"


def test_status_file_and_vigil_status(tmp_path, capsys):
    from vigil.cli import main

    daemon, _ = make_daemon(tmp_path)
    stop = threading.Event()
    t = threading.Thread(target=daemon.run, args=(stop,))
    t.start()
    try:
        time.sleep(0.6)
        snap = json.loads((tmp_path / "status.json").read_text())
        assert snap["state"] == "running" and [c["camera"] for c in snap["cameras"]] == ["a", "b"]
        cam = snap["cameras"][0]
        for key in ("state", "decode_fps", "processed_fps", "dropped_frames", "reconnects", "last_frame_age_s",
                    "inference_ms", "decoder", "decode_fallbacks"):
            assert key in cam
        assert cam["decode_fps"] > 10 and cam["processed_fps"] > 1
        assert cam["latency_ms"] is not None  # a stream; a recording has none (its frame times are not now)
        recording = Feed("r", "clip.mp4", [FileFeeder("r", lambda: [], FrameQueue(), threading.Event())], FrameQueue())
        assert daemon.cameras[0].feed.live and not recording.live
        capsys.readouterr()
        assert main(["status", "--file", str(tmp_path / "status.json")]) == 0
        out = capsys.readouterr().out
        assert "streaming" in out and "a" in out and "running" in out
    finally:
        stop.set()
        t.join(10)
    assert main(["status", "--file", str(tmp_path / "status.json")]) == 1  # stopped: exit 1, says so
    assert "not running" in capsys.readouterr().out
    assert main(["status", "--file", str(tmp_path / "missing.json")]) == 2
    assert "no status file" in capsys.readouterr().err
    for i, other in enumerate(("[1, 2]", '{"state": "running", "updated": "yesterday", "cameras": []}')):
        (tmp_path / f"other{i}.json").write_text(other)  # JSON, but not a status file: no traceback
        assert main(["status", "--file", str(tmp_path / f"other{i}.json")]) == 2
        assert "is JSON but not a Vigil status file" in capsys.readouterr().err
    assert main(["status", "--help"]) == 0  # the help states both codes the user just saw
    helptext = " ".join(capsys.readouterr().out.split())
    assert "1 when its status file says it stopped" in helptext and "2 when there is no status file" in helptext


def test_write_atomic_leaves_no_partial_file(tmp_path):
    path = tmp_path / "s.json"
    write_atomic(path, {"a": 1})
    with pytest.raises(TypeError):
        write_atomic(path, {"a": object.__new__(type("X", (), {"__str__": None}))})
    assert json.loads(path.read_text()) == {"a": 1} and [p.name for p in tmp_path.iterdir()] == ["s.json"]


def test_prometheus_endpoint_serves_per_camera_metrics(tmp_path):
    daemon, _ = make_daemon(tmp_path)
    server = serve_metrics(daemon.snapshot, 0)
    try:
        stop = threading.Event()
        t = threading.Thread(target=daemon.run, args=(stop,))
        t.start()
        time.sleep(0.5)
        text = urllib.request.urlopen(f"http://127.0.0.1:{server.server_port}/metrics", timeout=5).read().decode()
        stop.set()
        t.join(10)
    finally:
        server.shutdown()
    assert 'vigil_camera_up{camera="a"} 1.0' in text
    assert 'vigil_camera_state{camera="b",state="streaming"} 1.0' in text
    assert 'vigil_camera_frames_dropped_total{camera="a"}' in text
    assert "vigil_camera_decode_fps" in text and "vigil_inference_batches_total" in text
    assert 'vigil_camera_decode_fallbacks_total{camera="a"} 0.0' in text


def test_metrics_port_in_use_is_a_clear_error(tmp_path):
    daemon, _ = make_daemon(tmp_path)
    first = serve_metrics(daemon.snapshot, 0)
    try:
        with pytest.raises(ConfigError, match="metrics_port"):
            serve_metrics(daemon.snapshot, first.server_port)
    finally:
        first.shutdown()


# ---------------------------------------------------------------- `vigil run` input errors

@pytest.mark.parametrize("camera_yaml, extra_args, message", [
    ("{id: a, nvr: gate, channel: 1}", [], "NVR 'gate' is not in live.nvrs"),
    ("{id: a, source: 'rtsp://cam/x', password_env: VIGIL_TEST_UNSET_PW}", [], "VIGIL_TEST_UNSET_PW"),
    ("{id: a, source: missing.mp4}", [], "does not exist"),
    ("{id: a, source: .}", [], "is a folder, not a video source"),
    ("{id: a, source: 'rtsp://cam/x'}", ["--camera", "b"], "camera 'b' is not in"),
    ("{id: a, source: 'rtsp://cam/x'}", ["--log-format", "xml"], "--log-format"),
    ("{id: a, source: 'rtsp://cam/x'}", ["--log-level", "FOO"], "--log-level 'FOO': use one of DEBUG"),
])
def test_vigil_run_input_errors_are_one_line(tmp_path, capsys, monkeypatch, camera_yaml, extra_args, message):
    from vigil.cli import main

    monkeypatch.delenv("VIGIL_TEST_UNSET_PW", raising=False)
    (tmp_path / "p.yaml").write_text("detector: {weights: nowhere.onnx}\n")
    site = tmp_path / "site.yaml"
    site.write_text(f"pipeline: p.yaml\ncameras:\n  - {camera_yaml}\n")
    assert main(["run", str(site), *extra_args]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error:") and message in err[0], err


def test_readers_take_the_pipelines_frame_stride(tmp_path):
    from vigil.config import load_site
    from vigil.sources.factory import open_feed

    (tmp_path / "p.yaml").write_text("detector: {weights: nowhere.onnx}\nframe_stride: 3\n")
    from tests.fusion.streams import write_video

    write_video(tmp_path / "clip.mp4", [np.full((32, 32, 3), 10 * i, np.uint8) for i in range(9)], fps=10)
    site = tmp_path / "site.yaml"
    site.write_text("pipeline: p.yaml\ncameras:\n  - {id: live, source: 'rtsp://cam/x'}\n"
                    "  - {id: file, source: clip.mp4}\n")
    config = load_site(site)
    ready, stop = threading.Event(), threading.Event()
    live, file = (open_feed(c, config, ready, stop) for c in config.site.cameras)
    assert live.readers[0].stride == 3
    assert [f.index for f in file.readers[0].frames()] == [0, 3, 6]  # opened in the reader thread
