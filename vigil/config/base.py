"""Shared config base: unknown keys fail loudly (Frigate's `extra="forbid"`), NaN and infinity are
never numbers, and the one check that names are unique."""

from collections.abc import Iterable

from pydantic import BaseModel, ConfigDict


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
