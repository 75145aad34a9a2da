"""Mode auto's probes: now and then the detector also sees the inputs auto did not choose, and
auto moves to one that finds clearly more; brightness is only the first guess."""

import logging
from datetime import timedelta

import cv2
import numpy as np
import pytest

from tests.fusion.data import VIFB_INPUT
from tests.fusion.test_paired import T0
from tests.support.data import YOLO_ONNX, need
from vigil.config.fusion import ThermalConfig
from vigil.config.pipeline import DetectorConfig, PipelineConfig
from vigil.config.site import CameraConfig
from vigil.errors import SourceError
from vigil.eval.fusion_detections import Sample, choose_auto
from vigil.fusion.compose import LIGHT_CHANGE, PROBE_MARGIN, ThermalComposer
from vigil.pipeline.camera import CameraPipeline
from vigil.pipeline.round import AnalysisRound
from vigil.sources.paired import PairedSource
from vigil.types import Frame

IDENTITY = [[1, 0, 0], [0, 1, 0], [0, 0, 1]]


def _cfg(**kw):
    return ThermalConfig(**{"source": "t.mp4", "mode": "auto", "homography": IDENTITY, **kw})


def _shown(stats, before):
    """Which input the composer just passed on, from its counters."""
    return next(m for m in ("rgb", "fused", "thermal") if getattr(stats, f"shown_{m}") > before[m])


def test_auto_moves_to_the_input_the_real_detector_finds_more_on(caplog):
    # VIFB "snow": a bright daylight scene (brightness 175, so the thresholds say RGB) where YOLO
    # finds far more on the fused image (16 detections) than on the RGB one (5), falling snow hiding people
    vis = cv2.imread(str(need(VIFB_INPUT / "VI" / "snow.jpg")))
    ir = cv2.imread(str(need(VIFB_INPUT / "IR" / "snow.jpg")))
    times = [i / 10 for i in range(9)]
    rgb = [Frame(vis, i, t, T0 + timedelta(seconds=t), "cam") for i, t in enumerate(times)]
    thermal = [Frame(ir, i, t, T0 + timedelta(seconds=t), "cam") for i, t in enumerate(times)]
    src = PairedSource(rgb, thermal, _cfg(probe_every=3), "cam", estimator=None)
    from vigil.detect.yolo import YoloDetector

    round_ = AnalysisRound(YoloDetector(weights=need(YOLO_ONNX)))
    pipe = CameraPipeline(CameraConfig(id="cam", source="x"), PipelineConfig(detector=DetectorConfig(weights="x")))
    stats, shown, probed = src.composer.stats, [], []
    caplog.set_level(logging.INFO, logger="vigil.fusion.compose")
    before = {m: 0 for m in ("rgb", "fused", "thermal")}
    for frame in src:
        shown.append(_shown(stats, before))
        before = {m: getattr(stats, f"shown_{m}") for m in before}
        probed.append(frame.probe is not None)
        if frame.probe is not None:  # the frame carries exactly the two inputs it did not show
            assert set(frame.probe.images) == {"rgb", "fused", "thermal"} - {shown[-1]}
        (res,) = round_([(pipe, frame)])
        assert res.error is None
    assert shown == ["rgb"] + ["fused"] * 8
    assert probed == [True, False, False, False, True, False, False, False, True]
    assert (stats.probes, stats.switches) == (3, 1)
    (said,) = [r.getMessage() for r in caplog.records if "auto now gives" in r.getMessage()]
    assert "fused instead of rgb" in said


def _composer(**kw):
    comp = ThermalComposer(_cfg(**kw), "cam", estimator=None)
    return comp


def _step(comp, level, scores=None):
    """One paired frame at RGB brightness `level`; a probe on it is answered with `scores`."""
    img = np.full((32, 48, 3), level, np.uint8)
    image, probe = comp.compose(img, np.full((32, 48), 128, np.uint8))
    if probe is not None and scores is not None:
        probe.report(scores)
    return comp._band, probe is not None


def test_auto_switches_only_past_the_margin_and_weighs_several_probes():
    comp = _composer(probe_every=1, dark_threshold=55, bright_threshold=60)
    assert _step(comp, 150, {"rgb": 2.0, "fused": 2.0 * PROBE_MARGIN, "thermal": 0.0}) == ("rgb", True)  # not past
    assert _step(comp, 150) == ("rgb", False)
    # over the window: rgb 2 + 1, fused 3 + 3 = 6 > 1.5 x 3
    assert _step(comp, 150, {"rgb": 1.0, "fused": 3.0, "thermal": 0.0}) == ("fused", True)
    assert comp.stats.switches == 1
    # nothing found anywhere says nothing: auto stays
    assert _step(comp, 150) == ("fused", False)
    assert _step(comp, 150, {"rgb": 0.0, "fused": 0.0, "thermal": 0.0}) == ("fused", True)


def test_a_change_of_light_makes_the_evidence_stale_and_probes_at_once():
    comp = _composer(probe_every=100, dark_threshold=55, bright_threshold=60)
    assert _step(comp, 150, {"rgb": 0.0, "fused": 5.0, "thermal": 1.0}) == ("fused", True)
    assert _step(comp, 150 - LIGHT_CHANGE + 1) == ("fused", False)  # the probes' choice holds
    # night falls: the thresholds' guess again (thermal), and a probe on this very frame
    assert _step(comp, 20, {"rgb": 0.5, "fused": 1.0, "thermal": 0.9}) == ("thermal", True)
    assert _step(comp, 20) == ("thermal", False)


