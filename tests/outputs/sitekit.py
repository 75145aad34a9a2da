"""A site with two cameras (a line each, a zone on one) and the outputs under test."""

from __future__ import annotations

import textwrap
from datetime import datetime, timedelta, timezone
from pathlib import Path

from vigil.config.load import load_site
from vigil.types import CountEvent

PIPELINE = "detector:\n  weights: {weights}\n  classes: [pedestrian, car]\n  batch: 4\nframe_stride: 2\n"

CAMERAS = """\
cameras:
  - id: cam1
    source: {source}
    start_time: "2026-11-01T08:00:00Z"
    lines:
      - name: door
        points: [[120, 200], [630, 200]]
        in_side: left
    zones:
      - name: lobby
        polygon: [[0, 0], [100, 0], [100, 100], [0, 100]]
  - id: cam2
    source: {source}
    lines:
      - name: gate
        points: [[10, 10], [200, 10]]
        in_side: left
"""


def mqtt_output(port: int, name: str = "broker", extra: str = "") -> str:
    return (f"  - name: {name}\n    type: mqtt\n    host: 127.0.0.1\n    port: {port}\n"
            f"    retry: {{initial: 0.1, maximum: 1.0}}\n{extra}")


def webhook_output(url: str, name: str = "hook", extra: str = "") -> str:
    return (f"  - name: {name}\n    type: webhook\n    url: {url}\n    secret: ${{HOOK_SECRET}}\n"
            f"    timeout: 2\n    retry: {{initial: 0.1, maximum: 1.0}}\n{extra}")


def write_site(tmp_path: Path, outputs: list[str], *, weights: str = "yolo.onnx", source: str = "clip.mp4",
               extra: str = "", cameras: str = CAMERAS) -> Path:
    (tmp_path / "pipelines").mkdir(exist_ok=True)
    (tmp_path / "pipelines" / "p.yaml").write_text(PIPELINE.format(weights=weights))
    path = tmp_path / "site.yaml"
    text = "site: test\npipeline: pipelines/p.yaml\n" + cameras.format(source=source) + extra
    if outputs:
        text += "outputs:\n" + "".join(outputs)
    path.write_text(textwrap.dedent(text))
    return path


def load(tmp_path: Path, outputs: list[str], **kw):
    return load_site(write_site(tmp_path, outputs, **kw))


T0 = datetime(2026, 11, 1, 8, 0, tzinfo=timezone.utc)


def event(i: int, camera: str = "cam1", kind: str = "line", name: str = "door", cls: str = "pedestrian",
          direction: str = "in") -> CountEvent:
    return CountEvent(camera, kind, name, i, cls, direction, T0 + timedelta(seconds=i))  # type: ignore[arg-type]
