"""Frames for the dashboard: the daemon's newest analysed frame and its tracks, or, without a
daemon, one frame decoded from a camera's file source (for the editor). JPEG encoding happens
here, when a browser asks, never per analysed frame."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np

from vigil.classes import DEFAULT_VOCAB, ClassVocab
from vigil.config.site import CameraConfig, SiteConfig
from vigil.types import Detections, Frame


class LiveCameraLike(Protocol):
    """What the view reads from vigil.live.daemon.LiveCamera (not imported: the web layer does
    not depend on the daemon, and `vigil serve` has none)."""

    latest: tuple[Frame, Detections | None, Detections | None] | None

    @property
    def camera_id(self) -> str: ...


class DaemonLike(Protocol):
    cameras: list
    state: str

    def snapshot(self) -> dict: ...


def encode_jpeg(image: np.ndarray, quality: int = 80) -> bytes:
    import cv2

    ok, buf = cv2.imencode(".jpg", image, [int(cv2.IMWRITE_JPEG_QUALITY), quality])
    if not ok:
        raise ValueError("JPEG encoding failed")
    return buf.tobytes()


def boxes_json(dets: Detections | None, vocab: ClassVocab = DEFAULT_VOCAB) -> list[dict]:
    rows: list[dict] = []
    if dets is None:
        return rows
    for box, cid, tid, conf in zip(dets.xyxy.tolist(), dets.class_id.tolist(), dets.tracker_id.tolist(),
                                   dets.confidence.tolist()):
        rows.append({"id": tid, "class": vocab.name(cid),
                     "confidence": round(conf, 3), "xyxy": [round(v, 1) for v in box]})
    return rows


def tracks_json(frame: Frame, detections: Detections | None, tracks: Detections | None,
                vocab: ClassVocab = DEFAULT_VOCAB) -> dict:
    """One analysed frame's boxes as plain JSON, in that frame's pixels: the detector's boxes
    (id -1) and the tracker's confirmed tracks (with ids; what the counter sees)."""
    h, w = frame.shape
    return {"width": w, "height": h, "frame": frame.index, "time": frame.time.isoformat(),
            "detections": boxes_json(detections, vocab), "tracks": boxes_json(tracks, vocab)}


def geometry_json(cam: CameraConfig) -> dict:
    """The camera's lines and zones as the editor posts them back: every non-default setting
    (anchor, min_frames, ...) included, so editing one shape never drops another's settings."""
    from vigil.web.editor import Geometry, as_data

    return {"lines": [], "zones": [], **as_data(Geometry(lines=cam.lines, zones=cam.zones))}


def first_frame(path: Path) -> np.ndarray:
    """Frame 0 of a video file, BGR, decoded by PyAV."""
    import av

    with av.open(str(path)) as container:
        for frame in container.decode(video=0):
            return frame.to_ndarray(format="bgr24")
    raise ValueError(f"{path} has no video frames")


@dataclass
class FrameSource:
    """Where the dashboard gets cameras, geometry and pictures. `daemon` is None under
    `vigil serve`; `site` (with `site_dir`, where relative file sources start) is None when
    no site config was given."""

    daemon: DaemonLike | None = None
    site: SiteConfig | None = None
    site_dir: Path | None = None

    def __post_init__(self) -> None:
        self._stills: dict[str, bytes] = {}
        self._lock = threading.Lock()

    @property
    def live(self) -> bool:
        return self.daemon is not None

    def camera_ids(self) -> list[str]:
        if self.daemon is not None:
            return [c.camera_id for c in self.daemon.cameras]
        return [c.id for c in self.site.cameras] if self.site else []

    def camera_config(self, camera_id: str) -> CameraConfig | None:
        if self.daemon is not None:
            for c in self.daemon.cameras:
                if c.camera_id == camera_id:
                    return c.pipeline.camera
        if self.site is not None:
            try:
                return self.site.camera(camera_id)
            except KeyError:
                return None
        return None

    def _live_camera(self, camera_id: str) -> LiveCameraLike | None:
        if self.daemon is None:
            return None
        return next((c for c in self.daemon.cameras if c.camera_id == camera_id), None)

    def health(self) -> dict[str, dict]:
        if self.daemon is None:
            return {}
        return {h["camera"]: h for h in self.daemon.snapshot()["cameras"]}

    def vocab(self, camera_id: str) -> ClassVocab:
        """The class names of the camera's pipeline (what its boxes' class ids mean)."""
        cam = self._live_camera(camera_id)
        return getattr(getattr(cam, "pipeline", None), "vocab", DEFAULT_VOCAB)

    def latest(self, camera_id: str) -> tuple[Frame, Detections | None, Detections | None] | None:
        cam = self._live_camera(camera_id)
        return None if cam is None else cam.latest

    def frame_jpeg(self, camera_id: str) -> bytes | None:
        """The newest analysed frame, else frame 0 of the camera's file source (decoded once),
        else None."""
        got = self.latest(camera_id)
        if got is not None:
            return encode_jpeg(got[0].image)
        return self._still(camera_id)

    def _still(self, camera_id: str) -> bytes | None:
        cfg = self.camera_config(camera_id)
        if cfg is None or not cfg.source or "://" in cfg.source:
            return None
        with self._lock:
            if camera_id not in self._stills:
                path = Path(cfg.source)
                if not path.is_absolute() and self.site_dir is not None:
                    path = self.site_dir / path
                if not path.is_file():
                    return None
                self._stills[camera_id] = encode_jpeg(first_frame(path))
            return self._stills[camera_id]
