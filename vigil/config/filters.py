"""Which detections a line, a zone or a whole camera looks at: class, confidence and box size
filters (Frigate's per-zone object filters, DeepStream's operate-on-class), shared by lines,
zones and the per-camera detector overrides."""

from __future__ import annotations

from pydantic import Field, field_validator, model_validator

from vigil.config.base import Strict
from vigil.types import CLASS_NAMES, VEHICLE_CLASSES

# Names a filter may use for several classes at once.
CLASS_GROUPS: dict[str, tuple[str, ...]] = {
    "vehicle": tuple(c for c in CLASS_NAMES if c in VEHICLE_CLASSES),
    "motor_vehicle": ("car", "motorcycle", "bus", "truck"),
    "heavy": ("bus", "truck"),
}


def expand_classes(names: list[str]) -> list[str]:
    """Class names with groups (vehicle, motor_vehicle, heavy) expanded, in CLASS_NAMES order;
    ValueError naming the first unknown name."""
    out: set[str] = set()
    for n in names:
        if n in CLASS_GROUPS:
            out.update(CLASS_GROUPS[n])
        elif n in CLASS_NAMES:
            out.add(n)
        else:
            raise ValueError(f"unknown class {n!r}; choose from {', '.join(CLASS_NAMES)} "
                             f"or a group: {', '.join(CLASS_GROUPS)}")
    return [c for c in CLASS_NAMES if c in out]


class ClassFilter(Strict):
    classes: list[str] | None = Field(
        default=None, description="only these classes (or groups: " + ", ".join(CLASS_GROUPS) + "); "
                                  "default: every class")

    @field_validator("classes")
    @classmethod
    def _classes(cls, v):
        if v is None:
            return v
        if not v:
            raise ValueError("classes is empty; leave it out to keep every class, or name at least one of "
                             + ", ".join(CLASS_NAMES))
        return expand_classes(v)


class ObjectFilter(ClassFilter):
    """Per line / zone: a detection that fails these is invisible to that line or zone on that
    frame (a track is judged on each frame it is seen; its class is the tracker's vote)."""

    min_confidence: float | None = Field(default=None, ge=0.0, le=1.0,
                                         description="ignore boxes below this detection confidence")
    min_area: float | None = Field(default=None, ge=0.0, description="ignore boxes smaller than this many "
                                                                      "square pixels (in the camera's "
                                                                      "coordinates, scaled with them)")
    max_area: float | None = Field(default=None, gt=0.0, description="ignore boxes larger than this many "
                                                                      "square pixels")

    @model_validator(mode="after")
    def _area_range(self):
        if self.min_area is not None and self.max_area is not None and self.min_area > self.max_area:
            raise ValueError(f"min_area ({self.min_area:g}) is larger than max_area ({self.max_area:g}); "
                             "no box could pass, so swap them")
        return self

    @property
    def filters(self) -> bool:
        return any(v is not None for v in (self.classes, self.min_confidence, self.min_area, self.max_area))


class CameraDetectorConfig(ClassFilter):
    """Per-camera overrides of the pipeline's detector (which is shared by every camera): a
    stricter confidence and fewer classes, applied to this camera's detections before tracking."""

    confidence: float | None = Field(default=None, ge=0.0, le=1.0,
                                     description="this camera's minimum detection confidence; at least the "
                                                 "pipeline's detector.confidence (lower would need a second "
                                                 "detector pass)")
