"""Configuration: pydantic models loaded from YAML, strict about unknown keys."""

from vigil.config.geometry import LineConfig, ZoneConfig
from vigil.config.load import LoadedConfig, load_pipeline, load_site
from vigil.config.pipeline import DetectorConfig, PipelineConfig
from vigil.config.reid import ReidConfig
from vigil.config.tracker import TrackerConfig
from vigil.config.site import CameraConfig, SiteConfig

__all__ = ["CameraConfig", "DetectorConfig", "LineConfig", "LoadedConfig", "PipelineConfig", "ReidConfig", "SiteConfig",
           "TrackerConfig", "ZoneConfig", "load_pipeline", "load_site"]
