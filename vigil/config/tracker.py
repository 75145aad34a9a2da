"""Tracker section of a pipeline (owned by the tracking stage)."""

from typing import Literal

from pydantic import Field

from vigil.config.base import Strict


class TrackerConfig(Strict):
    """Kalman + Hungarian tracker (ByteTrack-style two-stage association)."""

    high_threshold: float = Field(default=0.5, ge=0, le=1, description="first-stage detection confidence")
    low_threshold: float = Field(default=0.1, ge=0, le=1, description="detections below are discarded")
    new_track_threshold: float = Field(default=0.6, ge=0, le=1, description="confidence to start a track")
    match_iou: float = Field(default=0.2, ge=0, le=1, description="minimum IoU for the first-stage match")
    low_match_iou: float = Field(default=0.5, ge=0, le=1, description="minimum IoU for the second stage")
    lost_match_iou: float = Field(default=0.1, ge=0, le=1, description="lost tracks the first stage left "
                                  "unmatched get a second chance at the confident detections nobody took, at "
                                  "this lower IoU (their prediction drifts while unseen); >= match_iou: off")
    max_lost_seconds: float = Field(default=2.0, gt=0, description="how long a lost track may be recovered")
    min_hits: int = Field(default=3, ge=1, description="matched frames before a track born from a less confident "
                          "detection is reported")
    instant_confirm_threshold: float = Field(default=0.9, ge=0, le=1.01, description="a track born from a "
                                             "detection at least this confident is reported at once (above 1: "
                                             "never); less confident births wait for min_hits")
    fuse_score: bool = Field(default=True, description="first-stage cost uses IoU x detection confidence")
    motion_gating: Literal["none", "centre", "box"] = Field(
        default="none", description="forbid matches outside the Kalman 95% gate: Mahalanobis distance on "
                                      "the box centre, or on centre and size ('box'), or no gate")
    per_class: bool = Field(default=True, description="match detections only to tracks of the same class")
    std_position: float = Field(default=1 / 20, gt=0, description="Kalman position noise, fraction of box size "
                                                                  "per 1/30 s")
    std_velocity: float = Field(default=1 / 160, gt=0, description="Kalman velocity noise, fraction of box size "
                                                                   "per 1/30 s")
    confidence_scaled_noise: bool = Field(default=False, description="scale measurement noise by 1 - confidence "
                                                                     "(NSA Kalman)")
    observation_recovery: bool = Field(default=False, description="after the main stages, match still-unmatched "
                                       "tracks by their last observed box (OC-SORT's OCR)")
    reupdate_after_occlusion: bool = Field(default=True, description="when a lost track is found again, re-run "
                                           "its Kalman filter along a straight virtual path (OC-SORT's ORU)")
    lost_box_growth: float = Field(default=0.0, ge=0, description="lost tracks' boxes grow by this fraction of "
                                   "their size per second lost when matched (buffered IoU)")
    lost_box_sigma: float = Field(default=0.0, ge=0, description="pad lost tracks' boxes by this many standard "
                                  "deviations of their predicted centre when matching (their uncertainty grows "
                                  "while out of sight)")
    appearance_weight: float = Field(default=0.25, ge=0, le=1, description="weight of appearance (cosine distance "
                                     "to the track's embedding EMA) in the cost, when embeddings are given")
    appearance_gate: float = Field(default=0.5, gt=0, le=2, description="cosine distance above which a track "
                                   "and a detection are not the same object")
    appearance_recovery: float = Field(default=0.25, ge=0, le=2, description="lost tracks are re-identified "
                                       "with a leftover detection within this cosine distance, inside a wide "
                                       "motion gate (0: off); needs embeddings")
    embedding_momentum: float = Field(default=0.9, ge=0, lt=1, description="EMA factor of track embeddings")
    camera_motion: Literal["none", "sparse_flow", "ecc"] = Field(
        default="none", description="camera-motion compensation from the frame (PTZ or shaking cameras)")
    output_box: Literal["detection", "filtered"] = Field(
        default="filtered", description="report the matched detection's box or the Kalman-filtered box")
