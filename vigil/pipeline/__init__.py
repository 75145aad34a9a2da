"""Wiring of stages: per-camera processing and the replay driver."""
