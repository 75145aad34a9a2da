"""Prometheus metrics for the live daemon, on an opt-in HTTP port (`live.metrics_port`).

A custom collector reads the daemon's health snapshot at scrape time, so the hot path does no
metric bookkeeping of its own and the numbers always agree with `vigil status`. The one
exception is `EventTally`, the per-line counters and zone occupancy: a dict update per event
(events are a few per second), read at scrape time too. The outputs' delivery (outbox depth,
failures, drops) comes from its own snapshot."""

from __future__ import annotations

import threading
from collections import Counter
from typing import Callable, Iterable

from prometheus_client import CollectorRegistry, start_http_server
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

from vigil.errors import ConfigError

STATES = ("connecting", "streaming", "backoff", "stopped", "finished", "failed")

# (metric, health key, help, counter?)
_PER_CAMERA = (
    ("vigil_camera_decode_fps", "decode_fps", "frames decoded per second", False),
    ("vigil_camera_processed_fps", "processed_fps", "frames analysed per second", False),
    ("vigil_camera_frames_decoded", "frames_decoded", "frames decoded", True),
    ("vigil_camera_frames_processed", "frames_processed", "frames analysed", True),
    ("vigil_camera_frames_dropped", "dropped_frames", "stale frames dropped to keep up with the stream", True),
    ("vigil_camera_reconnects", "reconnects", "reconnect attempts", True),
    ("vigil_camera_decode_fallbacks", "decode_fallbacks",
     "times the video decode device named in live.hwaccel failed and software decode took over", True),
    ("vigil_camera_events", "events", "count events produced", True),
    ("vigil_camera_last_frame_age_seconds", "last_frame_age_s", "seconds since the last decoded frame", False),
    ("vigil_camera_inference_milliseconds", "inference_ms", "detector time of the last batch", False),
    ("vigil_camera_latency_milliseconds", "latency_ms", "frame time to events handed to the writer", False),
)


class EventTally:
    """Events per (camera, kind, name, class, direction) and tracks inside each zone per class,
    since this process started (Prometheus counters may reset; rate() handles that)."""

    def __init__(self) -> None:
        self._counts: Counter[tuple[str, str, str, str, str]] = Counter()
        self._inside: Counter[tuple[str, str, str]] = Counter()
        self._lock = threading.Lock()

    def add(self, events: Iterable) -> None:
        with self._lock:
            for e in events:
                self._counts[(e.camera_id, e.kind, e.name, e.class_name, e.direction)] += 1
                if e.kind == "zone":
                    self._inside[(e.camera_id, e.name, e.class_name)] += 1 if e.direction == "in" else -1

    def snapshot(self) -> tuple[dict, dict]:
        with self._lock:
            return dict(self._counts), {k: max(0, v) for k, v in self._inside.items()}

    def collect(self):
        counts, inside = self.snapshot()
        fam = CounterMetricFamily("vigil_count_events", "count events by camera, line or zone, class and direction",
                                  labels=["camera", "kind", "name", "class", "direction"])
        for key, n in sorted(counts.items()):
            fam.add_metric(list(key), float(n))
        yield fam
        occ = GaugeMetricFamily("vigil_zone_occupancy", "tracks inside the zone, by class",
                                labels=["camera", "zone", "class"])
        for key, n in sorted(inside.items()):
            occ.add_metric(list(key), float(n))
        yield occ


class OutputsCollector:
    """The outputs' delivery: see vigil.outputs.delivery.Delivery.snapshot."""

    def __init__(self, snapshot: Callable[[], dict]):
        self.snapshot = snapshot

    def collect(self):
        snap = self.snapshot()
        fams = {
            "delivered": CounterMetricFamily("vigil_output_delivered", "events an output confirmed", labels=["output"]),
            "failures": CounterMetricFamily("vigil_output_failures", "failed delivery attempts", labels=["output"]),
            "rejected": CounterMetricFamily("vigil_output_rejected", "events a receiver refused for good (4xx)",
                                            labels=["output"]),
            "depth": GaugeMetricFamily("vigil_outbox_depth", "events waiting for the output", labels=["output"]),
            "connected": GaugeMetricFamily("vigil_output_connected", "1 while the output is reachable",
                                           labels=["output"]),
        }
        for out in snap.get("outputs", []):
            for key, fam in fams.items():
                fam.add_metric([out["name"]], float(out.get(key) or 0))
        yield from fams.values()
        yield CounterMetricFamily("vigil_outbox_dropped", "undelivered events dropped by the outbox bounds",
                                  value=snap.get("dropped", 0))


class HealthCollector:
    def __init__(self, snapshot: Callable[[], dict]):
        self.snapshot = snapshot

    def collect(self):
        snap = self.snapshot()
        cams = snap.get("cameras", [])
        state = GaugeMetricFamily("vigil_camera_state", "1 for the camera's current state", labels=["camera", "state"])
        up = GaugeMetricFamily("vigil_camera_up", "1 while the camera is streaming", labels=["camera"])
        for cam in cams:
            for s in STATES:
                state.add_metric([cam["camera"], s], 1.0 if cam["state"] == s else 0.0)
            up.add_metric([cam["camera"]], 1.0 if cam["state"] == "streaming" else 0.0)
        yield state
        yield up
        for name, key, help_, is_counter in _PER_CAMERA:
            fam = (CounterMetricFamily if is_counter else GaugeMetricFamily)(name, help_, labels=["camera"])
            for cam in cams:
                if cam.get(key) is not None:
                    fam.add_metric([cam["camera"]], float(cam[key]))
            yield fam
        inf = snap.get("inference", {})
        yield CounterMetricFamily("vigil_inference_batches", "detector calls", value=inf.get("batches", 0))
        yield CounterMetricFamily("vigil_inference_frames", "frames through the detector", value=inf.get("frames", 0))
        yield GaugeMetricFamily("vigil_inference_batch_milliseconds", "detector time of the last batch",
                                value=inf.get("last_batch_ms", 0.0))


def serve_metrics(snapshot: Callable[[], dict], port: int, address: str = "127.0.0.1", *,
                  tally: EventTally | None = None, outputs: Callable[[], dict] | None = None):
    """Start the HTTP endpoint in a daemon thread; returns the server (call .shutdown() to stop)."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(HealthCollector(snapshot))
    if tally is not None:
        registry.register(tally)
    if outputs is not None:
        registry.register(OutputsCollector(outputs))
    try:
        result = start_http_server(port, addr=address, registry=registry)
    except OSError as exc:
        raise ConfigError(f"cannot serve metrics on {address}:{port} ({exc.strerror or exc}); "
                          "choose a free live.metrics_port or pass --metrics-port") from None
    return result[0] if isinstance(result, tuple) else result
