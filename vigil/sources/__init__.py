"""Readers of video: files (PyAV), RTSP cameras and NVR channels, RGB-thermal pairing."""
