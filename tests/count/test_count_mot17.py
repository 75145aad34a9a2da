"""MOT17-09 ground-truth tracks through the counter versus a separate per-track sign-change count."""

from __future__ import annotations

import configparser
from collections import Counter
from datetime import timedelta

import numpy as np
import pytest

from tests.count.countkit import T0
from tests.support.data import SHARED, need
from vigil.config.geometry import LineConfig
from vigil.count import CameraCounter
from vigil.types import CLASS_IDS, Detections

SEQ = SHARED / "mot" / "MOT17" / "train" / "MOT17-09-FRCNN"


@pytest.fixture(scope="module")
def mot17_09():
    gt = np.loadtxt(need(SEQ / "gt" / "gt.txt"), delimiter=",", ndmin=2)
    gt = gt[(gt[:, 6] == 1) & (gt[:, 7] == 1)]          # pedestrians that count in the benchmark
    info = configparser.ConfigParser()
    info.read(need(SEQ / "seqinfo.ini"))
    seq = info["Sequence"]
    return gt, float(seq["frameRate"]), int(seq["imWidth"]), int(seq["imHeight"])


def independent_count(gt: np.ndarray, x_line: float, y_max: float, policy: str) -> Counter:
    """Per track in frame order: each change of side of the bottom-centre x relative to x_line whose
    straight move meets x = x_line at a height within [0, y_max]. Moving right (+x) is 'in'."""
    counts = Counter()
    for tid in np.unique(gt[:, 1]):
        rows = gt[gt[:, 1] == tid]
        rows = rows[np.argsort(rows[:, 0])]
        x = rows[:, 2] + rows[:, 4] / 2
        y = rows[:, 3] + rows[:, 5]
        seen = set()
        for k in range(1, len(rows)):
            if (x[k - 1] < x_line) == (x[k] < x_line):
                continue
            f = (x_line - x[k - 1]) / (x[k] - x[k - 1])
            if not 0 <= y[k - 1] + f * (y[k] - y[k - 1]) <= y_max:
                continue
            direction = "in" if x[k] > x_line else "out"
            if policy == "every" or direction not in seen:
                counts[direction] += 1
                seen.add(direction)
    return counts


def counter_count(gt: np.ndarray, fps: float, line: LineConfig) -> Counter:
    counter = CameraCounter("mot17-09", [line], [])
    events = []
    frames = gt[:, 0].astype(int)
    for f in range(frames.min(), frames.max() + 1):
        rows = gt[frames == f]
        xyxy = np.c_[rows[:, 2], rows[:, 3], rows[:, 2] + rows[:, 4], rows[:, 3] + rows[:, 5]]
        dets = Detections(xyxy=xyxy, tracker_id=rows[:, 1].astype(int),
                          class_id=np.full(len(rows), CLASS_IDS["pedestrian"]))
        events += counter.update(dets, T0 + timedelta(seconds=(f - 1) / fps))
    events += counter.finish(T0 + timedelta(seconds=frames.max() / fps))
    assert all(e.class_name == "pedestrian" for e in events)
    return Counter(e.direction for e in events)


@pytest.mark.parametrize("policy", ["once", "every"])
@pytest.mark.parametrize("x_fraction", [0.25, 0.5, 0.75])
def test_vertical_line_matches_independent_count(mot17_09, x_fraction, policy):
    gt, fps, width, height = mot17_09
    x_line = round(width * x_fraction) + 0.25          # off the half-pixel grid of box centres: no ties
    y_max = 4.0 * height                                # the whole frame and beyond (boxes overhang it)
    # A->B points down the screen, so its left (on screen) is +x: walking right is 'in'.
    line = LineConfig(name="v", points=((x_line, 0), (x_line, y_max)), in_side="left", policy=policy)
    expected = independent_count(gt, x_line, y_max, policy)
    assert sum(expected.values()) > 0
    assert counter_count(gt, fps, line) == expected


def test_segment_extent_matches_independent_count(mot17_09):
    gt, fps, width, height = mot17_09
    x_line = width / 2 + 0.25
    full = independent_count(gt, x_line, 4.0 * height, "every")
    part = independent_count(gt, x_line, 850.0, "every")   # the upper part only: some feet pass below it
    assert sum(part.values()) < sum(full.values())
    line = LineConfig(name="v", points=((x_line, 0), (x_line, 850.0)), in_side="left", policy="every")
    assert counter_count(gt, fps, line) == part

