"""The trackers `vigil eval mot` scores (Vigil's, with settings from a file, and ultralytics'
ByteTrack and BoT-SORT) and the optional re-ID embedder."""

from __future__ import annotations

import os
from pathlib import Path

from vigil.bench.ultralytics_trackers import ULTRALYTICS_TRACKERS, UltralyticsTracker
from vigil.errors import ConfigError, VigilError

TRACKER_CHOICES = ("vigil", *ULTRALYTICS_TRACKERS)


def load_tracker_config(path: Path | None):
    """Vigil's tracker settings from a YAML file (or a pipeline file's tracker section); defaults
    without one."""
    from vigil.config.tracker import TrackerConfig

    if path is None:
        return TrackerConfig()
    import yaml
    from pydantic import ValidationError

    try:
        data = yaml.safe_load(path.read_text()) or {}
    except OSError as exc:
        raise ConfigError(f"cannot read --tracker-config {path}: {exc.strerror}") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"--tracker-config {path} is not valid YAML: {str(exc).splitlines()[0]}") from None
    if isinstance(data, dict) and isinstance(data.get("tracker"), dict):  # a pipeline file: use its section
        data = data["tracker"]
    try:
        return TrackerConfig(**data)
    except ValidationError as exc:
        err = exc.errors()[0]
        key = ".".join(str(p) for p in err["loc"])
        raise ConfigError(f"--tracker-config {path}: {key}: {err['msg']}") from None
    except TypeError:
        raise ConfigError(f"--tracker-config {path} must hold a mapping of tracker settings") from None


def tracker_factories(names: str, cfg) -> dict:
    """name -> a function making a fresh tracker, for "vigil", the ultralytics names, a comma list
    of them or "all"."""
    from vigil.track import Tracker

    chosen = list(TRACKER_CHOICES) if names == "all" else [n.strip() for n in names.split(",") if n.strip()]
    bad = [n for n in chosen if n not in TRACKER_CHOICES]
    if bad or not chosen:
        raise VigilError(f"unknown --tracker {bad[0] if bad else names!r}; use vigil, "
                         f"{', '.join(ULTRALYTICS_TRACKERS)}, a comma list of them, or all")
    return {n: (lambda: Tracker(cfg)) if n == "vigil" else (lambda n=n: UltralyticsTracker(n)) for n in chosen}


def reid_embedder(weights: Path):
    """The OSNet embedder's `embed(image, dets)` for --reid."""
    try:
        from vigil.config.reid import ReidConfig
        from vigil.reid import Embedder
    except ImportError as exc:
        raise VigilError(f"--reid needs vigil.reid, which failed to import: {exc}") from None
    if not os.environ.get("OMP_NUM_THREADS"):
        # torch's default of one thread per core oversubscribes a busy small CPU (6.5 min -> see
        # the report for TUD-Campus); the user's OMP_NUM_THREADS wins when set
        import torch

        torch.set_num_threads(min(2, os.cpu_count() or 1))
    return Embedder.from_config(ReidConfig(weights=str(weights), model="auto"), base_dir=None).embed
