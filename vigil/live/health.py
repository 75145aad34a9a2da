"""Per-camera health of the live daemon, and the status file `vigil status` reads.

The daemon writes the file atomically (temp file + rename) every `status_interval` seconds, so a
reader never sees half a file; `vigil status` calls it stale when it stops being updated.
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable

from vigil.sources.rtsp import RateMeter

log = logging.getLogger("vigil.live")


@dataclass
class ProcessingStats:
    """What the inference loop knows about one camera."""

    processed: int = 0
    events: int = 0
    errors: int = 0
    inference_ms: float = 0.0  # detector time of the last batch this camera was in
    latency_ms: float | None = None  # frame time -> its events handed to the writer (last frame; streams only)
    rate: RateMeter = field(default_factory=RateMeter)


def camera_health(camera_id: str, source: str, reader_stats, slot, proc: ProcessingStats,
                  now_mono: float | None = None) -> dict:
    """One camera's health as plain JSON-able values."""
    now_mono = time.monotonic() if now_mono is None else now_mono
    last = reader_stats.last_frame_monotonic
    return {
        "camera": camera_id,
        "source": source,  # already masked by the caller
        "state": reader_stats.state,
        "decode_fps": round(reader_stats.decode_fps(now_mono), 2),
        "processed_fps": round(proc.rate.rate(now_mono), 2),
        "frames_decoded": reader_stats.frames,
        "frames_processed": proc.processed,
        "dropped_frames": slot.dropped + reader_stats.skipped,
        "reconnects": reader_stats.reconnects,
        "decoder": getattr(reader_stats, "decoder", None),  # file cameras have none
        "decode_fallbacks": getattr(reader_stats, "decode_fallbacks", 0),
        "decode_fallback_reason": getattr(reader_stats, "decode_fallback_reason", None),
        "last_frame_age_s": None if last is None else round(now_mono - last, 3),
        "inference_ms": round(proc.inference_ms, 1),
        "latency_ms": None if proc.latency_ms is None else round(proc.latency_ms, 1),
        "events": proc.events,
        "errors": proc.errors,
        "last_error": reader_stats.last_error,
        "next_retry_in_s": None if reader_stats.next_retry_in is None else round(reader_stats.next_retry_in, 2),
        "resolution": (f"{reader_stats.stream_width}x{reader_stats.stream_height}"
                       if reader_stats.stream_width else None),
    }


def default_status_path(site: str) -> Path:
    """$RUNTIME_DIRECTORY (systemd RuntimeDirectory=), else $XDG_RUNTIME_DIR, else the temp dir."""
    base = os.environ.get("RUNTIME_DIRECTORY", "").split(":")[0] or os.environ.get("XDG_RUNTIME_DIR") \
        or tempfile.gettempdir()
    safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in site) or "site"
    return Path(base) / f"vigil-{safe}.status.json"


def write_atomic(path: Path, data: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(data, f, indent=1, default=str)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


class StatusFileWriter(threading.Thread):
    """Writes `snapshot()` to `path` every `interval` seconds until stopped, and once more at stop."""

    def __init__(self, path: Path, snapshot: Callable[[], dict], interval: float = 1.0):
        super().__init__(name="status-file", daemon=True)
        self.path, self.snapshot, self.interval = Path(path), snapshot, interval
        self._stop_event = threading.Event()

    def write_now(self) -> None:
        try:
            write_atomic(self.path, self.snapshot())
        except OSError as exc:
            log.warning("cannot write status file %s: %s", self.path, exc, extra={"event": "status_file_error"})

    def run(self) -> None:
        while not self._stop_event.wait(self.interval):
            self.write_now()

    def stop(self) -> None:
        self._stop_event.set()
        self.write_now()


def utc_now_iso() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds")
