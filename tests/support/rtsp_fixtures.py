"""Servers the RTSP tests share (pytest side of tests/support/rtsp_harness.py)."""

from __future__ import annotations

import pytest

from tests.support.data import VIDEO, need
from tests.support.rtsp_harness import RtspServer, gst_unavailable_reason, prepare_clip


def demo_behind_password(password: str, user: str = "viewer") -> RtspServer:
    """4 s of the demo clip at 5 fps as rtsp://.../cam behind basic auth; skips without GStreamer."""
    reason = gst_unavailable_reason()
    if reason:
        pytest.skip(f"RTSP server unavailable: {reason}")
    clip = prepare_clip(need(VIDEO / "saoyan_test.mp4"), fps=5, seconds=4)
    return RtspServer({"cam": clip}, user=user, password=password)
