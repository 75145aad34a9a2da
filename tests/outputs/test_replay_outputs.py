"""End to end: `vigil replay` of a cut of the demo clip (real decode, real YOLO) with a real
mosquitto and a webhook receiver that is not up yet: MQTT gets exactly the events stored in
the database; the webhook's share waits in the outbox, and `vigil outputs run --drain` delivers
exactly those once the receiver is up."""

from __future__ import annotations

import pytest

from tests.outputs.brokers import Receiver, Subscriber, free_port, mosquitto  # noqa: F401 (fixture)
from tests.outputs.sitekit import mqtt_output, webhook_output, write_site
from tests.support.data import VIDEO, YOLO_ONNX, cut_video, need
from vigil.cli import main
from vigil.store import Store

pytestmark = pytest.mark.slow

ONE_CAMERA = """\
cameras:
  - id: cam1
    source: {source}
    start_time: "2026-11-01T08:00:00Z"
    lines:
      - name: away
        points: [[120, 200], [630, 200]]
        in_side: left
"""


def test_replay_delivers_exactly_the_stored_events(tmp_path, mosquitto, capsys, monkeypatch):  # noqa: F811
    monkeypatch.setenv("HOOK_SECRET", "k")
    clip = cut_video(need(VIDEO / "saoyan_test.mp4"), tmp_path / "cut.mp4", 160)
    hook_port = free_port()
    cfg = write_site(tmp_path, [mqtt_output(mosquitto.port), webhook_output(f"http://127.0.0.1:{hook_port}/hook")],
                     weights=str(need(YOLO_ONNX)), source=str(clip), cameras=ONE_CAMERA)
    db = f"sqlite:///{tmp_path / 'v.db'}"
    sub = Subscriber(mosquitto.port)
    assert main(["replay", str(cfg), "--db", db, "--no-progress", "--outputs-wait", "3"]) == 0
    err = capsys.readouterr().err
    assert "not all delivered yet" in err and "vigil outputs run" in err

    stored = Store(db).events(limit=None)
    assert len(stored) >= 2, "the cut should count a few vehicles"
    got = sub.events()
    assert sorted(e["id"] for e in got) == sorted(e["id"] for e in stored)  # each exactly once: no fault
    assert all(e["site"] == "test" and e["camera"] == "cam1" and e["line"] == "away" for e in got)
    n_in = sum(1 for e in stored if e["direction"] == "in" and e["class_name"] == "car")
    assert sub.last("vigil/test/cam1/away/car/in/count") == str(n_in).encode()

    receiver = Receiver(hook_port)  # the receiver comes up: the standalone delivery drains the rest
    try:
        capsys.readouterr()
        assert main(["outputs", "run", str(cfg), "--db", db, "--drain", "--timeout", "60"]) == 0
        assert "left in the outbox: 0" in capsys.readouterr().out
        assert sorted(e["id"] for e in receiver.events()) == sorted(e["id"] for e in stored)
    finally:
        receiver.close()
        sub.close()
