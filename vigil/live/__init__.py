"""The live daemon: RTSP readers, batched inference loop, health."""
