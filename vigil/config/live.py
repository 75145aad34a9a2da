"""Live-daemon section of a site (owned by the daemon)."""

from pydantic import Field

from vigil.config.base import Strict


class LiveConfig(Strict):
    flush_interval: float = Field(default=1.0, gt=0, le=60, description="seconds between database flushes")
