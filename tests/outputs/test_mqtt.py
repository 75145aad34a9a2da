"""The MQTT output against a real mosquitto: Home Assistant discovery configs (checked against
HA's MQTT sensor schema), retained counts and occupancy equal to the database's, bridge and
camera availability with a last will, filters, and username/password."""

from __future__ import annotations

import json
import re
import time

import pytest

from tests.outputs.brokers import Mosquitto, Subscriber, make_tls, mosquitto  # noqa: F401 (fixture)
from tests.outputs.sitekit import event, load, mqtt_output
from vigil.outputs.delivery import Delivery
from vigil.store import Store

# Home Assistant's MQTT sensor schema, as documented at
# https://www.home-assistant.io/integrations/sensor.mqtt/ (Configuration Variables) and
# https://www.home-assistant.io/integrations/mqtt/#mqtt-discovery (discovery payloads, `origin`).
# HA rejects a discovery payload with a key outside these (voluptuous, extra keys not allowed).
HA_SENSOR_KEYS = {
    "availability", "availability_mode", "availability_template", "availability_topic", "default_entity_id",
    "device", "device_class", "enabled_by_default", "encoding", "entity_category", "entity_picture",
    "expire_after", "force_update", "icon", "json_attributes_template", "json_attributes_topic",
    "last_reset_value_template", "name", "object_id", "options", "payload_available", "payload_not_available",
    "platform", "qos", "state_class", "state_topic", "suggested_display_precision", "unique_id",
    "unit_of_measurement", "value_template", "origin",
}
HA_REQUIRED = {"state_topic"}
HA_DEVICE_KEYS = {"configuration_url", "connections", "hw_version", "identifiers", "manufacturer", "model",
                  "model_id", "name", "serial_number", "suggested_area", "sw_version", "via_device"}
HA_ORIGIN_KEYS = {"name", "sw_version", "support_url"}
HA_AVAILABILITY_KEYS = {"topic", "payload_available", "payload_not_available", "value_template"}
HA_STATE_CLASSES = {"measurement", "total", "total_increasing"}
HA_AVAILABILITY_MODES = {"all", "any", "latest"}
# <discovery_prefix>/<component>/[<node_id>/]<object_id>/config, ids of [a-zA-Z0-9_-]
HA_TOPIC = re.compile(r"^homeassistant/sensor/(?:[a-zA-Z0-9_-]+/)?[a-zA-Z0-9_-]+/config$")


