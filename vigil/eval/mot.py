"""`vigil eval mot`: run trackers over MOTChallenge sequences and score them with TrackEval.

Every tracker gets the same public detections (mot_sequences); only its update calls are
timed; scoring is trackeval_adapter's."""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass
from typing import Callable, Protocol

import numpy as np

from vigil.eval.mot_sequences import MotDataError, MotSequence, load_detections, read_image, resolve_det_file
from vigil.eval.trackeval_adapter import score
from vigil.types import Detections


class FrameTracker(Protocol):
    def update(self, dets: Detections, t: float, image: np.ndarray | None = None) -> Detections: ...


@dataclass
class TrackRun:
    """Tracker output of one sequence as MOTChallenge rows, and the tracker-only time spent."""
    rows: np.ndarray  # (M, 6): frame, id, left, top, width, height
    seconds: float
    frames: int
    embedded: int = 0  # detections whose embedding the tracker was given (with --reid)
    detections: int = 0

    @property
    def ms_per_frame(self) -> float:
        return 1000.0 * self.seconds / max(self.frames, 1)


def run_sequence(seq: MotSequence, dets: list[Detections], tracker: FrameTracker,
                 use_images: bool = False, reid_refresh: float | None = None) -> TrackRun:
    """Feed `dets` frame by frame to `tracker`, timing only its update calls (CPU time of this
    process, so other work on the machine does not inflate it). With `use_images`
    (and images in the sequence) the tracker also gets each frame, for camera-motion compensation.
    With `reid_refresh` (seconds) and embedded detections, a tracker that can say which rows need
    appearance (Vigil's) gets only those, the rest zeroed: the pipeline's selective re-ID."""
    images = use_images and seq.image_dir is not None
    out, spent, embedded, seen = [], 0.0, 0, 0
    for i, frame_dets in enumerate(dets):
        image = read_image(seq, i + 1) if images else None
        if frame_dets.embedding is not None:
            seen += len(frame_dets)
            if reid_refresh is not None and hasattr(tracker, "embedding_wanted"):
                wanted = tracker.embedding_wanted(frame_dets, i / seq.frame_rate, reid_refresh)
                frame_dets = dataclasses.replace(frame_dets, embedded=wanted, embedding=np.where(
                    wanted[:, None], frame_dets.embedding, 0.0).astype(np.float32))
                embedded += int(wanted.sum())
            else:
                embedded += len(frame_dets)
        t0 = time.process_time()
        tracks = tracker.update(frame_dets, i / seq.frame_rate, image)
        spent += time.process_time() - t0
        if len(tracks):
            xywh = np.concatenate([tracks.xyxy[:, :2], tracks.xyxy[:, 2:] - tracks.xyxy[:, :2]], axis=1)
            out.append(np.column_stack([np.full(len(tracks), i + 1), tracks.tracker_id, xywh]))
    rows = np.concatenate(out) if out else np.zeros((0, 6))
    return TrackRun(rows=rows, seconds=spent, frames=len(dets), embedded=embedded, detections=seen)


def embed_detections(seq: MotSequence, dets: list[Detections],
                     embed: Callable[[np.ndarray, Detections], Detections]) -> list[Detections]:
    """Appearance embeddings for every detection, from the sequence's images."""
    if seq.image_dir is None:
        raise MotDataError(f"{seq.path} has no images ({seq.path / 'img1'}); --reid needs them")
    return [embed(read_image(seq, i + 1), d) if len(d) else d for i, d in enumerate(dets)]


def evaluate(sequences: list[MotSequence], det_pattern: str, trackers: dict[str, Callable[[], FrameTracker]],
             use_images: bool = False,
             embed: Callable[[np.ndarray, Detections], Detections] | None = None,
             reid_refresh: float | None = None) -> dict[str, dict[str, dict]]:
    """Run every tracker on every sequence (a fresh instance per sequence) and score them with TrackEval.

    Returns {tracker: {"combined": metrics, seq: metrics}}; metrics hold HOTA, DetA, AssA, MOTA, IDF1
    (0-100), IDSW, FP, FN and ms_per_frame (tracker time only)."""
    modes = {s.name: ("MOT15" if s.mot15_style else "MOT17") for s in sequences}
    if len(set(modes.values())) > 1:
        raise MotDataError("sequences mix MOT15-style (no class column) and MOT17-style ground truth: "
                           "evaluate them in separate runs (--seqs)")
    rows: dict[str, dict[str, np.ndarray]] = {name: {} for name in trackers}
    times: dict[str, dict[str, TrackRun]] = {name: {} for name in trackers}
    for seq in sequences:
        dets = load_detections(resolve_det_file(seq, det_pattern), seq.length)
        if embed is not None:
            dets = embed_detections(seq, dets, embed)
        for name, make in trackers.items():
            run = run_sequence(seq, dets, make(), use_images=use_images, reid_refresh=reid_refresh)
            rows[name][seq.name], times[name][seq.name] = run.rows, run
    scores = score(rows, sequences, next(iter(modes.values())))
    for name, per_seq in scores.items():
        for seq_name, metrics in per_seq.items():
            runs = list(times[name].values()) if seq_name == "combined" else [times[name][seq_name]]
            metrics["ms_per_frame"] = 1000.0 * sum(r.seconds for r in runs) / max(sum(r.frames for r in runs), 1)
            if embed is not None:
                metrics["embedded_fraction"] = sum(r.embedded for r in runs) / max(sum(r.detections for r in runs), 1)
    return scores
