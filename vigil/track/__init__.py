"""Multi-object tracking: Kalman filter, cost matrices, assignment, track lifecycle."""
