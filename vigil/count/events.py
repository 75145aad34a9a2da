"""What the counting stage emits and the store persists."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal


@dataclass(frozen=True)
class CountEvent:
    """One counted event.

    kind 'line': a track crossed line `name`; direction 'in' or 'out' per the line's in_side.
    kind 'zone': a track entered (direction 'in') or left (direction 'out') zone `name`;
    exits carry the seconds spent inside in `dwell_s`.
    time: tz-aware UTC time of the frame on which the event was decided.
    """

    camera_id: str
    kind: Literal["line", "zone"]
    name: str
    track_id: int
    class_name: str
    direction: Literal["in", "out"]
    time: datetime
    dwell_s: float | None = None
