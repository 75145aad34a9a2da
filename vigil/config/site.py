"""Site config (`configs/*.yaml`): what to watch, where to write, which pipeline."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator, model_validator

from vigil.classes import DEFAULT_VOCAB, ClassVocab
from vigil.config.base import StartTime, Strict, first_duplicate
from vigil.config.database import DEFAULT_DB_URL
from vigil.config.filters import CameraDetectorConfig
from vigil.config.fusion import ThermalConfig
from vigil.config.geometry import MAX_COORD, LineConfig, Polygon, ZoneConfig
from vigil.config.ground import GroundConfig
from vigil.config.live import CameraStreamFields, LiveConfig
from vigil.config.outputs import OutboxConfig, Output, check_unique
from vigil.config.retention import RetentionConfig
from vigil.config.snapshots import SnapshotConfig


class CameraConfig(CameraStreamFields):
    id: str = Field(min_length=1, pattern=r"^[A-Za-z0-9_.\-]+$",
                    description="camera id: letters, digits, '-', '_', '.'")
    source: str | None = Field(default=None, description="file path (relative to the config) or rtsp:// URL")
    start_time: StartTime | None = Field(
        default=None, description="absolute time of the first frame of a file (ISO 8601); "
                                  "default: the file's creation_time metadata, else its modification time")
    lines: list[LineConfig] = Field(default_factory=list)
    zones: list[ZoneConfig] = Field(default_factory=list)
    thermal: ThermalConfig | None = Field(default=None, description="paired thermal source (RGB-T fusion)")
    coordinates: Literal["pixels", "relative"] = Field(
        default="pixels", description="units of lines, zones, masks and ground.image: 'pixels' of the video "
                                      "(or of reference_size), or 'relative' (0-1 of the width and height)")
    reference_size: tuple[int, int] | None = Field(
        default=None, description="[width, height] the pixel coordinates were drawn on; the first frame must "
                                  "have the same aspect ratio, and points are scaled to its resolution")
    masks: list[Polygon] = Field(default_factory=list, description="polygons where detections are dropped "
                                                                   "(bottom centre inside) before tracking")
    detector: CameraDetectorConfig | None = Field(default=None, description="this camera's detector "
                                                                            "overrides: confidence, classes")
    ground: GroundConfig | None = Field(default=None, description="4 image points -> metres, for speeds "
                                                                  "on line events")

    @model_validator(mode="after")
    def _unique_names(self):
        dup = first_duplicate(x.name for x in (*self.lines, *self.zones))
        if dup is not None:
            raise ValueError(f"camera {self.id!r}: line/zone name {dup!r} is used twice; names must be unique")
        return self

    @model_validator(mode="after")
    def _coordinates(self):
        if self.reference_size is not None:
            w, h = self.reference_size
            if not (0 < w <= MAX_COORD and 0 < h <= MAX_COORD):
                raise ValueError(f"camera {self.id!r}: reference_size {[w, h]} is not a frame size; give "
                                 "[width, height] in pixels")
            if self.coordinates == "relative":
                raise ValueError(f"camera {self.id!r}: coordinates 'relative' and reference_size do not go "
                                 "together; relative points need no reference size, so remove one")
        limit = (1.0, "relative coordinates are fractions of the frame, from 0 to 1") \
            if self.coordinates == "relative" else None
        if self.reference_size is not None:
            limit = (float(max(self.reference_size)), f"points must lie within reference_size "
                     f"{list(self.reference_size)} (a little past the edge is fine)")
        if limit is not None:
            bound, why = limit
            for what, pts in self.shapes():
                bad = [p for p in pts if max(p) > bound * 1.1]
                if bad:
                    raise ValueError(f"camera {self.id!r}: {what} has point {list(bad[0])}; {why}")
        return self

    def shapes(self) -> list[tuple[str, list]]:
        """(what, points) of everything drawn in the camera's coordinates."""
        out: list[tuple[str, list]] = [(f"line {ln.name!r}", list(ln.points)) for ln in self.lines]
        out += [(f"zone {z.name!r}", list(z.polygon)) for z in self.zones]
        out += [(f"masks[{i}]", list(m)) for i, m in enumerate(self.masks)]
        if self.ground is not None:
            out.append(("ground.image", list(self.ground.image)))
        return out


