"""Shared config base: unknown keys fail loudly (Frigate's `extra="forbid"`), NaN and infinity are
never numbers, the one check that names are unique, and types several sections share."""

from collections.abc import Iterable
from datetime import datetime
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=False, allow_inf_nan=False)


def first_duplicate(names: Iterable[str]) -> str | None:
    """The first name (in order) given more than once, or None: camera ids, line and zone names."""
    seen: set[str] = set()
    for n in names:
        if n in seen:
            return n
        seen.add(n)
    return None


def _plausible_time(t: datetime) -> datetime:
    # Frame times are start_time + pts: a year near 9999 overflows datetime part-way through a file.
    if not 1970 <= t.year < 3000:
        raise ValueError(f"start_time {t.isoformat()} is not a plausible recording time; "
                         "give an ISO 8601 time between 1970 and 2999")
    return t


StartTime = Annotated[datetime, AfterValidator(_plausible_time)]
