"""A real mosquitto on loopback (stoppable and restartable mid-test), a real HTTP receiver
that can answer 500 for a while, and an MQTT subscriber that records what arrives."""

from __future__ import annotations

import getpass
import json
import shutil
import socket
import subprocess
import threading
import time
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

MOSQUITTO = shutil.which("mosquitto") or "/usr/sbin/mosquitto"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port: int, up: bool, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            if up:
                return
        except OSError:
            if not up:
                return
        time.sleep(0.05)
    raise TimeoutError(f"port {port} not {'up' if up else 'down'} after {timeout} s")


class Mosquitto:
    """mosquitto with persistence in `folder`, so a restart keeps sessions and retained messages
    (the subscriber's queued messages survive the broker's restart: the test sees everything
    Vigil had acknowledged)."""

    def __init__(self, folder: Path, users: dict[str, str] | None = None, tls: dict[str, Path] | None = None) -> None:
        if not Path(MOSQUITTO).exists():
            pytest.skip("mosquitto is not installed (apt-get install mosquitto; scripts/system-deps.sh)")
        self.folder, self.port = folder, free_port()
        conf = [f"listener {self.port} 127.0.0.1", "persistence true", f"persistence_location {folder}/",
                "log_dest none",
                # run as root, mosquitto would switch to user `mosquitto`, who may not read our temp folder
                f"user {getpass.getuser()}"]
        if users:
            pw = folder / "passwd"
            pw.write_text("".join(f"{u}:{p}\n" for u, p in users.items()))
            subprocess.run(["mosquitto_passwd", "-U", str(pw)], check=True)
            conf += ["allow_anonymous false", f"password_file {pw}"]
        else:
            conf.append("allow_anonymous true")
        if tls:
            conf += [f"cafile {tls['ca']}", f"certfile {tls['cert']}", f"keyfile {tls['key']}"]
        self.conf = folder / "mosquitto.conf"
        self.conf.write_text("\n".join(conf) + "\n")
        self.proc: subprocess.Popen | None = None

    def start(self) -> Mosquitto:
        self.proc = subprocess.Popen([MOSQUITTO, "-c", str(self.conf)], stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL)
        wait_port(self.port, up=True)
        return self

    def stop(self) -> None:
        """SIGTERM: the broker drops every connection and saves its state, like `systemctl restart`."""
        if self.proc is not None:
            self.proc.terminate()
            self.proc.wait(timeout=10)
            self.proc = None
            wait_port(self.port, up=False)


@pytest.fixture
def mosquitto(tmp_path):
    broker = Mosquitto(tmp_path).start()
    yield broker
    broker.stop()


@dataclass
class Subscriber:
    """Records every message under the topics, with a persistent session (QoS 1)."""

    port: int
    topics: tuple[str, ...] = ("vigil/#", "homeassistant/#")
    messages: list[tuple[str, bytes, bool]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.lock = threading.Lock()
        self.ready = threading.Event()
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"test-sub-{uuid.uuid4().hex[:12]}",
                                  clean_session=False)
        self.client.on_connect = self._connected
        self.client.on_message = self._message
        self.client.reconnect_delay_set(0.1, 0.5)
        self.client.connect_async("127.0.0.1", self.port)
        self.client.loop_start()
        assert self.ready.wait(10), "test subscriber could not connect"

    def _connected(self, client, userdata, flags, reason, properties):
        client.subscribe([(t, 1) for t in self.topics])
        time.sleep(0.1)
        self.ready.set()

    def _message(self, client, userdata, msg):
        with self.lock:
            self.messages.append((msg.topic, msg.payload, bool(msg.retain)))

    def events(self) -> list[dict]:
        with self.lock:
            return [json.loads(p) for t, p, _ in self.messages if t.count("/") == 5 and t.endswith(("/in", "/out"))]

    def last(self, topic: str) -> bytes | None:
        with self.lock:
            found = [p for t, p, _ in self.messages if t == topic]
        return found[-1] if found else None

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


class Receiver:
    """An HTTP server recording POSTs; `fail_until` (monotonic time) makes it answer 500 till then;
    `refuse_arrays` makes it answer 400 to a JSON array (a receiver that takes single events only)."""

    def __init__(self, port: int = 0) -> None:
        self.requests: list[tuple[dict, bytes]] = []
        self.fail_until = 0.0
        self.failed = 0
        self.refuse_arrays = False
        self.refused = 0
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                data = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                if time.monotonic() < outer.fail_until:
                    outer.failed += 1
                    self.send_response(500)
                    self.end_headers()
                    return
                if outer.refuse_arrays and data.startswith(b"["):
                    outer.refused += 1
                    self.send_response(400)
                    self.end_headers()
                    return
                outer.requests.append(({k.lower(): v for k, v in self.headers.items()}, data))
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def events(self) -> list[dict]:
        """Every event received, in order (a JSON array counts for each of its events)."""
        out: list[dict] = []
        for _, b in list(self.requests):
            got = json.loads(b)
            out.extend(got if isinstance(got, list) else [got])
        return out

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver():
    r = Receiver()
    yield r
    r.close()


def make_tls(folder: Path) -> dict[str, Path]:
    """A CA and a server certificate for 127.0.0.1 (IP SAN), with the openssl command."""
    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.skip("openssl is not installed (needed to make test certificates)")
    p = {k: folder / f"{k}.pem" for k in ("ca", "ca_key", "cert", "key", "csr")}

    def run(*args: str) -> None:
        subprocess.run([openssl, *args], check=True, capture_output=True)

    run("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=vigil-test-ca",
        "-keyout", str(p["ca_key"]), "-out", str(p["ca"]))
    run("req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=127.0.0.1", "-keyout", str(p["key"]),
        "-out", str(p["csr"]))
    ext = folder / "san.cnf"
    ext.write_text("subjectAltName=IP:127.0.0.1\n")
    run("x509", "-req", "-in", str(p["csr"]), "-CA", str(p["ca"]), "-CAkey", str(p["ca_key"]), "-CAcreateserial",
        "-days", "2", "-extfile", str(ext), "-out", str(p["cert"]))
    return p
