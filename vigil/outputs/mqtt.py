"""The MQTT output (paho-mqtt 2.x): every event as JSON on
`<prefix>/<site>/<camera>/<line|zone>/<class>/<direction>` (QoS 1 by default: the cursor only
moves once the broker acknowledged), retained running counts and zone occupancy, the bridge's
availability (its last will says 'offline') and each camera's, and Home Assistant discovery.

Several processes may deliver one site (lease workers, `vigil replay` or `vigil outputs run`
beside `vigil run`), and Home Assistant shows a sensor only while the bridge and its camera both
say 'online'. So a process speaks only for the cameras it delivers, and every process listens to
the availability topics: the bridge set 'offline' by a peer that stopped (or by its last will)
while this one runs, or a camera this one watches set to the wrong state by its old owner after a
lease hand-over, is put right at the next tick.

A process that dies while a peer runs sends no goodbye for its cameras, and its last will can only
be the bridge's (one will per connection). So each process keeps a retained claim on
`<prefix>/<site>/processes/<id>` (the cameras it speaks for), renewed every beat; its peers note
when they last heard each claim (their own clock: hosts' clocks may differ), and a claim silent
for DEAD_BEATS beats is a dead process's: they set its cameras that no live claim covers
'offline' and clear the claim.

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
from collections.abc import Callable, Sequence

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
BEAT_S = 5.0  # a process renews its claim this often (its own thread: a delivery backoff does not stop it)
DEAD_BEATS = 3  # a claim not heard for this many beats belongs to a dead process


class MqttSink:
    def __init__(self, cfg: MqttOutput, site: SiteConfig, classes: list[str], engine: sa.Engine,
                 base_dir=None, cameras: Callable[[], list[str]] | None = None,
                 availability: Callable[[], dict[str, bool]] | None = None) -> None:
        self.cfg, self.site, self.engine = cfg, site.site, engine
        self.name = cfg.name
        self.topics = Topics(cfg.topic_prefix, site.site)
        self.sensors = ha.sensors(site, classes, cfg.filter)
        self.cameras = [c.id for c in site.cameras if not cfg.filter.cameras or c.id in cfg.filter.cameras]
        self._delivered = cameras or (lambda: self.cameras)
        # A process that watches the streams knows a camera's state better than any peer, and
        # puts it right when a peer says otherwise; one that only delivers (replay, `vigil outputs
        # run`) shows its cameras online while it runs and corrects no one, or the two would flap.
        self.watches = availability is not None
        self.availability = availability or (lambda: {c: True for c in self.held()})
        self._camera_of = {self.topics.camera_availability(c): c for c in self.cameras}
        self._ours = set(self.cameras)
        self.connected = False
        self.connects = 0  # successful connections: more than one means the broker was lost and found again
        self.last_error: str | None = None
        self._fresh = False  # (re)connected: states and discovery to publish again
        # camera availability on the broker as far as this process knows: what it published, and
        # (when it watches the streams) what it heard since, in the broker's order
        self._shown: dict[str, bool] = {}
        self._speaks_for: set[str] = set()  # cameras whose availability this process published
        self._bridge_down = False  # a peer (or its last will) said the bridge is offline
        # peer process -> (the cameras of its claim, when this process last heard it, monotonic)
        self._claims: dict[str, tuple[frozenset[str], float]] = {}
        self._claimed: list[str] | None = None  # our claim as published; None: to publish
        self._reclaim = False  # a peer took us for dead and cleared our claim: claim and show again
        self._lock = threading.Lock()
        self._claim_lock = threading.Lock()
        self._up = threading.Event()  # first connection made
        self._stop = threading.Event()
        cid = client_id(cfg, self.site)
        self.process = cid.rsplit("-", 1)[1]
        self.client = self._client(cid, base_dir)
        self._beats = threading.Thread(target=self._beat, name=f"vigil-mqtt-beat-{cfg.name}", daemon=True)

    def _client(self, cid: str, base_dir) -> mqtt.Client:
        cfg = self.cfg
        c = mqtt.Client(CallbackAPIVersion.VERSION2, clean_session=True, client_id=cid)
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
        c.on_message = self._on_message
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
            # the retained values come again with the subscription
            self._shown, self._bridge_down, self._claims = {}, False, {}
        # clean session: subscribe on every connect; the broker sends the retained values first
        client.subscribe([(self.topics.availability, 1), (self.topics.claims, 1)]
                         + ([(t, 1) for t in self._camera_of] if self.watches else []))
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

    def _on_message(self, client, userdata, msg) -> None:
        """Availability as the broker has it now (each topic's messages come in its order)."""
        up = msg.payload == b"online"
        with self._lock:
            if msg.topic == self.topics.availability:
                self._bridge_down = not up
            elif (cam := self._camera_of.get(msg.topic)) is not None:
                self._shown[cam] = up
            elif msg.topic.startswith(self._claim_prefix):
                peer = msg.topic[len(self._claim_prefix):]
                cams = claim_cameras(msg.payload)
                if peer == self.process:
                    self._reclaim = self._reclaim or (cams is None and not self._stop.is_set())
                elif cams is None:  # cleared: a clean close, or buried by a peer
                    self._claims.pop(peer, None)
                else:
                    self._claims[peer] = (cams, time.monotonic())

    @property
    def _claim_prefix(self) -> str:
        return self.topics.claims[:-1]  # without the '+'

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
        self._beats.start()
        self._up.wait(3.0)  # a broker that is up is usually there by now; one that is not waits in the outbox

    def _publish_all(self, messages: Sequence[tuple[str, str | bytes, int, bool]]) -> int:
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

    def held(self) -> list[str]:
        """The cameras this process delivers now (with leases: the ones it holds)."""
        return [c for c in self._delivered() if c in self._ours]

    def tick(self) -> None:
        """Between deliveries: after a (re)connect publish discovery, availability and states;
        publish camera availability changes; put right what a peer said wrongly."""
        if not self.connected:
            return
        with self._lock:
            fresh, self._fresh = self._fresh, False
            bridge_down, self._bridge_down = self._bridge_down, False
            reclaim, self._reclaim = self._reclaim, False
        if reclaim:  # a peer set our cameras offline before it cleared our claim: show them again
            held = self.held()
            with self._lock:
                for c in held:
                    self._shown.pop(c, None)
        if fresh or reclaim:
            self._claimed = None
        if fresh or bridge_down:
            msgs: list[tuple[str, str | bytes, int, bool]] = [(self.topics.availability, "online", 1, True)]
            if fresh and self.cfg.discovery.enabled:
                for s in self.sensors:
                    topic, config = ha.discovery(self.topics, self.cfg.discovery.prefix, self.site, s)
                    msgs.append((topic, json.dumps(config), 1, True))
            if self._publish_all(msgs) < len(msgs):
                with self._lock:
                    self._fresh, self._bridge_down = fresh or self._fresh, True  # all again next time
                return
            if fresh:
                self.publish_states(self.held())
        self._show_cameras()

    def _show_cameras(self) -> None:
        """Each camera this process delivers as it sees it; one it no longer delivers offline (its
        new owner, if any, puts it right)."""
        held = set(self.held())
        if self._claimed != sorted(held):  # before the cameras: a peer burying a dead one sees it first
            self._claim(sorted(held))
        avail = self.availability()
        want = {c: bool(avail.get(c, False)) for c in held}
        want.update({c: False for c in self._speaks_for - held})
        with self._lock:
            changed = {c: up for c, up in want.items() if self._shown.get(c) != up}
            self._shown.update(changed)  # before publishing: what is heard after it is newer
        if not changed:
            self._speaks_for = held
            return
        msgs = [(self.topics.camera_availability(c), "online" if up else "offline", 1, True)
                for c, up in changed.items()]
        n = self._publish_all(msgs)
        failed = list(changed)[n:]
        with self._lock:
            for c in failed:  # again next tick
                self._shown.pop(c, None)
        self._speaks_for = held | set(failed)

    # -- claims: this process's thread of beats --------------------------------------------------
    def _claim(self, cameras: list[str] | None = None) -> None:
        """Publish our claim on these cameras, or renew the one published (retained, not waited
        for: the next beat says it again). `beat` is the sender's clock, for people: peers judge
        by when they hear it."""
        with self._claim_lock:  # the beats and the delivery thread: the newest claim last
            cameras = self._claimed if cameras is None else cameras
            if cameras is None:
                return
            payload = json.dumps({"cameras": cameras, "beat": round(time.time(), 1)})
            info = self.client.publish(self.topics.claim(self.process), payload, qos=1, retain=True)
            self._claimed = cameras if info.rc == mqtt.MQTT_ERR_SUCCESS else None

    def _beat(self) -> None:
        while not self._stop.wait(BEAT_S):  # read each time: tests shorten it
            if self.connected:
                self._claim()
                self._bury()

    def _bury(self) -> None:
        """Claims not heard for DEAD_BEATS beats: their cameras that no live claim (ours included)
        covers 'offline', then the claim cleared, so it is done once (a peer doing the same at
        once only repeats it). A process taken for dead wrongly hears its claim cleared and
        claims and shows its cameras again."""
        now = time.monotonic()
        with self._lock:
            dead = {p: cams for p, (cams, heard) in self._claims.items() if now - heard > DEAD_BEATS * BEAT_S}
            for p in dead:
                del self._claims[p]
            live = set(self._claimed or ()).union(*(cams for cams, _ in self._claims.values()))
        for p, cams in dead.items():
            orphans = sorted(c for c in cams - live if c in self._ours)
            log.warning("output %s: process %s stopped renewing its claim on %s; %s offline", self.name, p,
                        ", ".join(sorted(cams)) or "no camera", ", ".join(orphans) or "nothing to set",
                        extra={"event": "output_peer_dead", "output": self.name})
            for c in orphans:
                self.client.publish(self.topics.camera_availability(c), "offline", qos=1, retain=True)
            self.client.publish(self.topics.claim(p), b"", qos=1, retain=True)

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
        """This process's cameras and the bridge 'offline' (a clean stop sends no last will), then
        disconnect. Peers still running put the bridge and their own cameras back at their next tick."""
        self._stop.set()
        if self._beats.is_alive():
            self._beats.join(timeout=5)
        deadline = time.monotonic() + 2.0  # a reconnect under way: let it finish to say goodbye
        while not self.connected and self._up.is_set() and time.monotonic() < deadline:
            time.sleep(0.05)
        if self.connected:
            mine = sorted(self._speaks_for | set(self.held()))
            msgs = [(self.topics.camera_availability(c), "offline", 1, True) for c in mine]
            self._publish_all([*msgs, (self.topics.claim(self.process), b"", 1, True),
                               (self.topics.availability, "offline", 1, True)])
        self.client.disconnect()
        self.client.loop_stop()


def claim_cameras(payload: bytes) -> frozenset[str] | None:
    """The cameras of a claim; None for a cleared (empty) or unreadable one."""
    try:
        cams = json.loads(payload)["cameras"] if payload else None
    except (ValueError, TypeError, KeyError):
        return None
    return frozenset(c for c in cams if isinstance(c, str)) if isinstance(cams, list) else None


def client_id(cfg: MqttOutput, site: str) -> str:
    """A client id of its own per process. Lease workers, and `vigil replay` or `vigil outputs run`
    beside `vigil run`, load one config; with one id the broker would drop each of them in turn
    whenever another connects, forever. So a configured client_id is a prefix (what a broker's
    ACL by client-id prefix expects), completed like the default one."""
    return f"{cfg.client_id or f'vigil-{site}-{cfg.name}'}-{uuid.uuid4().hex[:8]}"
