"""A camera password typed with a raw '@' and '#' reaches a real RTSP server (GStreamer, loopback)
whole, and no part of it shows in the reader's errors or logs."""

from __future__ import annotations

import logging
import threading

import pytest

from tests.support.rtsp_fixtures import demo_behind_password
from tests.support.rtsp_harness import (
    wait_for,
)
from vigil.config.live import LiveConfig
from vigil.config.site import CameraConfig
from vigil.sources.nvr import stream_target
from vigil.sources.rtsp import Backoff, LatestFrameSlot, StreamReader

pytestmark = pytest.mark.rtsp
PASSWORD = "p@ss#W0rd"


@pytest.fixture(scope="module")
def server():
    with demo_behind_password(PASSWORD) as srv:
        yield srv


def read(url: str, until, timeout: float = 15) -> StreamReader:
    stop = threading.Event()
    reader = StreamReader("gate", url, LatestFrameSlot(), stop, open_timeout=5, read_timeout=3,
                          backoff=Backoff(initial=0.3, maximum=1.0, jitter=0.1))
    reader.start()
    try:
        wait_for(lambda: until(reader), timeout)
    finally:
        stop.set()
        reader.join(5)
    return reader


def test_raw_at_and_hash_in_the_source_url_authenticate(server):
    cam = CameraConfig(id="gate", source=f"rtsp://viewer:{PASSWORD}@127.0.0.1:{server.port}/cam")
    target = stream_target(cam, LiveConfig(), cam.source)
    reader = read(target.url, lambda r: r.stats.frames >= 2)
    assert reader.stats.frames >= 2, reader.stats.last_error
    assert target.masked == f"rtsp://viewer:***@127.0.0.1:{server.port}/cam"


def test_a_wrong_password_with_raw_at_and_hash_leaks_nothing(server, caplog):
    wrong = "wr@ng#S3KRIT"
    cam = CameraConfig(id="gate", source=f"rtsp://viewer:{wrong}@127.0.0.1:{server.port}/cam")
    with caplog.at_level(logging.INFO, logger="vigil"):
        reader = read(stream_target(cam, LiveConfig(), cam.source).url, lambda r: r.stats.reconnects >= 1)
    err = reader.stats.last_error or ""
    assert "authentication failed" in err and "viewer:***@127.0.0.1" in err, err
    assert "S3KRIT" not in err + caplog.text and "ng#" not in err + caplog.text