class SiteConfig(Strict):
    site: str = Field(default="site", description="site name")
    pipeline: str = Field(default="default", min_length=1, max_length=4096,
                          description="pipeline name (pipelines/NAME.yaml) or path")
    database: str = Field(default=DEFAULT_DB_URL, min_length=1,
                          description="SQLAlchemy URL; relative sqlite paths are relative to the working "
                                      "directory. --db and $VIGIL_DB override it")
    live: LiveConfig = Field(default_factory=LiveConfig)
    snapshots: SnapshotConfig = Field(default_factory=SnapshotConfig,
                                      description="JPEG crop of the object at each counted event")
    retention: RetentionConfig = Field(default_factory=RetentionConfig)
    cameras: list[CameraConfig] = Field(min_length=1)
    outputs: list[Output] = Field(default_factory=list, description="MQTT brokers and webhooks events go to")
    outbox: OutboxConfig = Field(default_factory=OutboxConfig)

    @field_validator("outputs")
    @classmethod
    def _unique_outputs(cls, v):
        check_unique(v)
        return v

    @field_validator("cameras")
    @classmethod
    def _unique_ids(cls, v):
        dup = first_duplicate(c.id for c in v)
        if dup is not None:
            raise ValueError(f"camera id {dup!r} is used twice; camera ids must be unique")
        return v

    def check_detector(self, confidence: float, kept: list[str], vocab: ClassVocab = DEFAULT_VOCAB) -> None:
        """Against the pipeline's detector: per-camera overrides can only narrow its output, and
        every class a filter names is in its vocabulary (`kept`: the classes it reports)."""
        for c in self.cameras:
            for where, names in [*((f"{kind} {name!r}", shape.classes) for kind, name, shape in _filtered(c)),
                                 ("detector", c.detector.classes if c.detector is not None else None)]:
                for n in names or []:
                    try:
                        reported = set(vocab.expand([n])) & set(kept)
                    except ValueError:
                        raise ValueError(f"camera {c.id!r} {where}: unknown class {n!r}; the pipeline's detector "
                                         f"reports {', '.join(kept)}"
                                         + _groups_of(vocab, kept) + " (its detector.classes and detector.groups "
                                         "decide them)") from None
                    if not reported:
                        raise ValueError(f"camera {c.id!r} {where}: classes has {n!r}, which the pipeline's "
                                         f"detector does not keep ({', '.join(kept)}); add it there or remove it")
            d = c.detector
            if d is None:
                continue
            if d.confidence is not None and d.confidence < confidence:
                raise ValueError(f"camera {c.id!r}: detector.confidence {d.confidence:g} is below the "
                                 f"pipeline's {confidence:g}; the shared detector already dropped those "
                                 "boxes, so raise it or lower the pipeline's")
        for i, out in enumerate(self.outputs):  # an output's filter names classes, not groups
            odd = [n for n in out.filter.classes if n not in kept]
            if odd:
                raise ValueError(f"outputs[{i}] ({out.name}): filter names class {odd[0]!r}, which the pipeline's "
                                 f"detector does not report; it reports {', '.join(kept)}")

    def camera(self, camera_id: str) -> CameraConfig:
        for c in self.cameras:
            if c.id == camera_id:
                return c
        raise KeyError(camera_id)


def _filtered(camera: CameraConfig):
    """(kind, name, shape) of each of the camera's lines and zones."""
    return [("line", ln.name, ln) for ln in camera.lines] + [("zone", z.name, z) for z in camera.zones]


def _groups_of(vocab: ClassVocab, kept: list[str]) -> str:
    """', or a group: vehicle, ...' listing the filter groups with a member the detector keeps."""
    names = [g for g, members in vocab.filter_groups.items() if set(members) & set(kept)]
    return f", or a group: {', '.join(names)}" if names else ""
