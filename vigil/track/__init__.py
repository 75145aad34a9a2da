"""Multi-object tracking: Kalman filter, cost matrices, assignment, track lifecycle."""

from vigil.track.tracker import Tracker

__all__ = ["Tracker"]
