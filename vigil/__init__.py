"""Vigil: video surveillance analytics."""

import os

# Vigil never lets ultralytics reach the network (hub downloads, pip auto-updates).
os.environ.setdefault("YOLO_OFFLINE", "1")
# ...and keeps it quiet: its plain-text INFO lines would break Vigil's JSON-lines logs.
os.environ.setdefault("YOLO_VERBOSE", "False")

__version__ = "0.1.0"
