"""Site config (`configs/*.yaml`): what to watch, where to write, which pipeline."""

from __future__ import annotations

from datetime import datetime

from pydantic import Field, field_validator, model_validator

from vigil.config.base import Strict
from vigil.config.fusion import ThermalConfig
from vigil.config.geometry import LineConfig, ZoneConfig
from vigil.config.live import CameraStreamFields, LiveConfig


class CameraConfig(CameraStreamFields):
    id: str = Field(min_length=1, pattern=r"^[A-Za-z0-9_.\-]+$",
                    description="camera id: letters, digits, '-', '_', '.'")
    source: str | None = Field(default=None, description="file path (relative to the config) or rtsp:// URL")
    start_time: datetime | None = Field(
        default=None, description="absolute time of the first frame of a file (ISO 8601); "
                                  "default: the file's creation_time metadata, else its modification time")
    lines: list[LineConfig] = Field(default_factory=list)
    zones: list[ZoneConfig] = Field(default_factory=list)
    thermal: ThermalConfig | None = Field(default=None, description="paired thermal source (RGB-T fusion)")

    @model_validator(mode="after")
    def _unique_names(self):
        names = [x.name for x in (*self.lines, *self.zones)]
        dup = {n for n in names if names.count(n) > 1}
        if dup:
            raise ValueError(f"camera {self.id!r}: line/zone name {sorted(dup)[0]!r} is used twice")
        return self


class SiteConfig(Strict):
    site: str = Field(default="site", description="site name")
    pipeline: str = Field(default="default", description="pipeline name (pipelines/NAME.yaml) or path")
    database: str = Field(default="sqlite:///vigil.db", description="SQLAlchemy URL; relative sqlite "
                                                                    "paths are relative to the working directory")
    live: LiveConfig = Field(default_factory=LiveConfig)
    cameras: list[CameraConfig] = Field(min_length=1)

    @field_validator("cameras")
    @classmethod
    def _unique_ids(cls, v):
        ids = [c.id for c in v]
        dup = {i for i in ids if ids.count(i) > 1}
        if dup:
            raise ValueError(f"camera id {sorted(dup)[0]!r} is used twice")
        return v

    def camera(self, camera_id: str) -> CameraConfig:
        for c in self.cameras:
            if c.id == camera_id:
                return c
        raise KeyError(camera_id)
