"""Fixtures for the live daemon tests: the loopback GStreamer RTSP server and clips it serves."""

from __future__ import annotations

import pytest

from tests.support.data import VIDEO, need
from tests.support.rtsp_harness import RtspServer, gst_unavailable_reason, prepare_clip


@pytest.fixture(scope="session")
def gst():
    reason = gst_unavailable_reason()
    if reason:
        pytest.skip(f"RTSP server unavailable: {reason}")


@pytest.fixture(scope="session")
def clip5(gst):
    """12 s of saoyan_test.mp4 at 5 fps (every 6th frame), H.264, 1 s GOP."""
    return prepare_clip(need(VIDEO / "saoyan_test.mp4"), fps=5, seconds=12)


@pytest.fixture
def rtsp(gst):
    """Factory: rtsp(mounts, user=, password=) -> started RtspServer; all stopped at teardown."""
    servers: list[RtspServer] = []

    def start(mounts: dict, **kw) -> RtspServer:
        srv = RtspServer(mounts, **kw).start()
        servers.append(srv)
        return srv

    yield start
    for srv in servers:
        srv.stop()
