"""Event snapshots (the site's `snapshots:` section): a JPEG crop of the object at each counted event."""

from __future__ import annotations

from pydantic import Field

from vigil.config.base import Strict


class SnapshotConfig(Strict):
    """Off by default: a crop per event costs an encode on the analysis thread and about
    `max_kb` of database per event. Stored in the database next to the event, so it is pruned
    with it (a replaced run takes its snapshots along) and every worker sees the same ones."""

    enabled: bool = Field(default=False, description="keep a JPEG crop of the object for each counted event")
    max_kb: int = Field(default=32, ge=2, le=1024,
                        description="largest snapshot in KiB; quality, then size, is lowered to fit")
    margin: float = Field(default=0.15, ge=0, le=1,
                          description="context around the box, as a fraction of its width and height")
    max_side: int = Field(default=320, ge=32, le=4096, description="longest side of the crop in pixels")
