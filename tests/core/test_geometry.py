"""Lines and zones: finite, bounded pixel coordinates, and a warning when they miss the frame."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from vigil.config.fusion import FUSION_METHODS
from vigil.config.geometry import LineConfig, ZoneConfig
from vigil.config.site import CameraConfig
from vigil.count.geometry import outside_frame


@pytest.mark.parametrize("bad, needle", [
    (float("nan"), "finite number"), (float("inf"), "finite number"), ("-inf", "finite number"),
    (1e308, "beyond 100000 pixels"), (100_001, "beyond 100000 pixels"), (-1, "negative coordinate"),
])
def test_coordinates_are_finite_and_bounded(bad, needle):
    with pytest.raises(ValidationError, match=needle):
        LineConfig(name="l", points=[[bad, 0], [10, 10]])
    with pytest.raises(ValidationError, match=needle):
        ZoneConfig(name="z", polygon=[[0, 0], [10, bad], [10, 10]])


def camera(**kw) -> CameraConfig:
    return CameraConfig(id="cam", source="v.mp4", **kw)


def test_lines_drawn_for_640x360_warn_on_a_320x180_video():
    cam = camera(lines=[{"name": "road", "points": [[0, 300], [640, 300]]},
                        {"name": "kerb", "points": [[100, 100], [600, 100]]},
                        {"name": "inside", "points": [[10, 10], [300, 170]]}],
                 zones=[{"name": "lot", "polygon": [[400, 200], [600, 200], [600, 350]]},
                        {"name": "door", "polygon": [[0, 0], [320, 0], [320, 180], [0, 180]]}])
    msgs = outside_frame(cam, 320, 180)
    assert len(msgs) == 3
    road, kerb, lot = msgs
    assert "line 'road' lies wholly outside the 320x180 frame" in road and "camera 'cam'" in road
    assert "line 'kerb' lies mostly (56%) outside" in kerb and "x 100.0-600.0" in kerb
    assert "zone 'lot' lies wholly outside" in lot
    assert all("redraw it in pixels of the 320x180 video" in m and "\n" not in m for m in msgs)
    assert outside_frame(cam, 640, 360) == []  # the size they were drawn for


def test_a_line_crossing_the_frame_from_outside_is_mostly_outside():
    cam = camera(lines=[{"name": "diag", "points": [[0, 400], [400, 0]]}])  # both ends outside 320x180
    assert "mostly (75%)" in outside_frame(cam, 320, 180)[0]


def test_shapes_reaching_a_little_past_the_edge_are_fine():
    """configs/people.yaml draws its exit line and zone 8 px below the 768x432 frame, on purpose."""
    from vigil.config import load_site

    cfg = load_site("configs/people.yaml")
    assert outside_frame(cfg.site.cameras[0], 768, 432) == []
    bowtie = camera(zones=[{"name": "x", "polygon": [[0, 0], [100, 100], [100, 0], [0, 40]]}])  # self-crossing
    assert outside_frame(bowtie, 320, 180) == []


def test_config_fusion_methods_match_the_fusion_code():
    from vigil.fusion.fuse import method_names

    assert set(FUSION_METHODS) == {"default", *method_names()}


def test_config_imports_no_implementation():
    """vigil.config is the contract: loading and validating it must not pull in fusion (which the
    thermal method check used to import), sources, detect or the store. vigil.classes (the class
    vocabulary a detector config defines) is contract too: it imports only vigil.types."""
    import subprocess
    import sys

    code = ("import sys, vigil.config, vigil.config.database, vigil.config.geometry; "
            "vigil.config.fusion.ThermalConfig(source='t.mp4', method='gff'); "
            "print(sorted(m for m in sys.modules if m.startswith('vigil.') and m.split('.')[1] not in "
            "('config', 'errors', 'types', 'classes', 'secrets')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
