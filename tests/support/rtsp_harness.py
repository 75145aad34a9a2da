"""Start and stop the loopback RTSP server (tests/support/rtsp_server.py) from tests and benches.

The server runs under Debian's /usr/bin/python3 (python3-gi + gst-rtsp-server), never the venv.
Clips are re-encoded once with PyAV (libx264, short GOP so a reconnecting client decodes within a
fraction of a second) to the frame rate a test wants, and cached under the temp directory.
"""

from __future__ import annotations

import hashlib
import os
import socket
import subprocess
import tempfile
import time
from fractions import Fraction
from pathlib import Path

import av

SERVER_SCRIPT = Path(__file__).with_name("rtsp_server.py")
SYSTEM_PYTHON = os.environ.get("VIGIL_GST_PYTHON", "/usr/bin/python3")


def gst_unavailable_reason() -> str | None:
    """Why the GStreamer RTSP server cannot run here, or None when it can."""
    if not Path(SYSTEM_PYTHON).exists():
        return f"{SYSTEM_PYTHON} not found (install Debian's python3-gi)"
    probe = ("import gi; gi.require_version('Gst','1.0'); gi.require_version('GstRtspServer','1.0'); "
             "from gi.repository import Gst, GstRtspServer; Gst.init(None); "
             "missing=[e for e in ('qtdemux','h264parse','rtph264pay') if not Gst.ElementFactory.find(e)]; "
             "print(','.join(missing))")
    try:
        out = subprocess.run([SYSTEM_PYTHON, "-c", probe], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"cannot run {SYSTEM_PYTHON}: {exc}"
    if out.returncode != 0:
        last = (out.stderr.strip().splitlines() or ["?"])[-1]
        return ("GStreamer RTSP server not importable with system python3 "
                f"(apt install python3-gi gir1.2-gst-rtsp-server-1.0): {last}")
    if out.stdout.strip():
        return (f"GStreamer elements missing: {out.stdout.strip()} "
                "(apt install gstreamer1.0-plugins-base gstreamer1.0-plugins-good gstreamer1.0-plugins-bad)")
    return None


def prepare_clip(src: Path, fps: float | None = None, seconds: float | None = None, loops: int = 1,
                 slowdown: float = 1.0, cache_dir: Path | None = None) -> Path:
    """An H.264 MP4 of `src` at `fps` (every k-th frame kept, k = round(src_fps / fps)), repeated
    `loops` times, at most `seconds` long per loop, its timestamps stretched by `slowdown` (2.0 plays
    at half speed). Cached by parameters; the frames kept are the ones a replay at the same stride sees."""
    cache_dir = Path(cache_dir or Path(tempfile.gettempdir()) / "vigil-rtsp-clips")
    cache_dir.mkdir(parents=True, exist_ok=True)
    ident = f"{src.resolve()}|{src.stat().st_mtime}|{fps}|{seconds}|{loops}|{slowdown}|v3"
    key = hashlib.sha1(ident.encode()).hexdigest()[:12]
    out = cache_dir / f"{src.stem}-{key}.mp4"
    if out.exists():
        return out
    with av.open(str(src)) as inp:
        vs = inp.streams.video[0]
        src_rate = Fraction(vs.average_rate or 25)
        step = max(1, round(float(src_rate) / fps)) if fps else 1
        out_rate = src_rate / step / Fraction(slowdown).limit_denominator(1000)
        frames = []
        for i, frame in enumerate(inp.decode(vs)):
            if seconds is not None and i >= seconds * float(src_rate):
                break
            if i % step == 0:
                frames.append(frame.to_ndarray(format="yuv420p"))
        w, h = vs.codec_context.width, vs.codec_context.height
    tmp = out.with_suffix(".part.mp4")
    with av.open(str(tmp), "w") as dst:
        st = dst.add_stream("libx264", rate=out_rate.limit_denominator(1001))
        st.width, st.height, st.pix_fmt = w, h, "yuv420p"
        gop = max(1, round(float(out_rate)))  # one keyframe a second
        st.options = {"preset": "veryfast", "g": str(gop), "bf": "0", "crf": "23", "threads": "1"}
        n = 0
        for _ in range(loops):
            for arr in frames:
                vf = av.VideoFrame.from_ndarray(arr, format="yuv420p")
                vf.pts = n
                vf.time_base = 1 / out_rate
                for pkt in st.encode(vf):
                    dst.mux(pkt)
                n += 1
        for pkt in st.encode():
            dst.mux(pkt)
    tmp.rename(out)
    return out


def wait_for(cond, timeout: float, step: float = 0.05) -> bool:
    """Poll `cond()` until it is true or `timeout` seconds pass; returns its last value."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if cond():
            return True
        time.sleep(step)
    return bool(cond())


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class RtspServer:
    """One server subprocess. `start()` waits for READY; `kill()` simulates a camera dying;
    `start()` again brings it back on the same port."""

    def __init__(self, mounts: dict[str, Path], port: int | None = None,
                 user: str | None = None, password: str | None = None, shared: bool = False):
        self.mounts, self.shared = mounts, shared
        self.port = port or free_port()
        self.user, self.password = user, password
        self.proc: subprocess.Popen | None = None

    def url(self, mount: str, user: str | None = None, password: str | None = None) -> str:
        cred = f"{user}:{password}@" if user else ""
        return f"rtsp://{cred}127.0.0.1:{self.port}/{mount}"

    def start(self, timeout: float = 20.0) -> "RtspServer":
        cmd = [SYSTEM_PYTHON, str(SERVER_SCRIPT), "--port", str(self.port)]
        for name, path in self.mounts.items():
            cmd += ["--mount", f"{name}={path}"]
        if self.shared:
            cmd.append("--shared")
        if self.user:
            cmd += ["--user", self.user, "--password", self.password or ""]
        deadline = time.monotonic() + timeout
        while True:  # the port may linger a moment after a kill
            self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            line = self.proc.stdout.readline()
            if line.startswith("READY"):
                return self
            err = self.proc.stderr.read() if self.proc.poll() is not None else ""
            self.stop()
            if time.monotonic() > deadline:
                raise RuntimeError(f"RTSP server did not start: {line!r} {err[-500:]}")
            time.sleep(0.3)

    def kill(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)
        self.proc = None

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self.proc = None

    def __enter__(self) -> "RtspServer":
        return self.start() if self.proc is None else self

    def __exit__(self, *exc) -> None:
        self.stop()
