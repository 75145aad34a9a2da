"""The currency types passed between stages: `Frame`, `Detections` and `CountEvent`.

`Detections` is a struct of numpy arrays (like supervision's `Detections` or
ultralytics' `Boxes`): every stage takes and returns one, rows stay aligned
across the arrays, and boolean / integer indexing selects rows in all of them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Callable, Iterator, Literal, get_args

import numpy as np

# Vigil's own class ids. COCO ids are mapped onto these by the detector.
CLASS_NAMES: tuple[str, ...] = ("pedestrian", "bicycle", "car", "motorcycle", "bus", "truck")
CLASS_IDS: dict[str, int] = {name: i for i, name in enumerate(CLASS_NAMES)}
VEHICLE_CLASSES: frozenset[str] = frozenset({"bicycle", "car", "motorcycle", "bus", "truck"})
# COCO class id -> Vigil class id (person, bicycle, car, motorcycle, bus, truck).
COCO_TO_VIGIL: dict[int, int] = {0: 0, 1: 1, 2: 2, 3: 3, 5: 4, 7: 5}


# What a CountEvent can say; the store, the queries, the CLI and the API read these.
EventKind = Literal["line", "zone"]
Direction = Literal["in", "out"]
EVENT_KINDS: tuple[str, ...] = get_args(EventKind)
DIRECTIONS: tuple[str, ...] = get_args(Direction)


def class_group(name: str) -> str:
    """'vehicle' for every vehicle class, the class name itself otherwise."""
    return "vehicle" if name in VEHICLE_CLASSES else name


@dataclass
class Probe:
    """The inputs a frame could have given the detector instead of its image (mode -> image),
    and where to say how well each served it (mode -> summed confidence of the camera's kept
    detections, the frame's own mode included). Mode auto of a thermal camera asks now and then,
    so it can choose by what the detector finds rather than by brightness alone."""

    mode: str  # the mode of the frame's own image
    images: dict[str, np.ndarray]
    report: Callable[[dict[str, float]], None]


@dataclass
class Frame:
    """One decoded video frame and where it sits in time.

    image: HxWx3 uint8, BGR (OpenCV's order).
    index: frame number in its stream, from 0.
    pts: presentation time in seconds from the start of the stream.
    time: absolute (UTC, tz-aware) time of the frame.
    """

    image: np.ndarray
    index: int
    pts: float
    time: datetime
    camera_id: str = ""
    probe: Probe | None = None  # now and then on a thermal camera in mode auto: inputs to compare

    @property
    def shape(self) -> tuple[int, int]:
        return self.image.shape[0], self.image.shape[1]


def _as(array, dtype, shape_tail: tuple[int, ...], name: str, n: int | None) -> np.ndarray:
    a = np.asarray(array, dtype=dtype)
    if a.size == 0 and n in (None, 0):
        a = a.reshape((0, *shape_tail))
    if a.ndim != 1 + len(shape_tail) or tuple(a.shape[1:]) != shape_tail:
        raise ValueError(f"Detections.{name} must have shape (N, {', '.join(map(str, shape_tail))}) "
                         f"but has {a.shape}" if shape_tail else
                         f"Detections.{name} must have shape (N,) but has {a.shape}")
    if n is not None and a.shape[0] != n:
        raise ValueError(f"Detections.{name} has {a.shape[0]} rows, xyxy has {n}")
    return a


@dataclass
class Detections:
    """A batch of boxes from one frame.

    xyxy: (N, 4) float32 pixel corners x1, y1, x2, y2.
    confidence: (N,) float32 in [0, 1].
    class_id: (N,) int32 Vigil class ids (see CLASS_NAMES).
    tracker_id: (N,) int64, -1 where no track has been assigned.
    embedding: optional (N, D) float32 appearance features (L2-normalised).
    embedded: optional (N,) bool, the rows of `embedding` that are real; the embedder leaves out
        crops too small to embed and rows nobody wanted (their vectors are zeros, never to be read).
        None with an embedding: every row is real. Read it through `has_embedding`.
    """

    xyxy: np.ndarray
    # None as a default only: __post_init__ always fills these three, so readers never see None
    confidence: np.ndarray = field(default=None)  # type: ignore[arg-type]
    class_id: np.ndarray = field(default=None)  # type: ignore[arg-type]
    tracker_id: np.ndarray = field(default=None)  # type: ignore[arg-type]
    embedding: np.ndarray | None = None
    embedded: np.ndarray | None = None

    def __post_init__(self) -> None:
        self.xyxy = _as(self.xyxy, np.float32, (4,), "xyxy", None)
        n = self.xyxy.shape[0]
        self.confidence = _as(np.ones(n) if self.confidence is None else self.confidence,
                              np.float32, (), "confidence", n)
        self.class_id = _as(np.zeros(n) if self.class_id is None else self.class_id,
                            np.int32, (), "class_id", n)
        self.tracker_id = _as(np.full(n, -1) if self.tracker_id is None else self.tracker_id,
                              np.int64, (), "tracker_id", n)
        if self.embedding is not None:
            e = np.asarray(self.embedding, dtype=np.float32)
            if e.ndim != 2 or e.shape[0] != n:
                raise ValueError(f"Detections.embedding must have shape (N, D) with N={n} but has {e.shape}")
            self.embedding = e
        if self.embedded is not None:
            if self.embedding is None:
                raise ValueError("Detections.embedded marks rows of an embedding, but embedding is None")
            self.embedded = _as(self.embedded, bool, (), "embedded", n)

    @property
    def has_embedding(self) -> np.ndarray:
        """(N,) bool: the rows that carry a real appearance embedding."""
        if self.embedding is None:
            return np.zeros(len(self), bool)
        return np.ones(len(self), bool) if self.embedded is None else self.embedded

    @classmethod
    def empty(cls, embedding_dim: int | None = None) -> "Detections":
        emb = None if embedding_dim is None else np.zeros((0, embedding_dim), np.float32)
        return cls(xyxy=np.zeros((0, 4), np.float32), embedding=emb)

    def __len__(self) -> int:
        return self.xyxy.shape[0]

    def __getitem__(self, index) -> "Detections":
        """Rows selected by a boolean mask, an integer array, a slice or an int."""
        if isinstance(index, (int, np.integer)):
            index = [int(index)]
        return Detections(
            xyxy=self.xyxy[index],
            confidence=self.confidence[index],
            class_id=self.class_id[index],
            tracker_id=self.tracker_id[index],
            embedding=None if self.embedding is None else self.embedding[index],
            embedded=None if self.embedded is None else self.embedded[index],
        )

    def __iter__(self) -> Iterator["Detections"]:
        for i in range(len(self)):
            yield self[i]

    @classmethod
    def merge(cls, parts: list["Detections"]) -> "Detections":
        """Concatenate batches; embeddings are kept only when every part has them."""
        parts = [p for p in parts if len(p)] or parts[:1]
        if not parts:
            return cls.empty()
        with_emb = all(p.embedding is not None for p in parts)
        marked = with_emb and any(p.embedded is not None for p in parts)
        return cls(
            xyxy=np.concatenate([p.xyxy for p in parts]),
            confidence=np.concatenate([p.confidence for p in parts]),
            class_id=np.concatenate([p.class_id for p in parts]),
            tracker_id=np.concatenate([p.tracker_id for p in parts]),
            embedding=np.concatenate([p.embedding for p in parts]) if with_emb else None,
            embedded=np.concatenate([p.has_embedding for p in parts]) if marked else None,
        )

    def anchors(self, anchor: str = "bottom_center") -> np.ndarray:
        """(N, 2) points of each box: bottom_center, center, top_center, or a corner
        (top_left, top_right, bottom_left, bottom_right)."""
        x1, y1, x2, y2 = self.xyxy.T
        xs = {"left": x1, "center": (x1 + x2) / 2, "right": x2}
        ys = {"top": y1, "center": (y1 + y2) / 2, "bottom": y2}
        if anchor == "center":
            return np.stack([xs["center"], ys["center"]], axis=1)
        try:
            v, h = anchor.split("_")
            return np.stack([xs[h], ys[v]], axis=1)
        except (ValueError, KeyError):
            raise ValueError(f"unknown anchor {anchor!r}; use center, bottom_center, top_center, "
                             "top_left, top_right, bottom_left or bottom_right") from None

    @property
    def area(self) -> np.ndarray:
        return (self.xyxy[:, 2] - self.xyxy[:, 0]).clip(0) * (self.xyxy[:, 3] - self.xyxy[:, 1]).clip(0)


@dataclass(frozen=True)
class CountEvent:
    """One counted event, what the counting stage emits and the store persists.

    kind 'line': a track crossed line `name`; direction 'in' or 'out' per the line's in_side.
    kind 'zone': a track entered (direction 'in') or left (direction 'out') zone `name`;
    exits carry the seconds spent inside in `dwell_s`.
    speed_kmh: line events of a camera with a ground plane, when the track was seen long enough.
    time: tz-aware UTC time of the frame on which the event was decided.
    snapshot: optional JPEG crop of the object on that frame (site `snapshots:`), stored with the event.
    """

    camera_id: str
    kind: EventKind
    name: str
    track_id: int
    class_name: str
    direction: Direction
    time: datetime
    dwell_s: float | None = None
    speed_kmh: float | None = None
    # bytes, not part of the event's identity: equal events with or without a crop are equal
    snapshot: bytes | None = field(default=None, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.kind not in EVENT_KINDS:
            raise ValueError(f"CountEvent.kind must be one of {', '.join(EVENT_KINDS)}, got {self.kind!r}")
        if self.direction not in DIRECTIONS:
            raise ValueError(f"CountEvent.direction must be one of {', '.join(DIRECTIONS)}, got {self.direction!r}")
        if not isinstance(self.time, datetime) or self.time.tzinfo is None or self.time.utcoffset() is None:
            raise ValueError(f"CountEvent.time must be a timezone-aware datetime (UTC), got {self.time!r}")
