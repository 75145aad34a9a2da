"""Server-side drawing and image files: overlays of lines, zones and tracks (supervision's
annotators), previews, annotated replay videos (PyAV) and event snapshots (JPEG crops)."""