def wait_for(cond, timeout=15.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return True
        time.sleep(0.05)
    return False


def stored(tmp_path, evs):
    store = Store(f"sqlite:///{tmp_path / 'v.db'}", outbox=True)
    for cam in ("cam1", "cam2"):
        run = store.begin_run(cam, "test", None, kind="live")
        store.write(run, [e for e in evs if e.camera_id == cam])
    return store


EVENTS = [event(0), event(1), event(2, direction="out"), event(3, cls="car"),
          event(4, kind="zone", name="lobby"), event(5, kind="zone", name="lobby"),
          event(6, kind="zone", name="lobby", direction="out"), event(7, "cam2", name="gate", cls="car")]


def test_discovery_states_availability_and_filters(tmp_path, mosquitto):  # noqa: F811
    cars_only = mqtt_output(mosquitto.port, "cars", "    topic_prefix: cars\n    discovery: {enabled: false}\n"
                                                    "    filter: {classes: [car]}\n")
    cfg = load(tmp_path, [mqtt_output(mosquitto.port), cars_only])
    store = stored(tmp_path, EVENTS)
    sub = Subscriber(mosquitto.port, topics=("vigil/#", "homeassistant/#", "cars/#"))
    delivery = Delivery(cfg, store.engine, poll=0.05).start()
    assert delivery.drain(20)
    assert wait_for(lambda: sub.last("vigil/test/cam1/lobby/pedestrian/occupancy") is not None)

    # every event, as JSON, on vigil/<site>/<camera>/<line|zone>/<class>/<direction>
    db = store.events(limit=None)
    vigil_events = [json.loads(p) for t, p, _ in sub.messages if t.startswith("vigil/") and t.endswith(("/in", "/out"))]
    assert sorted(e["id"] for e in vigil_events) == sorted(e["id"] for e in db)
    topics = {t for t, _, _ in sub.messages}
    assert "vigil/test/cam1/door/pedestrian/in" in topics and "vigil/test/cam2/gate/car/in" in topics
    # the filtered output: cars only
    cars = [json.loads(p) for t, p, _ in sub.messages if t.startswith("cars/") and t.endswith(("/in", "/out"))]
    assert sorted(e["id"] for e in cars) == sorted(e["id"] for e in db if e["class_name"] == "car")

    # retained states equal the database's counts; occupancy = entries - exits of the latest run
    assert sub.last("vigil/test/cam1/door/pedestrian/in/count") == b"2"
    assert sub.last("vigil/test/cam1/door/pedestrian/out/count") == b"1"
    assert sub.last("vigil/test/cam1/door/car/in/count") == b"1"
    assert sub.last("vigil/test/cam1/lobby/pedestrian/occupancy") == b"1"
    assert sub.last("vigil/test/cam1/lobby/car/occupancy") == b"0"
    assert sub.last("vigil/test/availability") == b"online"
    assert sub.last("vigil/test/cam1/availability") == b"online"

    # Home Assistant discovery: one sensor per series and per zone occupancy, valid HA keys
    configs = {t: json.loads(p) for t, p, retain in sub.messages if t.startswith("homeassistant/")}
    # cam1: door 2 classes x 2 directions, lobby 2 classes x (in, out, occupancy); cam2: gate 2 x 2
    assert len(configs) == 4 + 6 + 4
    assert len({c["unique_id"] for c in configs.values()}) == len(configs)
    for topic, c in configs.items():
        assert HA_TOPIC.match(topic), topic
        assert set(c) <= HA_SENSOR_KEYS, set(c) - HA_SENSOR_KEYS
        assert HA_REQUIRED <= set(c)
        assert set(c["device"]) <= HA_DEVICE_KEYS and c["device"]["identifiers"]
        assert set(c["origin"]) <= HA_ORIGIN_KEYS and c["origin"]["name"]
        assert c["state_class"] in HA_STATE_CLASSES and c["availability_mode"] in HA_AVAILABILITY_MODES
        assert all(set(a) <= HA_AVAILABILITY_KEYS for a in c["availability"])
        assert c["state_topic"] in topics  # its state was published (retained)
        assert {a["topic"] for a in c["availability"]} <= topics
    occ = [c for c in configs.values() if c["state_topic"].endswith("/occupancy")]
    assert len(occ) == 2 and all(c["state_class"] == "measurement" for c in occ)
    # retained: a client that subscribes later (Home Assistant restarting) gets them all
    late = Subscriber(mosquitto.port, topics=("homeassistant/#", "vigil/test/cam1/door/pedestrian/in/count"))
    assert wait_for(lambda: len({t for t, _, _ in late.messages}) == len(configs) + 1)
    late.close()

    # the last will: the connection dies without a goodbye -> the broker says offline
    sink = delivery.workers[0].sink
    sink.client.socket().close()
    assert wait_for(lambda: b"offline" in [p for t, p, _ in sub.messages if t == "vigil/test/availability"])
    # paho reconnects by itself and the bridge is online again
    assert wait_for(lambda: sub.last("vigil/test/availability") == b"online")
    # a clean stop marks bridge and cameras offline itself
    delivery.close()
    assert wait_for(lambda: sub.last("vigil/test/availability") == b"offline"
                    and sub.last("vigil/test/cam2/availability") == b"offline")
    sub.close()


def test_username_password_and_a_refused_login_loses_nothing(tmp_path, monkeypatch):
    broker = Mosquitto(tmp_path, users={"vigil": "right-pw"}).start()
    try:
        monkeypatch.setenv("MQTT_PASSWORD", "wrong-pw")
        creds = "    username: vigil\n    password: ${MQTT_PASSWORD}\n"
        cfg = load(tmp_path, [mqtt_output(broker.port, extra=creds)])
        assert cfg.site.outputs[0].password.get_secret_value() == "wrong-pw"
        assert "wrong-pw" not in repr(cfg.site.outputs[0])
        store = stored(tmp_path, EVENTS)
        delivery = Delivery(cfg, store.engine, poll=0.05).start()
        assert not delivery.drain(5)
        snap = delivery.snapshot()["outputs"][0]
        assert snap["delivered"] == 0 and snap["failures"] > 0 and "refused" in snap["last_error"]
        delivery.close()

        monkeypatch.setenv("MQTT_PASSWORD", "right-pw")  # fixed: everything waiting is delivered
        cfg = load(tmp_path, [mqtt_output(broker.port, extra=creds)])
        delivery = Delivery(cfg, store.engine, poll=0.05).start()
        assert delivery.drain(20)
        assert delivery.snapshot()["outputs"][0]["delivered"] == len(EVENTS)
        delivery.close()
    finally:
        broker.stop()


@pytest.mark.parametrize("qos", [0, 1])
def test_topic_levels_and_qos(tmp_path, mosquitto, qos):  # noqa: F811
    cfg = load(tmp_path, [mqtt_output(mosquitto.port, extra=f"    qos: {qos}\n")])
    store = stored(tmp_path, EVENTS[:2])
    sub = Subscriber(mosquitto.port)
    delivery = Delivery(cfg, store.engine, poll=0.05).start()
    assert delivery.drain(20)
    assert wait_for(lambda: len(sub.events()) == 2)
    delivery.close()
    sub.close()


def test_tls_to_a_broker_with_our_ca(tmp_path):
    certs = make_tls(tmp_path)
    broker = Mosquitto(tmp_path, tls=certs).start()
    try:
        cfg = load(tmp_path, [mqtt_output(broker.port, extra=f"    tls: {{ca_file: {certs['ca']}}}\n")])
        store = stored(tmp_path, EVENTS[:3])
        delivery = Delivery(cfg, store.engine, poll=0.05).start()
        assert delivery.drain(20)
        assert delivery.snapshot()["outputs"][0]["delivered"] == 3
        delivery.close()
        # without our CA the server certificate is refused, and nothing is lost meanwhile
        cfg = load(tmp_path, [mqtt_output(broker.port, "other", extra="    tls: {}\n")])
        store.write(store.begin_run("cam1", "again", None), [event(10), event(11)])
        delivery = Delivery(cfg, store.engine, poll=0.05).start()
        assert not delivery.drain(4)
        out = delivery.snapshot()["outputs"][0]
        assert out["delivered"] == 0 and out["failures"] > 0, out
        assert "CERTIFICATE_VERIFY_FAILED" in out["last_error"], out
        delivery.close()
    finally:
        broker.stop()


def test_availability_is_per_process(tmp_path, mosquitto):  # noqa: F811
    """Lease workers A (cam1) and B (cam2), and a replay (C) beside them, with one configured
    client_id: each speaks only for the cameras it delivers, and a peer that stops, dies (its last
    will) or hands a camera over never leaves the site unavailable in Home Assistant (availability
    mode all over the bridge and camera topics) while another still runs."""
    import paho.mqtt.client as mqtt
    from paho.mqtt.enums import CallbackAPIVersion

    cfg = load(tmp_path, [mqtt_output(mosquitto.port, extra="    client_id: vigil-gate\n")])
    store = stored(tmp_path, EVENTS)
    sub = Subscriber(mosquitto.port)
    bridge, cam1, cam2 = "vigil/test/availability", "vigil/test/cam1/availability", "vigil/test/cam2/availability"
    streaming = {"cam1": True, "cam2": True}
    held_a, held_b = ["cam1"], ["cam2"]

    def worker(held):
        return Delivery(cfg, store.engine, cameras=lambda: list(held),
                        availability=lambda: {c: streaming[c] for c in held}, poll=0.05).start()

    def heard(topic, payload, since):
        return wait_for(lambda: payload in [p for t, p, _ in sub.messages[since:] if t == topic])

    def shown(**want):
        return wait_for(lambda: all(sub.last(t) == want[k].encode() for k, t in
                                    (("bridge", bridge), ("cam1", cam1), ("cam2", cam2)) if k in want), 10)

    a, b = worker(held_a), worker(held_b)
    try:
        assert a.drain(20) and b.drain(20)
        assert shown(bridge="online", cam1="online", cam2="online")
        # one configured client_id, two processes: each connected once, not dropped in turn
        sa_, sb = a.workers[0].sink, b.workers[0].sink
        assert sa_.client._client_id != sb.client._client_id
        assert sa_.client._client_id.startswith(b"vigil-gate-")
        time.sleep(1.0)
        assert sa_.connects == 1 and sb.connects == 1 and sa_.connected and sb.connected

        # another process dies: its last will says the bridge is offline; A and B put it right
        before = len(sub.messages)
        peer = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="dying-peer")
        peer.will_set(bridge, "offline", qos=1, retain=True)
        peer.connect("127.0.0.1", mosquitto.port)
        peer.loop(0.5)
        peer.socket().close()
        assert heard(bridge, b"offline", before)
        assert shown(bridge="online")

        # cam1 is handed over to B; then A stops: the bridge and both cameras stay online
        held_a.remove("cam1")
        held_b.append("cam1")
        assert a.drain(10) and b.drain(10)
        assert shown(cam1="online")
        before = len(sub.messages)
        sub.client.publish(cam1, "offline", qos=1, retain=True)  # A's goodbye to cam1, arriving late
        assert heard(cam1, b"offline", before)
        assert shown(cam1="online")
        before = len(sub.messages)
        a.close()
        assert heard(bridge, b"offline", before)
        assert shown(bridge="online", cam1="online", cam2="online")
        time.sleep(0.5)  # and stay so
        assert shown(bridge="online", cam1="online", cam2="online")

        # cam2's stream drops; a replay of cam2 (no stream of its own) starts beside B and says
        # online, B puts it right; the replay ends: the bridge stays online, cam2 offline
        streaming["cam2"] = False
        assert shown(cam2="offline")
        before = len(sub.messages)
        c = Delivery(cfg, store.engine, cameras=["cam2"], poll=0.05).start()
        assert heard(cam2, b"online", before)
        assert shown(cam2="offline")
        settled = len(sub.messages)
        time.sleep(0.5)
        assert [m for m in sub.messages[settled:] if m[0] in (bridge, cam2)] == []  # no flapping
        before = len(sub.messages)
        c.close()
        assert heard(bridge, b"offline", before) and heard(cam2, b"offline", before)
        assert shown(bridge="online", cam1="online", cam2="offline")
        streaming["cam2"] = True
        assert shown(cam2="online")
    finally:
        a.close()
        b.close()
    # the last process stops: everything offline
    assert shown(bridge="offline", cam1="offline", cam2="offline")
    sub.close()


