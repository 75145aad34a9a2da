"""The MQTT output (paho-mqtt 2.x): every event as JSON on
`<prefix>/<site>/<camera>/<line|zone>/<class>/<direction>` (QoS 1 by default: the cursor only
moves once the broker acknowledged), retained running counts and zone occupancy, the bridge's
availability (its last will says 'offline') and each camera's, and Home Assistant discovery.

paho's network thread connects and reconnects on its own (backoff up to retry.maximum); while
it is away, deliver() reports the failure and the outbox keeps the events. After every
(re)connect the retained states and discovery configs are published again, so a broker that
lost its store on restart is whole again."""

from __future__ import annotations

import json
import logging
import threading
import time
import uuid
from collections.abc import Callable

import paho.mqtt.client as mqtt
import sqlalchemy as sa
from paho.mqtt.enums import CallbackAPIVersion

from vigil.config.outputs import MqttOutput
from vigil.config.refs import resolve_file
from vigil.config.site import SiteConfig
from vigil.outputs import homeassistant as ha
from vigil.outputs import state
from vigil.outputs.message import Topics, body

log = logging.getLogger("vigil.outputs")

ACK_TIMEOUT_S = 10.0  # how long a batch waits for the broker's acknowledgements


class MqttSink:
    def __init__(self, cfg: MqttOutput, site: SiteConfig, classes: list[str], engine: sa.Engine,
                 base_dir=None, availability: Callable[[], dict[str, bool]] | None = None) -> None:
        self.cfg, self.site, self.engine = cfg, site.site, engine
        self.name = cfg.name
        self.topics = Topics(cfg.topic_prefix, site.site)
        self.sensors = ha.sensors(site, classes, cfg.filter)
        self.cameras = [c.id for c in site.cameras if not cfg.filter.cameras or c.id in cfg.filter.cameras]
        self.availability = availability or (lambda: {c: True for c in self.cameras})
        self.connected = False
        self.connects = 0  # successful connections: more than one means the broker was lost and found again
        self.last_error: str | None = None
        self._fresh = False  # (re)connected: states and discovery to publish again
        self._shown: dict[str, bool] = {}  # camera availability as last published
        self._lock = threading.Lock()
        self._up = threading.Event()  # first connection made
        self.client = self._client(base_dir)

    def _client(self, base_dir) -> mqtt.Client:
        cfg = self.cfg
        # A client id of its own per process: `vigil run` for some cameras and `vigil outputs run` or
        # another daemon for others would otherwise keep disconnecting each other (same id).
        c = mqtt.Client(CallbackAPIVersion.VERSION2, clean_session=True,
                        client_id=cfg.client_id or f"vigil-{self.site}-{cfg.name}-{uuid.uuid4().hex[:8]}")
        if cfg.username is not None:
            c.username_pw_set(cfg.username, cfg.password.get_secret_value() if cfg.password else None)
        if cfg.tls is not None:
            def path(p):
                return None if p is None else str(resolve_file(p, base_dir)) if base_dir else p
            c.tls_set(ca_certs=path(cfg.tls.ca_file), certfile=path(cfg.tls.cert_file), keyfile=path(cfg.tls.key_file))
            c.tls_insecure_set(cfg.tls.insecure)
        c.will_set(self.topics.availability, "offline", qos=1, retain=True)
        c.reconnect_delay_set(min_delay=1, max_delay=max(1, int(cfg.retry.maximum)))
        c.max_inflight_messages_set(100)
        c.on_connect = self._on_connect
        c.on_disconnect = self._on_disconnect
        return c

    # -- paho's network thread -------------------------------------------------------------
    def _on_connect(self, client, userdata, flags, reason, properties) -> None:
        if reason.is_failure:
            error = f"broker {self.cfg.host}:{self.cfg.port} refused the connection: {reason}"
            if error != self.last_error:  # paho retries every few seconds: say it once
                log.error("output %s: %s; check username and password", self.name, error,
                          extra={"event": "output_error"})
            self.last_error = error
            return
        with self._lock:
            self.connected, self._fresh = True, True
            self.connects += 1
        self._up.set()
        log.info("output %s: connected to %s:%d", self.name, self.cfg.host, self.cfg.port,
                 extra={"event": "output_connected", "output": self.name})

    def _on_disconnect(self, client, userdata, flags, reason, properties) -> None:
        with self._lock:
            was, self.connected = self.connected, False
        if was:
            self.last_error = f"lost the connection to {self.cfg.host}:{self.cfg.port} ({reason})"

    # -- the output's delivery thread ----------------------------------------------------------
    def start(self) -> None:
        """Connect (paho's thread keeps reconnecting). The first attempt is made here, so its
        reason (refused, TLS certificate, timeout) reaches the log; paho's retries do not say."""
        try:
            self.client.connect(self.cfg.host, self.cfg.port, self.cfg.keepalive)
        except (OSError, ValueError) as exc:  # ssl errors are OSErrors
            self.last_error = f"cannot connect to {self.cfg.host}:{self.cfg.port}: {exc}"
            log.warning("output %s: %s; retrying, events wait in the outbox", self.name, self.last_error,
                        extra={"event": "output_error", "output": self.name})
            self.client.connect_async(self.cfg.host, self.cfg.port, self.cfg.keepalive)
        self.client.loop_start()
        self._up.wait(3.0)  # a broker that is up is usually there by now; one that is not waits in the outbox

    def _publish_all(self, messages: list[tuple[str, str | bytes, int, bool]]) -> int:
        """Publish in order and wait for the acknowledgements; how many from the front made it."""
        infos = []
        for topic, payload, qos, retain in messages:
            info = self.client.publish(topic, payload, qos=qos, retain=retain)
            if info.rc != mqtt.MQTT_ERR_SUCCESS:
                self.last_error = f"publish to {self.cfg.host}:{self.cfg.port} failed: {mqtt.error_string(info.rc)}"
                break
            infos.append(info)
        deadline = time.monotonic() + ACK_TIMEOUT_S
        for i, info in enumerate(infos):
            try:
                info.wait_for_publish(max(0.0, deadline - time.monotonic()))
            except (RuntimeError, ValueError) as exc:
                self.last_error = f"publish failed: {exc}"
                return i
            if not info.is_published():
                self.last_error = f"no acknowledgement from {self.cfg.host}:{self.cfg.port} in {ACK_TIMEOUT_S:g} s"
                return i
        return len(infos)

    def tick(self) -> None:
        """Between deliveries: after a (re)connect publish discovery, availability and states;
        publish camera availability changes."""
        if not self.connected:
            return
        with self._lock:
            fresh, self._fresh = self._fresh, False
        if fresh:
            msgs: list[tuple[str, str | bytes, int, bool]] = [(self.topics.availability, "online", 1, True)]
            if self.cfg.discovery.enabled:
                for s in self.sensors:
                    topic, config = ha.discovery(self.topics, self.cfg.discovery.prefix, self.site, s)
                    msgs.append((topic, json.dumps(config), 1, True))
            self._shown = {}
            if self._publish_all(msgs) < len(msgs):
                with self._lock:
                    self._fresh = True  # all again next time
                return
            self.publish_states(self.cameras)
        avail = self.availability()
        changed = [(self.topics.camera_availability(c), "online" if up else "offline", 1, True)
                   for c, up in avail.items() if c in self.cameras and self._shown.get(c) != up]
        if changed and self._publish_all(changed) == len(changed):
            self._shown.update({c: up for c, up in avail.items() if c in self.cameras})

    def publish_states(self, cameras: list[str]) -> None:
        """Retained counts and occupancy of these cameras, read from the database."""
        if not cameras or not self.connected:
            return
        cams = set(cameras)
        counts = state.totals(self.engine, sorted(cams))
        occ = state.occupancy(self.engine, sorted(cams))
        msgs: list[tuple[str, str | bytes, int, bool]] = []
        for s in self.sensors:
            if s.camera not in cams:
                continue
            value = (occ.get((s.camera, s.name, s.class_name), 0) if s.is_occupancy
                     else counts.get((s.camera, s.kind, s.name, s.class_name, s.direction), 0))
            msgs.append((ha.state_topic(self.topics, s), str(value), 1, True))
        self._publish_all(msgs)

    def deliver(self, payloads: list[dict]) -> tuple[int, str | None]:
        """Publish events in order; (how many from the front the broker acknowledged, error)."""
        if not self.connected:
            return 0, self.last_error or f"not connected to {self.cfg.host}:{self.cfg.port} yet"
        msgs = [(self.topics.event(p["camera"], p[p["kind"]], p["class"], p["direction"]), body(p), self.cfg.qos,
                 False) for p in payloads]
        n = self._publish_all(msgs)
        if n:
            self.publish_states(sorted({p["camera"] for p in payloads[:n]}))
        return n, None if n == len(msgs) else self.last_error

    def close(self) -> None:
        """Cameras and bridge 'offline' (a clean stop sends no last will), then disconnect."""
        deadline = time.monotonic() + 2.0  # a reconnect under way: let it finish to say goodbye
        while not self.connected and self._up.is_set() and time.monotonic() < deadline:
            time.sleep(0.05)
        if self.connected:
            msgs = [(self.topics.camera_availability(c), "offline", 1, True) for c in self.cameras]
            self._publish_all([*msgs, (self.topics.availability, "offline", 1, True)])
        self.client.disconnect()
        self.client.loop_stop()
