"""End to end: `vigil run` (the live daemon, here on a file camera, which ends with the file)
with MQTT and a webhook: everything stored arrives at both, the camera's availability goes
online while it streams and offline at the end, and the metrics endpoint shows the per-line
counters and the outputs' delivery while it runs."""

from __future__ import annotations

import json
import threading
import time

import httpx
import pytest

from tests.outputs.brokers import Subscriber, free_port, mosquitto, receiver  # noqa: F401 (fixtures)
from tests.outputs.sitekit import mqtt_output, webhook_output, write_site
from tests.outputs.test_replay_outputs import ONE_CAMERA
from tests.support.data import VIDEO, YOLO_ONNX, cut_video, need
from vigil.cli import main
from vigil.store import Store

pytestmark = pytest.mark.slow


def test_run_delivers_and_exposes_metrics(tmp_path, mosquitto, receiver, monkeypatch, capsys):  # noqa: F811
    monkeypatch.setenv("HOOK_SECRET", "k")
    clip = cut_video(need(VIDEO / "saoyan_test.mp4"), tmp_path / "cut.mp4", 120)
    port = free_port()
    cfg = write_site(tmp_path, [mqtt_output(mosquitto.port), webhook_output(receiver.url)],
                     weights=str(need(YOLO_ONNX)), source=str(clip), cameras=ONE_CAMERA)
    db = f"sqlite:///{tmp_path / 'v.db'}"
    sub = Subscriber(mosquitto.port)
    scraped: list[str] = []
    done = threading.Event()

    def scrape() -> None:
        while not done.wait(0.2):
            try:
                scraped.append(httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=1).text)
            except httpx.HTTPError:
                pass

    threading.Thread(target=scrape, daemon=True).start()
    try:
        assert main(["run", str(cfg), "--db", db, "--metrics-port", str(port),
                     "--status-file", str(tmp_path / "status.json")]) == 0
    finally:
        done.set()
    stored = Store(db).events(limit=None)
    assert stored, "the cut should count a vehicle or two"
    ids = sorted(e["id"] for e in stored)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and sorted(e["id"] for e in sub.events()) != ids:
        time.sleep(0.1)
    assert sorted(e["id"] for e in sub.events()) == ids
    assert sorted(e["id"] for e in receiver.events()) == ids
    shown = [p for t, p, _ in sub.messages if t == "vigil/test/cam1/availability"]
    assert b"online" in shown and shown[-1] == b"offline"
    metrics = [t for t in scraped if "vigil_count_events_total{" in t]
    assert metrics, "no scrape saw a counted event"
    last = metrics[-1]
    assert 'vigil_count_events_total{camera="cam1",class="car"' in last
    assert 'vigil_output_delivered_total{output="broker"}' in last and 'vigil_outbox_depth{output="hook"}' in last
    # The status file carries each output's delivery, and `vigil status` shows it in one line each.
    outs = {o["name"]: o for o in json.loads((tmp_path / "status.json").read_text())["outputs"]}
    assert set(outs) == {"broker", "hook"} and outs["broker"]["type"] == "mqtt"
    main(["status", "--file", str(tmp_path / "status.json")])  # exits 1: the daemon has stopped
    shown_status = capsys.readouterr().out
    assert "output broker (mqtt): " in shown_status and "output hook (webhook): " in shown_status, shown_status
    sub.close()
