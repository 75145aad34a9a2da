"""The dashboard/API server beside the live daemon: uvicorn in a thread of `vigil run`, so the
pages read the daemon's frames and health from memory (no second process, no frame copies)."""

from __future__ import annotations

import socket
import threading
import time

from vigil.errors import VigilError


def parse_address(text: str) -> tuple[str, int]:
    """HOST:PORT ('127.0.0.1:8080', '[::1]:8080', ':8080' = loopback), one clear line otherwise."""
    host, sep, port = text.rpartition(":")
    if not sep or not port.isdigit() or not 0 < int(port) < 65536:
        raise VigilError(f"--http {text!r}: give HOST:PORT, e.g. 127.0.0.1:8080 or [::1]:8080")
    return (host.strip("[]") or "127.0.0.1"), int(port)


def check_bindable(host: str, port: int, option: str = "--http") -> None:
    """Fail before models load when the port is taken or the address is not ours."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError as exc:
            raise VigilError(f"{option} {host}:{port}: cannot listen there ({exc.strerror}); "
                             "pick a free port or an address of this machine") from None


class HttpThread:
    """uvicorn serving `app` on host:port in a daemon thread; start() waits until it listens."""

    def __init__(self, app, host: str, port: int):
        import uvicorn

        self.server = uvicorn.Server(uvicorn.Config(app, host=host, port=port, log_level="warning",
                                                    access_log=False))
        self.thread = threading.Thread(target=self.server.run, name="vigil-http", daemon=True)
        self.host, self.port = host, port

    def start(self, timeout: float = 15.0) -> HttpThread:
        self.thread.start()
        end = time.monotonic() + timeout
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > end:
                raise VigilError(f"--http {self.host}:{self.port}: the web server did not start; see the log above")
            time.sleep(0.05)
        return self

    def stop(self, timeout: float = 5.0) -> None:
        self.server.should_exit = True
        self.thread.join(timeout)
