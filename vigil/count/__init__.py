"""Counting: line crossings and polygon zones, with hysteresis, pruning and re-ID de-duplication."""

from vigil.count.counter import CameraCounter
from vigil.count.events import CountEvent

__all__ = ["CameraCounter", "CountEvent"]
