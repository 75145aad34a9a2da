"""Counting: line crossings and polygon zones, with hysteresis and pruning (events: vigil.types.CountEvent)."""

from vigil.count.counter import CameraCounter

__all__ = ["CameraCounter"]
