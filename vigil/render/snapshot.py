"""Event snapshots: a JPEG crop of the counted object on the frame where the event was decided,
capped in size by lowering the JPEG quality, then the resolution."""

from __future__ import annotations

import dataclasses

import cv2
import numpy as np

from vigil.config.snapshots import SnapshotConfig
from vigil.types import CountEvent, Detections, Frame

QUALITIES = (85, 70, 55, 40, 25)


def crop(image: np.ndarray, box: np.ndarray, margin: float, max_side: int) -> np.ndarray:
    """The box widened by `margin` on each side, clipped to the image, scaled to `max_side`."""
    h, w = image.shape[:2]
    x1, y1, x2, y2 = (float(v) for v in box)
    mx, my = (x2 - x1) * margin, (y2 - y1) * margin
    x1, y1 = int(max(0, np.floor(x1 - mx))), int(max(0, np.floor(y1 - my)))
    x2, y2 = int(min(w, np.ceil(x2 + mx))), int(min(h, np.ceil(y2 + my)))
    if x2 - x1 < 2 or y2 - y1 < 2:
        return image[0:0, 0:0]
    out = image[y1:y2, x1:x2]
    scale = max_side / max(out.shape[:2])
    if scale < 1:
        out = cv2.resize(out, (max(1, round(out.shape[1] * scale)), max(1, round(out.shape[0] * scale))),
                         interpolation=cv2.INTER_AREA)
    return out


def encode_capped(bgr: np.ndarray, max_bytes: int) -> bytes | None:
    """JPEG of `bgr` no larger than max_bytes: lower quality first, then halve the size."""
    img = bgr
    while min(img.shape[:2]) >= 8:
        for q in QUALITIES:
            ok, buf = cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, q])
            if ok and buf.size <= max_bytes:
                return buf.tobytes()
        img = cv2.resize(img, (img.shape[1] // 2, img.shape[0] // 2), interpolation=cv2.INTER_AREA)
    return None


class Snapshotter:
    """Attaches a snapshot to each event whose track is on the frame."""

    def __init__(self, config: SnapshotConfig) -> None:
        self.config = config

    def attach(self, frame: Frame, tracks: Detections, events: list[CountEvent],
               ids: np.ndarray | None = None) -> list[CountEvent]:
        """ids: the id each track's events carry (the counter's identities), if not its tracker id."""
        if not events or not len(tracks):
            return events
        row = {int(t): i for i, t in enumerate(tracks.tracker_id if ids is None else ids)}
        out = []
        for e in events:
            i = row.get(int(e.track_id))
            # an exit decided after the track was lost has no box on this frame: no snapshot
            if i is not None:
                part = crop(frame.image, tracks.xyxy[i], self.config.margin, self.config.max_side)
                jpeg = encode_capped(part, self.config.max_kb * 1024) if part.size else None
                if jpeg is not None:
                    e = dataclasses.replace(e, snapshot=jpeg)
            out.append(e)
        return out
