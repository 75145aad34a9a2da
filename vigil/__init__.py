"""Vigil: video surveillance analytics."""

import os

# Vigil never lets ultralytics reach the network (hub downloads, pip auto-updates).
os.environ.setdefault("YOLO_OFFLINE", "1")

__version__ = "0.1.0"
