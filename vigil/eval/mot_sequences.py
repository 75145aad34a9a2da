"""MOTChallenge sequences: discovery, ground-truth layout, public detections and images.

A sequence folder holds `seqinfo.ini`, `gt/gt.txt` and public detections `det/*.txt`
(MOTChallenge text: frame, id, left, top, width, height, conf, ...; rows need not be
sorted by frame). MOT15 ground truth has no class column (it is -1): such sequences are
scored in TrackEval's MOT15 mode, without distractor preprocessing.
"""

from __future__ import annotations

import configparser
from dataclasses import dataclass
from pathlib import Path

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


def read_image(seq: MotSequence, frame: int) -> np.ndarray:
    import cv2

    image = cv2.imread(str(seq.image_path(frame)))
    if image is None:
        raise MotDataError(f"cannot read image {seq.image_path(frame)}")
    return image
