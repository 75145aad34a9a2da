"""Wait for a `vigil serve` (or any Vigil HTTP server) started as a subprocess to answer /healthz."""

from __future__ import annotations

import subprocess
import time

import httpx


def wait_healthy(base: str, proc: subprocess.Popen, timeout: float = 60.0) -> None:
    """Return once `base`/healthz answers 200; raise RuntimeError (with the process's output when
    it was piped) if the process exits first or `timeout` seconds pass."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        if proc.poll() is not None:
            out = proc.stdout.read() if proc.stdout else ""
            raise RuntimeError(f"server exited with status {proc.returncode} before answering: {out}")
        if time.monotonic() > deadline:
            raise RuntimeError(f"server did not answer {base}/healthz within {timeout:.0f} s")
        time.sleep(0.2)
