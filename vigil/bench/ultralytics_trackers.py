"""Ultralytics' own ByteTrack and BoT-SORT behind Vigil's tracker interface, for comparison.

They run with their default settings (`ultralytics/cfg/trackers/*.yaml`), fed the same
detections as Vigil's tracker. Output boxes are theirs (Kalman state), as in ultralytics.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from vigil.types import Detections

CONFIGS = {"ultralytics-bytetrack": "bytetrack.yaml", "ultralytics-botsort": "botsort.yaml"}
ULTRALYTICS_TRACKERS = tuple(CONFIGS)


class _Boxes:
    """The slice of ultralytics' `Boxes` API its trackers read (conf, cls, xyxy, xywh, masks)."""

    def __init__(self, xyxy: np.ndarray, conf: np.ndarray, cls: np.ndarray):
        self.xyxy, self.conf, self.cls = xyxy, conf, cls

    @property
    def xywh(self) -> np.ndarray:
        return np.concatenate([(self.xyxy[:, :2] + self.xyxy[:, 2:]) / 2, self.xyxy[:, 2:] - self.xyxy[:, :2]], 1)

    def __len__(self) -> int:
        return len(self.conf)

    def __getitem__(self, idx) -> "_Boxes":
        return _Boxes(self.xyxy[idx], self.conf[idx], self.cls[idx])


class UltralyticsTracker:
    """`update(dets, t, image) -> Detections` around ultralytics.trackers BYTETracker / BOTSORT."""

    def __init__(self, name: str):
        import ultralytics
        from ultralytics.utils import YAML, IterableSimpleNamespace

        if name not in CONFIGS:
            raise ValueError(f"unknown ultralytics tracker {name!r}; choose from {', '.join(CONFIGS)}")
        cfg_path = Path(ultralytics.__file__).parent / "cfg" / "trackers" / CONFIGS[name]
        self.args = IterableSimpleNamespace(**YAML.load(cfg_path))
        self.name = name
        self.reset()

    def reset(self) -> None:
        from ultralytics.trackers.bot_sort import BOTSORT
        from ultralytics.trackers.byte_tracker import BYTETracker

        cls = BOTSORT if self.args.tracker_type == "botsort" else BYTETracker
        self._tracker = cls(args=self.args)

    def update(self, dets: Detections, t: float, image: np.ndarray | None = None) -> Detections:
        boxes = _Boxes(dets.xyxy.astype(np.float32), dets.confidence.astype(np.float32),
                       dets.class_id.astype(np.float32))
        out = self._tracker.update(boxes, image)
        if len(out) == 0:
            return Detections.empty()
        idx = out[:, 7].astype(np.int64)
        return Detections(xyxy=out[:, :4], confidence=out[:, 5], class_id=dets.class_id[idx],
                          tracker_id=out[:, 4].astype(np.int64))
