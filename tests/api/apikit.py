"""Helpers for API tests: a store with events, a loopback-Host client, a free port."""

from __future__ import annotations

import socket
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient

from tests.store.storekit import T0, random_events
from vigil.store import Store


@pytest.fixture
def filled_store(tmp_path):
    s = Store(f"sqlite:///{tmp_path / 'api.db'}")
    run = s.begin_run("gate-1", "x.mp4", "h")
    evs = random_events(300, T0, timedelta(days=1), seed=21)
    s.write(run, evs)
    yield s, evs
    s.close()


def local_client(app) -> TestClient:
    """Requests with a loopback Host header, the only kind the app answers by default."""
    return TestClient(app, base_url="http://localhost")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]
