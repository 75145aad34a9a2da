"""Parts of `vigil bench pipeline`: the shared clip, the line both sides count on, memory
sampling, and the detector's speed paths (worker pool on CPU, staging for the GPU path)."""

from datetime import datetime, timedelta, timezone

import av
import numpy as np
import pytest
import torch

from tests.support.data import VIDEO, YOLO_ONNX, need
from vigil.bench.clip import cut_clip, probe_clip
from vigil.bench.memory import RssSampler
from vigil.bench.pipeline_vigil import object_counter_line
from vigil.count import CameraCounter
from vigil.detect.letterbox import letterbox_batch
from vigil.detect.staging import HostStaging
from vigil.sources.file import FileSource
from vigil.types import Detections

SAOYAN = VIDEO / "saoyan_test.mp4"


def test_cut_clip_keeps_the_first_seconds_and_decodes_cleanly(tmp_path):
    clip = cut_clip(need(SAOYAN), tmp_path / "c.mp4", 1.0)
    info = probe_clip(clip)
    assert (info.width, info.height) == (640, 360)
    assert 28 <= info.frames <= 31  # 1 s at 29.97 fps
    frames = list(FileSource(clip))  # no truncation error: every copied packet decodes
    assert len(frames) == info.frames
    with av.open(str(SAOYAN)) as c:  # the same pixels as the original's first frame
        first = next(c.decode(video=0)).to_ndarray(format="bgr24")
    assert np.array_equal(frames[0].image, first)


def _crossing(line, path, classes=1):
    """Feed one track moving along `path` (box centres) to a counter on `line`."""
    counter = CameraCounter("c", [object_counter_line(line)], [])
    t0 = datetime(2026, 1, 1, tzinfo=timezone.utc)
    events = []
    for i, (x, y) in enumerate(path):
        d = Detections(xyxy=np.array([[x - 10, y - 10, x + 10, y + 10]]), class_id=np.array([2]),
                       tracker_id=np.array([7]))
        events += counter.update(d, t0 + timedelta(seconds=i / 10))
    return [e.direction for e in events]


@pytest.mark.parametrize("line", [((0, 100), (200, 100)), ((200, 100), (0, 100))])
def test_moving_down_across_a_horizontal_line_is_in_like_object_counter(line):
    # ObjectCounter: horizontal line, moving downward = IN, whichever way the line was drawn.
    assert _crossing(line, [(100, 60 + 10 * i) for i in range(9)]) == ["in"]
    assert _crossing(line, [(100, 140 - 10 * i) for i in range(9)]) == ["out"]


@pytest.mark.parametrize("line", [((100, 0), (100, 200)), ((100, 200), (100, 0))])
def test_moving_right_across_a_vertical_line_is_in_like_object_counter(line):
    assert _crossing(line, [(60 + 10 * i, 100) for i in range(9)]) == ["in"]
    assert _crossing(line, [(140 - 10 * i, 100) for i in range(9)]) == ["out"]


def test_line_tests_the_box_centre_like_object_counter():
    assert object_counter_line(((0, 1), (5, 1))).anchor == "center"