def test_no_probes_without_a_thermal_partner_or_with_probe_every_0():
    comp = _composer(probe_every=2)
    image, probe = comp.compose(np.full((32, 48, 3), 150, np.uint8), None)
    assert probe is None and comp.stats.probes == 0
    assert _step(comp, 150)[1]  # the next pair is probed
    off = _composer(probe_every=0)
    assert not any(_step(off, 150)[1] for _ in range(5))


def test_a_failing_probe_leaves_the_frame_and_auto_alone(caplog):
    class Flaky:
        calls = 0

        def detect(self, images):
            Flaky.calls += 1
            if Flaky.calls > 1:
                raise RuntimeError("out of memory")
            from vigil.types import Detections

            return [Detections.empty() for _ in images]

    comp = _composer(probe_every=1)
    img = np.full((32, 48, 3), 150, np.uint8)
    image, probe = comp.compose(img, np.full((32, 48), 128, np.uint8))
    frame = Frame(image, 0, 0.0, T0, "cam", probe=probe)
    pipe = CameraPipeline(CameraConfig(id="cam", source="x"), PipelineConfig(detector=DetectorConfig(weights="x")))
    (res,) = AnalysisRound(Flaky())([(pipe, frame)])
    assert res.error is None and res.detections is not None
    assert comp._band == "rgb" and "probe" in caplog.text


@pytest.mark.parametrize("mode", ["fused", "thermal"])
def test_fixed_modes_never_probe(mode):
    comp = ThermalComposer(_cfg(mode=mode, probe_every=1), "cam", estimator=None)
    assert not any(_step(comp, 150)[1] for _ in range(3))


def test_an_empty_scene_says_nothing_and_dusk_still_reaches_thermal():
    # probes that find nothing anywhere (an empty street) leave auto to the brightness rule, so
    # a slow fade, a level or two between probes, still ends on thermal
    comp = _composer(probe_every=2)
    for level in range(160, 9, -1):
        _step(comp, level, {"rgb": 0.0, "fused": 0.0, "thermal": 0.0})
    assert comp.input == "thermal" and comp.stats.probes > 40 and comp.stats.switches == 0


def test_a_slow_fade_drops_the_evidence_once_the_light_moved_from_where_it_began(caplog):
    caplog.set_level(logging.INFO, logger="vigil.fusion.compose")
    comp = _composer(probe_every=2)
    fused = {"rgb": 0.2, "fused": 3.0, "thermal": 0.1}
    levels = list(range(150, 150 - int(LIGHT_CHANGE) - 3, -1))
    for level in levels:
        _step(comp, level, fused)
    changed = [r.getMessage() for r in caplog.records if "the light changed" in r.getMessage()]
    assert changed and "150 ->" in changed[0]  # measured from where the evidence began, not the last probe


def test_a_probe_taken_before_the_light_changed_is_not_weighed():
    comp = _composer(probe_every=100)
    _step(comp, 150, {"rgb": 1.0, "fused": 0.0, "thermal": 0.0})  # evidence: rgb
    comp._since_probe = 100
    _, probe = comp.compose(np.full((32, 48, 3), 150, np.uint8), np.full((32, 48), 128, np.uint8))
    assert probe is not None
    _step(comp, 20)  # night falls before the probe's result is back: evidence dropped, thermal by brightness
    probe.report({"rgb": 9.0, "fused": 0.0, "thermal": 0.0})  # daylight's answer, arriving late
    assert comp.input == "thermal" and comp.stats.switches == 0


def test_a_registration_only_a_probe_wants_never_stops_the_camera():
    def refuses(vis, ir):
        raise SourceError("too few textured patches")

    comp = ThermalComposer(ThermalConfig(source="t.mp4", mode="auto", probe_every=1), "cam", estimator=refuses)
    bright, ir = np.full((32, 48, 3), 150, np.uint8), np.full((32, 48), 128, np.uint8)
    for _ in range(20):  # daylight: RGB is shown, the probes' estimates fail quietly
        image, probe = comp.compose(bright, ir)
        assert image is bright and probe is None
    assert comp.stats.shown_rgb == 20
    with pytest.raises(SourceError, match="could not register"):  # at night the warp is needed: 5 tries
        for _ in range(5):
            comp.compose(np.full((32, 48, 3), 10, np.uint8), ir)


def test_the_halves_measure_never_lets_a_probe_see_the_half_it_is_scored_on():
    # left half: thermal finds everything; right half: rgb does. A probe of the other half picks
    # the wrong input for each half, so auto with probes scores rgb-on-left + thermal-on-right
    halves = {"rgb": (0.1, 4.0), "thermal": (3.0, 0.2), "fused": (0.0, 0.0)}
    s = Sample("p", "synthetic", 1.0, 150.0, {m: [] for m in ("rgb", "thermal", "fused")}, dict(halves))
    choose_auto([s], 55.0, 60.0)
    assert s.halves["auto (probes)"] == (0.1, 0.2)
    assert s.halves["auto"] == halves["rgb"]  # brightness alone: rgb on both halves


def test_the_dashboard_says_what_the_detector_sees():
    from vigil.live.daemon import detector_input

    assert detector_input({"mode": "fused", "input": "fused"}) == "fused"
    assert detector_input({"mode": "auto", "input": "thermal", "probes": 1, "switches": 2}) == \
        "thermal (auto: 1 probe, 2 switches)"
