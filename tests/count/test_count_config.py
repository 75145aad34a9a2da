"""Counting config: strict keys, clear one-line errors, and the counter's own checks."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from vigil.config.geometry import CountingConfig, LineConfig, ZoneConfig
from vigil.config.load import read_yaml_model
from vigil.config.site import SiteConfig
from vigil.count import CameraCounter
from vigil.errors import ConfigError


@pytest.mark.parametrize("model, data, message", [
    (LineConfig, {"name": "a", "points": [[0, 0], [0, 0]]}, "are the same"),
    (LineConfig, {"name": "a", "points": [[-1, 0], [5, 5]]}, "negative coordinate"),
    (LineConfig, {"name": "a", "points": [[0, 0], [5, 5]], "in_side": "up"}, "'left' or 'right'"),
    (LineConfig, {"name": "a", "points": [[0, 0], [5, 5]], "anchor": "feet"}, "bottom_center"),
    (LineConfig, {"name": "a", "points": [[0, 0], [5, 5]], "min_frames": 0}, "greater than or equal to 1"),
    (LineConfig, {"name": "a", "points": [[0, 0], [5, 5]], "policy": "twice"}, "'once' or 'every'"),
    (LineConfig, {"name": "a", "points": [[0, 0], [5, 5]], "inside": "left"}, "Extra inputs"),
    (ZoneConfig, {"name": "z", "polygon": [[0, 0], [5, 5]]}, "at least 3 points"),
    (ZoneConfig, {"name": "z", "polygon": [[0, 0], [5, 5], [10, 10]]}, "zero area"),
    (CountingConfig, {"lost_after_s": 2, "reid_max_gap_s": 3}, "raise lost_after_s"),
    (CountingConfig, {"reid_min_similarity": 1.5}, "less than or equal to 1"),
])
def test_bad_values_are_rejected_with_a_reason(model, data, message):
    with pytest.raises(ValidationError, match=message):
        model.model_validate(data)


def test_site_yaml_error_names_the_key(tmp_path):
    cfg = tmp_path / "site.yaml"
    cfg.write_text("cameras:\n  - id: cam\n    lines:\n      - name: gate\n"
                   "        points: [[0, 0], [100, 0]]\n        min_frame: 3\n")
    with pytest.raises(ConfigError, match="unknown key 'min_frame'"):
        read_yaml_model(cfg, SiteConfig)


def test_counter_rejects_duplicate_names():
    line = LineConfig(name="x", points=((0, 0), (5, 5)))
    zone = ZoneConfig(name="x", polygon=[(0, 0), (5, 0), (5, 5)])
    with pytest.raises(ConfigError, match="'x' is used twice"):
        CameraCounter("cam", [line], [zone])


def test_counter_without_lines_or_zones_is_harmless():
    from tests.count.countkit import at, frame
    c = CameraCounter("cam", [], [])
    assert c.update(frame({1: (5, 5)}), at(0)) == [] and c.occupancy() == {}
    assert c.finish(at(1)) == []


def test_pipeline_counting_section_reaches_the_counter(tmp_path):
    from vigil.config.load import load_pipeline
    from vigil.config.site import CameraConfig
    from vigil.pipeline.camera import CameraPipeline

    p = tmp_path / "p.yaml"
    p.write_text("detector: {weights: x.onnx}\ncounting: {lost_after_s: 9, reid_min_similarity: 0.8}\n")
    pipe = CameraPipeline(CameraConfig(id="cam"), load_pipeline(p))
    assert (pipe.counter.cfg.lost_after_s, pipe.counter.cfg.reid_min_similarity) == (9, 0.8)
    p.write_text("detector: {weights: x.onnx}\ncounting: {lost_after: 9}\n")
    with pytest.raises(ConfigError, match="unknown key 'lost_after' at counting"):
        load_pipeline(p)
