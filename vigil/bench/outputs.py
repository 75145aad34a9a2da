"""`vigil bench outputs`: how fast the outputs drain a backlog, and what they cost counting.

1. Backlog: N events are stored with the outbox on (two cameras), then one output at a time
   (MQTT to a local mosquitto, webhook to a local receiver in another process) delivers all
   of them; events/s = N / seconds from start to drained. Fresh database per round.
2. Counting: `vigil replay`'s path (Replay + the delivery threads as the CLI starts them) on a
   clip with outputs on (MQTT and webhook) and off, alternated per round; fps counts the
   analysis only (the final drain after the last frame is not counting time).
Rounds alternate the sides; medians are reported with every round."""

from __future__ import annotations

import getpass
import multiprocessing
import shutil
import socket
import statistics
import subprocess
import tempfile
import time
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import yaml

from vigil.config.load import load_site
from vigil.errors import VigilError
from vigil.outputs.delivery import Delivery
from vigil.store import Store
from vigil.types import CountEvent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_port(port: int, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    raise VigilError(f"nothing listens on 127.0.0.1:{port} after {timeout:g} s")


def start_mosquitto(folder: Path) -> tuple[subprocess.Popen, int]:
    exe = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
    if not Path(exe).exists():
        raise VigilError("mosquitto is not installed; apt-get install mosquitto (or scripts/system-deps.sh)")
    port = free_port()
    conf = folder / "mosquitto.conf"
    conf.write_text(f"listener {port} 127.0.0.1\nallow_anonymous true\npersistence false\nlog_dest none\n"
                    f"user {getpass.getuser()}\n")
    proc = subprocess.Popen([exe, "-c", str(conf)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _wait_port(port)
    return proc, port


class _Ok(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as real receivers (and httpx) do

    def do_POST(self):
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        self.send_response(204)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


def _serve(port: int) -> None:
    ThreadingHTTPServer(("127.0.0.1", port), _Ok).serve_forever()


def start_receiver() -> tuple[multiprocessing.Process, str]:
    """A webhook receiver in its own process, as a real one would be (it does not share our GIL)."""
    port = free_port()
    proc = multiprocessing.get_context("spawn").Process(target=_serve, args=(port,), daemon=True)
    proc.start()
    _wait_port(port)
    return proc, f"http://127.0.0.1:{port}/hook"


def write_site(folder: Path, video: Path, weights: Path, outputs: list[dict]) -> Path:
    (folder / "pipelines").mkdir(parents=True, exist_ok=True)
    (folder / "pipelines" / "bench.yaml").write_text(yaml.safe_dump({"detector": {"weights": str(weights)}}))
    line = {"name": "main_road", "points": [[120, 200], [630, 200]], "in_side": "left"}
    site = {"site": "bench", "pipeline": "pipelines/bench.yaml",
            "cameras": [{"id": c, "source": str(video), "start_time": "2026-11-01T08:00:00Z", "lines": [line]}
                        for c in ("cam1", "cam2")],
            "outputs": outputs}
    path = folder / "site.yaml"
    path.write_text(yaml.safe_dump(site))
    return path


def backlog_rate(site: Path, db: Path, events: int, timeout: float = 600.0) -> float:
    """Events/s the site's outputs deliver from a backlog of `events` stored events."""
    store = Store(f"sqlite:///{db}", outbox=True)
    t0 = datetime(2026, 11, 1, 8, tzinfo=timezone.utc)
    for cam in ("cam1", "cam2"):
        run = store.begin_run(cam, "bench", None)
        half = [CountEvent(cam, "line", "main_road", i, "car", "in" if i % 3 else "out",
                           t0 + timedelta(milliseconds=100 * i)) for i in range(events // 2)]
        for i in range(0, len(half), 5000):
            store.write(run, half[i:i + 5000])
    cfg = load_site(site)
    started = time.perf_counter()
    delivery = Delivery(cfg, store.engine, poll=0.02).start()
    if not delivery.drain(timeout):
        raise VigilError(f"the backlog was not delivered in {timeout:g} s: {delivery.snapshot()}")
    seconds = time.perf_counter() - started
    delivered = sum(o["delivered"] for o in delivery.snapshot()["outputs"])
    delivery.close()
    store.close()
    if delivered < events:
        raise VigilError(f"only {delivered} of {events} events delivered")
    return events / seconds


def replay_fps(site: Path, db: Path, detector, video: Path) -> tuple[float, float, int]:
    """(fps, process CPU ms per frame, events) of `vigil replay`'s path on one camera, with the
    site's outputs if any. CPU time is disturbed much less than wall time by a loaded machine."""
    from vigil.pipeline.replay import Replay
    from vigil.pipeline.stages import plan_jobs

    cfg = load_site(site)
    store = Store(f"sqlite:///{db}", outbox=bool(cfg.site.outputs))
    delivery = Delivery(cfg, store.engine, cameras=["cam1"]).start() if cfg.site.outputs else None
    if delivery is not None:
        store.on_commit = delivery.wake  # as `vigil replay` does
    runner = Replay(cfg, store, detector)
    started, cpu = time.perf_counter(), time.process_time()
    runner.run(plan_jobs(cfg, [str(video)], "cam1"))
    seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
    if delivery is not None:
        delivery.close(grace=30)
    n = len(store.events(limit=None))
    store.close()
    return runner.frames / seconds, 1000 * cpu / max(runner.frames, 1), n


def bench_outputs(video: Path, weights: Path, events: int = 10_000, rounds: int = 3,
                  count: bool = True, events_per_post: int = 50) -> dict:
    from vigil.pipeline.stages import build_stages

    with tempfile.TemporaryDirectory(prefix="vigil-bench-outputs-") as tmp:
        folder = Path(tmp)
        broker, port = start_mosquitto(folder)
        receiver, url = start_receiver()
        try:
            mqtt = {"name": "mqtt", "type": "mqtt", "host": "127.0.0.1", "port": port}
            hook = {"name": "hook", "type": "webhook", "url": url, "secret": "bench-key"}
            batched = f"webhook x{events_per_post}"  # the same receiver, events_per_post to a POST
            sites = {kind: write_site(folder / kind.replace(" ", "_"), video, weights, outs)
                     for kind, outs in (("mqtt", [mqtt]), ("webhook", [hook]),
                                        (batched, [{**hook, "events_per_post": events_per_post}]),
                                        ("off", []), ("on", [mqtt, hook]))}
            rates: dict[str, list[float]] = {"mqtt": [], "webhook": []}
            if events_per_post > 1:
                rates[batched] = []
            for r in range(rounds):
                for kind in rates:
                    rates[kind].append(backlog_rate(sites[kind], folder / f"backlog-{kind.replace(' ', '_')}-{r}.db",
                                                    events))
            out: dict = {"events": events, "rounds": rounds,
                         "backlog_events_per_s": {k: {"median": statistics.median(v), "rounds": v}
                                                  for k, v in rates.items()}}
            if count:
                detector, _ = build_stages(load_site(sites["off"]))
                fps: dict[str, list[float]] = {"off": [], "on": []}
                cpu: dict[str, list[float]] = {"off": [], "on": []}
                counted: dict[str, list[int]] = {"off": [], "on": []}
                for r in range(rounds):
                    for side in (("off", "on") if r % 2 == 0 else ("on", "off")):
                        f, c, n = replay_fps(sites[side], folder / f"count-{side}-{r}.db", detector, video)
                        fps[side].append(f)
                        cpu[side].append(c)
                        counted[side].append(n)
                med = {k: statistics.median(v) for k, v in fps.items()}
                out["count_fps"] = {k: {"median": med[k], "rounds": fps[k], "events": counted[k],
                                        "cpu_ms_per_frame": cpu[k]} for k in fps}
                out["count_slowdown"] = 1 - med["on"] / med["off"]
                out["count_cpu_overhead"] = statistics.median(cpu["on"]) / statistics.median(cpu["off"]) - 1
        finally:
            broker.terminate()
            broker.wait(timeout=10)
            receiver.terminate()
            receiver.join(timeout=10)
    return out