def test_a_dead_process_s_cameras_go_offline(tmp_path, mosquitto, monkeypatch):  # noqa: F811
    """A (watches cam2 and cam3) dies without a goodbye while B (watches cam1) and a replay R
    (cam3) run: A's last will and B put the bridge right, and a few beats later A's silent claim
    has cam2 set offline; cam3, which R still claims, and B's cam1 stay online."""
    import vigil.outputs.mqtt as mqtt_mod
    from tests.outputs.sitekit import CAMERAS

    monkeypatch.setattr(mqtt_mod, "BEAT_S", 0.25)  # dead after 3 beats: 0.75 s
    cfg = load(tmp_path, [mqtt_output(mosquitto.port)], cameras=CAMERAS + "  - id: cam3\n    source: {source}\n")
    store = stored(tmp_path, EVENTS)
    sub = Subscriber(mosquitto.port)
    topic = {c: f"vigil/test/{c}/availability" for c in ("cam1", "cam2", "cam3")}
    topic["bridge"] = "vigil/test/availability"

    def watcher(held):
        return Delivery(cfg, store.engine, cameras=held, availability=lambda: {c: True for c in held},
                        poll=0.05).start()

    def shown(**want):
        return wait_for(lambda: all(sub.last(topic[k]) == v.encode() for k, v in want.items()), 10)

    a, b = watcher(["cam2", "cam3"]), watcher(["cam1"])
    r = Delivery(cfg, store.engine, cameras=["cam3"], poll=0.05).start()
    try:
        assert shown(bridge="online", cam1="online", cam2="online", cam3="online")
        dead = a.workers[0]
        claim = f"vigil/test/processes/{dead.sink.process}"
        assert wait_for(lambda: json.loads(sub.last(claim) or b"{}").get("cameras") == ["cam2", "cam3"])
        # A is killed: its threads stop where they are, its socket closes without DISCONNECT
        dead.sink.close = lambda: None
        dead.stop.set()
        dead.join(5)
        dead.sink._stop.set()
        dead.sink.client.loop_stop()
        dead.sink.client.socket().close()
        before = len(sub.messages)
        assert shown(cam2="offline")
        assert sub.last(claim) == b""  # buried once, by B or R
        assert shown(bridge="online", cam1="online", cam3="online")
        went = [(t, p) for t, p, _ in sub.messages[before:] if t in (topic["cam1"], topic["cam3"])]
        assert (topic["cam3"], b"offline") not in went and (topic["cam1"], b"offline") not in went
        time.sleep(0.8)  # the live ones keep their claims: nothing more goes offline
        assert shown(bridge="online", cam1="online", cam2="offline", cam3="online")
        # a peer wrongly took R for dead: R hears its claim cleared, claims and shows cam3 again
        replay = f"vigil/test/processes/{r.workers[0].sink.process}"
        before = len(sub.messages)
        sub.client.publish(topic["cam3"], "offline", qos=1, retain=True)
        sub.client.publish(replay, b"", qos=1, retain=True)

        def after_clear():
            since = [(t, p) for t, p, _ in sub.messages[before:] if t in (replay, topic["cam3"])]
            return since[since.index((replay, b"")):] if (replay, b"") in since else []
        assert wait_for(lambda: {(topic["cam3"], b"online")} <= set(after_clear())
                        and any(t == replay and p for t, p in after_clear()))
    finally:
        r.close()
        b.close()
    assert shown(bridge="offline", cam1="offline", cam3="offline")
    assert not [t for t, p, _ in sub.messages if t.startswith("vigil/test/processes/") and sub.last(t)]  # all cleared
    sub.close()