def test_rss_sampler_sees_a_peak_that_is_freed_again():
    with RssSampler(interval=0.01) as rss:
        block = np.ones(200 * 2**20 // 8)  # 200 MiB, touched
        import time

        time.sleep(0.1)
        del block
    assert rss.peak - rss.start > 150
    assert rss.end < rss.peak - 150


def test_staging_reuses_buffers_and_converts_like_a_fresh_tensor():
    st = HostStaging(torch.device("cpu"), half=False, slots=2)
    rng = np.random.default_rng(0)
    frames = [rng.integers(0, 255, (90, 160, 3), np.uint8) for _ in range(3)]
    for _ in range(5):
        batch, boxes = letterbox_batch(frames, 64, 32, fixed=True, buffer=st.buffer)
        x = st.to_device(batch)
    assert st.allocations == 2  # two alternating slots, then no allocation per batch
    ref, _ = letterbox_batch(frames, 64, 32, fixed=True)
    assert np.array_equal(batch, ref)  # padding refilled: no stale pixels from earlier batches
    expect = torch.from_numpy(ref).permute(0, 3, 1, 2).float() / 255
    assert x.shape == (3, 3, 64, 64) and x.dtype == torch.float32 and torch.allclose(x, expect)
    half = HostStaging(torch.device("cpu"), half=True)
    assert half.to_device(ref).dtype == torch.float16
    bigger, _ = letterbox_batch(frames * 3, 64, 32, fixed=True, buffer=st.buffer)  # grows when needed
    assert bigger.shape[0] == 9 and st.allocations == 3


def test_staging_pins_only_for_cuda():
    assert HostStaging(torch.device("cpu")).pin is False
    assert HostStaging(torch.device("cuda", 0)).pin is True  # decided without touching a GPU


@pytest.fixture(scope="module")
def frames():
    with av.open(str(need(SAOYAN))) as c:
        return [f.to_ndarray(format="bgr24") for _, f in zip(range(6), c.decode(video=0))]


def test_cpu_worker_pool_detects_the_same_as_the_backend_path(frames):
    from vigil.detect.yolo import YoloDetector

    det = YoloDetector(weights=need(YOLO_ONNX), batch=4, workers=2)
    assert det.pool is not None and det.workers == 2
    pooled = det.detect(frames)
    assert det.times.frames["inference"] == len(frames) and det.times.seconds["inference"] > 0
    det.pool = None  # the batched AutoBackend path (the GPU path's code on CPU)
    batched = det.detect(frames)
    assert sum(len(d) for d in pooled) > 10
    for a, b in zip(pooled, batched):
        assert len(a) == len(b)
        assert np.allclose(a.xyxy, b.xyxy, atol=0.5) and np.array_equal(a.class_id, b.class_id)


def test_looped_clip_is_one_continuous_stream(tmp_path):
    from vigil.bench.soak import loop_clip

    clip = cut_clip(need(SAOYAN), tmp_path / "c.mp4", 0.5)
    n = probe_clip(clip).frames
    looped = loop_clip(clip, tmp_path / "loop.mp4", 3)
    frames = list(FileSource(looped))  # decodes to the end without a truncation error
    assert len(frames) == 3 * n
    pts = np.array([f.pts for f in frames])
    assert (np.diff(pts) > 0).all()  # time keeps going forward across the joins
    assert np.array_equal(frames[n].image, frames[0].image)  # the second loop starts with the first frame


@pytest.mark.parametrize("shape", [(90, 160), (160, 90), (64, 64)])
def test_planar_letterbox_equals_the_batch_letterbox_in_float(shape):
    from vigil.detect.letterbox import PlanarLetterbox

    rng = np.random.default_rng(1)
    prep = PlanarLetterbox()
    for im in (rng.integers(0, 255, (*shape, 3), np.uint8), rng.integers(0, 255, (40, 200, 3), np.uint8)):
        x, box = prep(im, 64, 64)  # the second frame changes the placement: padding is rewritten
        ref, (ref_box,) = letterbox_batch([im], 64, 32, fixed=True)
        expect = ref.transpose(0, 3, 1, 2).astype(np.float32) / 255
        assert x.shape == (1, 3, 64, 64) and x.dtype == np.float32
        assert np.allclose(x, expect, atol=1e-6) and box == ref_box


def test_numpy_nms_equals_ultralytics_nms_on_real_outputs(frames):
    from ultralytics.utils.nms import non_max_suppression

    from vigil.detect.letterbox import PlanarLetterbox
    from vigil.detect.nms import yolo_nms
    from vigil.detect.onnx_workers import OnnxWorkers

    pool = OnnxWorkers(need(YOLO_ONNX), 1)
    prep = PlanarLetterbox()
    seen = 0
    for im in frames:
        out = pool.run(prep(im, 640, 640)[0])[0]
        for conf, classes in ((0.25, [0, 1, 2, 3, 5, 7]), (0.1, None), (0.6, [2])):
            ours = yolo_nms(out[0], conf, 0.7, classes)
            ref = non_max_suppression(torch.from_numpy(out), conf, 0.7, classes=classes, max_det=300)[0].numpy()
            assert ours.shape == ref.shape
            assert np.allclose(ours, ref, atol=1e-4)
            seen += len(ours)
    assert seen > 50
    assert yolo_nms(out[0], 0.999, 0.7).shape == (0, 6)


def test_replay_timed_puts_every_stage_on_the_clock_it_is_given(tmp_path):
    """The benchmarks' one seam with the pipeline: a clock passed in gets decode, the detector's
    split, reid/track/count and the store, each with the frames it saw; nothing global."""
    from vigil.bench.pipeline_vigil import bench_config, build_stages, replay_timed
    from vigil.bench.side import STAGES
    from vigil.pipeline.replay import ReplayJob
    from vigil.store import Store
    from vigil.timing import StageClock

    clip = cut_clip(need(SAOYAN), tmp_path / "c.mp4", 0.3)
    n = probe_clip(clip).frames
    cfg = bench_config(need(YOLO_ONNX), ((120, 200), (630, 200)), 2, 640, 0.25, 0.7, workdir=tmp_path)
    detector, embedder = build_stages(cfg)
    store = Store(f"sqlite:///{tmp_path}/b.db")
    clocks = StageClock(), StageClock()
    for clock in clocks:
        runner, results = replay_timed(cfg, store, detector, embedder,
                                       [ReplayJob(c, clip) for c in cfg.site.cameras], clock)
        assert runner.frames == 2 * n and not any(r.error for r in results)
    store.close()
    for clock in clocks:  # each run's clock holds that run alone
        assert clock.frames["decode"] == 2 * n and clock.frames["inference"] == 2 * n
        assert all(clock.seconds[s] > 0 for s in STAGES if s != "reid")
        assert clock.calls["store"] >= 4  # writer, begin and finish of each camera's run, puts
