"""Fixtures for the live daemon tests: the loopback GStreamer RTSP server and clips it serves."""

from __future__ import annotations

from pathlib import Path

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


@pytest.fixture(scope="session")
def stages(tmp_path_factory, gst):
    """The real detector and re-ID embedder, loaded once for every live test module."""
    from vigil.config.load import load_site
    from vigil.pipeline.stages import build_stages

    site = write_site(tmp_path_factory.mktemp("stages"), {"x": "rtsp://127.0.0.1/x"})
    return build_stages(load_site(site))


# clip_slow is served this many times slower than recorded: 2 fps, while the detector takes ~0.1 s
# a frame here (~0.3 s on a loaded 2-core machine), so every frame is analysed live. Faster, the
# frames the stream's probe decodes in one burst at connect cost one more dropped frame (2 at 5x,
# 1 at 7.5x and 15x), which loosens the live-vs-replay bound.
SLOWDOWN = 7.5


@pytest.fixture(scope="session")
def clip_slow(gst):
    """The first 4 s of saoyan_test.mp4 at 15 fps (where the tracker counts cars), served SLOWDOWN
    times slower so this CPU analyses every frame live: 60 frames, 30 s. Its time is stretched
    too, so sites for it scale the tracker's max_lost_seconds (CLIP_SLOW_TRACKER)."""
    return prepare_clip(need(VIDEO / "saoyan_test.mp4"), fps=15, seconds=4, slowdown=SLOWDOWN)


CLIP_SLOW_TRACKER = f"{{max_lost_seconds: {SLOWDOWN}}}"  # 1 s of the clip's own time
SLOW_TRACKER = "{max_lost_seconds: 15}"
LINE = "[{name: southbound, points: [[120, 200], [630, 200]], in_side: right}]"


def write_site(tmp_path, cameras: dict[str, str], live: str = "", db: str | None = None,
               tracker: str = SLOW_TRACKER) -> Path:
    """A site config with one southbound line per camera, the real YOLO weights, every frame
    analysed; `live` is extra YAML for the live: section (indented by the caller's flow style)."""
    from tests.support.data import YOLO_ONNX

    (tmp_path / "pipeline.yaml").write_text(
        f"detector: {{weights: {need(YOLO_ONNX)}, imgsz: 640, batch: 4}}\nframe_stride: 1\ntracker: {tracker}\n")
    cams = "\n".join(f"  - {{id: {cid}, source: '{url}', lines: {LINE}}}" for cid, url in cameras.items())
    path = tmp_path / "site.yaml"
    path.write_text(f"site: livetest\npipeline: pipeline.yaml\ndatabase: {db or f'sqlite:///{tmp_path}/v.db'}\n"
                    f"live: {{status_file: {tmp_path}/status.json{', ' + live if live else ''}}}\n"
                    f"cameras:\n{cams}\n")
    return path
