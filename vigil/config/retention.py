"""How long the database keeps what (the site's `retention:` section; see vigil/store/retention.py)."""

from __future__ import annotations

from pydantic import Field, model_validator

from vigil.config.base import Strict


class RetentionConfig(Strict):
    """Ages in days; None keeps forever. Raw events go first, the minute and 15-minute counts
    with them or later, the hourly counts last, so counts by hour (and by day, week, ...) over
    old ranges stay as they were."""

    events_days: float | None = Field(default=None, gt=0, description="delete raw events older than this")
    aggregates_days: float | None = Field(default=None, gt=0,
                                          description="delete minute and 15-minute counts older than this "
                                                      "(default: with the events)")
    hourly_days: float | None = Field(default=None, gt=0, description="delete hourly counts older than this "
                                                                      "(default: keep)")
    batch: int = Field(default=5000, ge=100, le=1_000_000, description="rows per delete statement")
    interval: float = Field(default=3600.0, ge=1, description="seconds between the writer's pruning passes")

    @model_validator(mode="after")
    def _order(self):
        ages = [("events_days", self.events_days), ("aggregates_days", self.fine_days),
                ("hourly_days", self.hourly_days)]
        kept = [(n, a) for n, a in ages if a is not None]
        for (n1, a1), (n2, a2) in zip(kept, kept[1:]):
            if a2 < a1:
                raise ValueError(f"{n2} ({a2:g}) must be at least {n1} ({a1:g}): coarser counts are kept longer")
        return self

    @property
    def fine_days(self) -> float | None:
        return self.aggregates_days if self.aggregates_days is not None else self.events_days

    @property
    def enabled(self) -> bool:
        return any(a is not None for a in (self.events_days, self.fine_days, self.hourly_days))
