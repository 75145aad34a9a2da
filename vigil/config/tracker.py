"""Tracker section of a pipeline (owned by the tracking stage)."""

from pydantic import Field

from vigil.config.base import Strict


class TrackerConfig(Strict):
    """Kalman + Hungarian tracker (ByteTrack-style two-stage association)."""

    high_threshold: float = Field(default=0.5, ge=0, le=1, description="first-stage detection confidence")
    low_threshold: float = Field(default=0.1, ge=0, le=1, description="detections below are discarded")
    new_track_threshold: float = Field(default=0.6, ge=0, le=1, description="confidence to start a track")
    match_iou: float = Field(default=0.2, ge=0, le=1, description="minimum IoU for the first-stage match")
    low_match_iou: float = Field(default=0.5, ge=0, le=1, description="minimum IoU for the second stage")
    max_lost_seconds: float = Field(default=1.0, gt=0, description="how long a lost track may be recovered")
    min_hits: int = Field(default=2, ge=1, description="matched frames before a new track is reported")
