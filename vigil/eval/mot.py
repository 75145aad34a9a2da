"""MOTChallenge sequences: discovery, public detections, and the run of a tracker over them.

A sequence folder holds `seqinfo.ini`, `gt/gt.txt` and public detections `det/*.txt`
(MOTChallenge text: frame, id, left, top, width, height, conf, ...; rows need not be
sorted by frame). MOT15 ground truth has no class column (it is -1): such sequences are
scored in TrackEval's MOT15 mode, without distractor preprocessing.
"""

from __future__ import annotations

import configparser
import dataclasses
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Protocol

import numpy as np

from vigil.errors import VigilError
from vigil.types import Detections


class MotDataError(VigilError):
    """A MOTChallenge folder, sequence or detection file is missing or malformed."""


@dataclass(frozen=True)
class MotSequence:
    name: str
    path: Path
    frame_rate: float
    length: int
    width: int
    height: int
    image_dir: Path | None  # None when the images are not shipped (e.g. MOT17 train here)
    image_ext: str = ".jpg"

    @property
    def gt_path(self) -> Path:
        return self.path / "gt" / "gt.txt"

    @property
    def mot15_style(self) -> bool:
        """True when the ground truth has no class column (MOT15): scored without preprocessing."""
        gt = _read_mot_txt(self.gt_path)
        return gt.shape[1] < 8 or bool(np.all(gt[:, 7] == -1))

    def image_path(self, frame: int) -> Path:
        assert self.image_dir is not None
        return self.image_dir / f"{frame:06d}{self.image_ext}"


def _read_mot_txt(path: Path) -> np.ndarray:
    """Rows of a MOTChallenge text file as float64 (comma or whitespace separated)."""
    try:
        text = path.read_text()
    except OSError as exc:
        raise MotDataError(f"cannot read {path}: {exc.strerror}; check the sequence folder") from None
    rows = [line.replace(",", " ").split() for line in text.splitlines() if line.strip()]
    if not rows:
        return np.zeros((0, 10))
    width = min(len(r) for r in rows)
    if width < 6:
        raise MotDataError(f"{path}: rows need at least 6 columns (frame, id, left, top, width, height)")
    try:
        return np.array([r[:width] for r in rows], dtype=np.float64)
    except ValueError:
        raise MotDataError(f"{path}: non-numeric value; expected MOTChallenge comma-separated numbers") from None


def read_sequence(path: Path) -> MotSequence:
    ini = path / "seqinfo.ini"
    if not ini.is_file():
        raise MotDataError(f"{path} has no seqinfo.ini; point --data at a MOTChallenge sequence or its parent")
    cp = configparser.ConfigParser()
    cp.read(ini)
    try:
        s = cp["Sequence"]
        length, rate = int(s["seqLength"]), float(s["frameRate"])
        width, height = int(s.get("imWidth", 0)), int(s.get("imHeight", 0))
        img = path / s.get("imDir", "img1")
        ext = s.get("imExt", ".jpg")
    except (KeyError, ValueError) as exc:
        raise MotDataError(f"{ini}: missing or bad [Sequence] entry {exc}; needs seqLength and frameRate") from None
    if not (path / "gt" / "gt.txt").is_file():
        raise MotDataError(f"{path} has no gt/gt.txt; only sequences with ground truth can be scored")
    has_images = img.is_dir() and any(img.glob(f"*{ext}"))
    return MotSequence(s.get("name", path.name), path, rate, length, width, height,
                       img if has_images else None, ext)


def discover_sequences(data: Path, seqs: list[str] | None = None) -> list[MotSequence]:
    """Sequences under `data` (a sequence folder itself, or a folder of them), optionally filtered by name."""
    data = Path(data)
    if not data.is_dir():
        raise MotDataError(f"--data {data} is not a folder; give a MOTChallenge sequence folder or its parent")
    if (data / "seqinfo.ini").is_file():
        found = {data.name: data}
    else:
        found = {p.name: p for p in sorted(data.iterdir()) if (p / "seqinfo.ini").is_file()}
    if seqs:
        missing = [s for s in seqs if s not in found]
        if missing:
            raise MotDataError(f"sequence {missing[0]!r} not found in {data}; available: {', '.join(found) or 'none'}")
        found = {s: found[s] for s in seqs}
    if not found:
        raise MotDataError(f"no MOTChallenge sequences (folders with seqinfo.ini) in {data}")
    return [read_sequence(p) for p in found.values()]


def resolve_det_file(seq: MotSequence, pattern: str) -> Path:
    """The detection file of `seq`: `pattern` relative to the sequence folder, may hold a glob."""
    matches = sorted(seq.path.glob(pattern))
    if not matches:
        alts = ", ".join(str(p.relative_to(seq.path)) for p in sorted(seq.path.glob("det/*.txt"))) or "none"
        raise MotDataError(f"no detection file {pattern!r} in {seq.path}; available: {alts} (use --det)")
    return matches[0]


def load_detections(path: Path, length: int) -> list[Detections]:
    """Per-frame detections (index 0 = frame 1) from a MOT det file, whatever its row order.

    Every box is a pedestrian (class 0); confidence is column 7 (1 when absent)."""
    rows = _read_mot_txt(path)
    frames = rows[:, 0].astype(np.int64)
    order = np.argsort(frames, kind="stable")
    rows, frames = rows[order], frames[order]
    if len(frames) and (frames.min() < 1 or frames.max() > length):
        raise MotDataError(f"{path}: frame numbers {frames.min()}..{frames.max()} outside 1..{length} of seqinfo.ini")
    xyxy = np.concatenate([rows[:, 2:4], rows[:, 2:4] + rows[:, 4:6]], axis=1).astype(np.float32)
    conf = rows[:, 6].astype(np.float32) if rows.shape[1] > 6 else np.ones(len(rows), np.float32)
    bounds = np.searchsorted(frames, np.arange(1, length + 2))
    return [Detections(xyxy=xyxy[a:b], confidence=conf[a:b], class_id=np.zeros(b - a, np.int32))
            for a, b in zip(bounds[:-1], bounds[1:])]


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


def read_image(seq: MotSequence, frame: int) -> np.ndarray:
    import cv2

    image = cv2.imread(str(seq.image_path(frame)))
    if image is None:
        raise MotDataError(f"cannot read image {seq.image_path(frame)}")
    return image


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
    from vigil.eval.trackeval_adapter import score

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
