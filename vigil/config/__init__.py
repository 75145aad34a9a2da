"""Configuration: pydantic models loaded from YAML, strict about unknown keys."""

from vigil.config.database import DEFAULT_DB_URL, resolve_db_url
from vigil.config.geometry import LineConfig, ZoneConfig
from vigil.config.load import LoadedConfig, load_pipeline, load_site
from vigil.config.pipeline import DetectorConfig, PipelineConfig
from vigil.config.reid import ReidConfig
from vigil.config.site import CameraConfig, SiteConfig
from vigil.config.tracker import TrackerConfig

__all__ = ["DEFAULT_DB_URL", "CameraConfig", "DetectorConfig", "LineConfig", "LoadedConfig", "PipelineConfig",
           "ReidConfig", "SiteConfig", "TrackerConfig", "ZoneConfig", "load_pipeline", "load_site",
           "resolve_db_url"]
