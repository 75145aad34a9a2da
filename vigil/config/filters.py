"""Which detections a line, a zone or a whole camera looks at: class, confidence and box size
filters (Frigate's per-zone object filters, DeepStream's operate-on-class), shared by lines,
zones and the per-camera detector overrides."""

from __future__ import annotations

from pydantic import Field, field_validator, model_validator

from vigil.classes import DEFAULT_VOCAB, canonical
from vigil.config.base import Strict


class ClassFilter(Strict):
    # Checked against the pipeline's class vocabulary when site and pipeline meet
    # (SiteConfig.check_classes), since a pipeline may add classes (a forklift model).
    classes: list[str] | None = Field(
        default=None, description="only these classes (or groups: " + ", ".join(DEFAULT_VOCAB.filter_groups)
                                  + ", or one from the pipeline's detector.groups); default: every class")

    @field_validator("classes")
    @classmethod
    def _classes(cls, v):
        if v is None:
            return v
        if not v:
            raise ValueError("classes is empty; leave it out to keep every class, or name at least one")
        return [canonical(c) for c in v]


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
