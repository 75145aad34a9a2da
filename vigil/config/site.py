"""Site config (`configs/*.yaml`): what to watch, where to write, which pipeline."""

from __future__ import annotations

from pydantic import Field, field_validator, model_validator

from vigil.config.base import StartTime, Strict, first_duplicate
from vigil.config.database import DEFAULT_DB_URL
from vigil.config.fusion import ThermalConfig
from vigil.config.geometry import LineConfig, ZoneConfig
from vigil.config.live import CameraStreamFields, LiveConfig
from vigil.config.outputs import OutboxConfig, Output, check_unique


class CameraConfig(CameraStreamFields):
    id: str = Field(min_length=1, pattern=r"^[A-Za-z0-9_.\-]+$",
                    description="camera id: letters, digits, '-', '_', '.'")
    source: str | None = Field(default=None, description="file path (relative to the config) or rtsp:// URL")
    start_time: StartTime | None = Field(
        default=None, description="absolute time of the first frame of a file (ISO 8601); "
                                  "default: the file's creation_time metadata, else its modification time")
    lines: list[LineConfig] = Field(default_factory=list)
    zones: list[ZoneConfig] = Field(default_factory=list)
    thermal: ThermalConfig | None = Field(default=None, description="paired thermal source (RGB-T fusion)")

    @model_validator(mode="after")
    def _unique_names(self):
        dup = first_duplicate(x.name for x in (*self.lines, *self.zones))
        if dup is not None:
            raise ValueError(f"camera {self.id!r}: line/zone name {dup!r} is used twice; names must be unique")
        return self


class SiteConfig(Strict):
    site: str = Field(default="site", description="site name")
    pipeline: str = Field(default="default", min_length=1, max_length=4096,
                          description="pipeline name (pipelines/NAME.yaml) or path")
    database: str = Field(default=DEFAULT_DB_URL, min_length=1,
                          description="SQLAlchemy URL; relative sqlite paths are relative to the working "
                                      "directory. --db and $VIGIL_DB override it")
    live: LiveConfig = Field(default_factory=LiveConfig)
    cameras: list[CameraConfig] = Field(min_length=1)
    outputs: list[Output] = Field(default_factory=list, description="MQTT brokers and webhooks events go to")
    outbox: OutboxConfig = Field(default_factory=OutboxConfig)

    @field_validator("outputs")
    @classmethod
    def _unique_outputs(cls, v):
        check_unique(v)
        return v

    @field_validator("cameras")
    @classmethod
    def _unique_ids(cls, v):
        dup = first_duplicate(c.id for c in v)
        if dup is not None:
            raise ValueError(f"camera id {dup!r} is used twice; camera ids must be unique")
        return v

    def camera(self, camera_id: str) -> CameraConfig:
        for c in self.cameras:
            if c.id == camera_id:
                return c
        raise KeyError(camera_id)
