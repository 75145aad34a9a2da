"""The API fails closed: an empty token, an open non-loopback address, a foreign Host header
(DNS rebinding) and a mistyped database are refused; /docs needs nothing from the internet."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys

import httpx
import pytest
from fastapi.testclient import TestClient

from tests.api.apikit import free_port, local_client
from vigil.api.app import create_app
from vigil.bench.serving import wait_healthy
from vigil.cli import main
from vigil.errors import VigilError


def _one_line_error(capsys, *needles: str) -> str:
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "Traceback" not in err, err
    assert all(n in err for n in needles), err
    return err


@pytest.mark.parametrize("env, argv", [({"VIGIL_API_TOKEN": ""}, []), ({"VIGIL_API_TOKEN": "  "}, []),
                                       ({}, ["--token", ""])])
def test_empty_token_is_an_error_not_no_auth(filled_store, capsys, monkeypatch, env, argv):
    s, _ = filled_store
    monkeypatch.delenv("VIGIL_API_TOKEN", raising=False)
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    assert main(["serve", "--db", str(s.engine.url), *argv]) == 2
    _one_line_error(capsys, "token is empty", "--insecure-no-auth")
    with pytest.raises(VigilError, match="empty"):
        create_app(s, token="")


def test_open_non_loopback_address_is_refused(filled_store, capsys, monkeypatch):
    s, _ = filled_store
    monkeypatch.delenv("VIGIL_API_TOKEN", raising=False)
    for host in ("0.0.0.0", "::", "192.168.1.20", "gate.example"):
        assert main(["serve", "--db", str(s.engine.url), "--host", host]) == 2
        _one_line_error(capsys, f"--host {host}", "VIGIL_API_TOKEN", "--insecure-no-auth")


def test_missing_database_is_one_line_and_not_created(tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("VIGIL_API_TOKEN", raising=False)
    typo = tmp_path / "typo.db"
    assert main(["serve", "--db", str(typo)]) == 2
    _one_line_error(capsys, "does not exist", "typo.db")
    assert not typo.exists()


def test_host_header_allow_list(filled_store):
    s, _ = filled_store
    app = create_app(s)
    for host in ("localhost", "127.0.0.1", "[::1]", "localhost:8000", "127.0.0.1:8000"):
        assert TestClient(app).get("/api/cameras", headers={"Host": host}).status_code == 200, host
    for host in ("attacker.example", "attacker.example:8000", "localhost.attacker.example", "testserver"):
        assert TestClient(app).get("/api/cameras", headers={"Host": host}).status_code == 400, host
    assert TestClient(app).get("/healthz", headers={"Host": "10.1.2.3:8000"}).status_code == 200  # probes
    assert TestClient(create_app(s, allowed_hosts=["gate.example"])).get(
        "/api/cameras", headers={"Host": "gate.example"}).status_code == 200
    assert TestClient(create_app(s, allowed_hosts=["*"])).get(
        "/api/cameras", headers={"Host": "anything"}).status_code == 200


def _referenced(html: str) -> list[str]:
    attributes = re.findall(r"""(?:src|href|spec-url)\s*=\s*["']([^"']+)["']""", html)
    return attributes + re.findall(r"""url:\s*['"]([^'"]+)""", html)


@pytest.mark.parametrize("page", ["/docs", "/redoc"])
def test_docs_load_everything_from_this_server(filled_store, page):
    s, _ = filled_store
    client = local_client(create_app(s))
    r = client.get(page)
    assert r.status_code == 200
    assert not re.search(r"https?://|//cdn|fonts\.googleapis", r.text), r.text
    refs = _referenced(r.text)
    assert any(x.endswith(".js") for x in refs) and "/openapi.json" in refs, refs
    for ref in refs:
        assert ref.startswith("/"), ref
        assert client.get(ref).status_code == 200, ref


def test_serve_open_on_all_interfaces_only_when_asked_and_loudly(filled_store):
    s, evs = filled_store
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k != "VIGIL_API_TOKEN"}
    proc = subprocess.Popen([sys.executable, "-m", "vigil", "serve", "--db", str(s.engine.url), "--host", "0.0.0.0",
                             "--port", str(port), "--insecure-no-auth", "--allowed-host", "gate.example"],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_healthy(base, proc)
        assert sum(x["count"] for x in httpx.get(f"{base}/api/counts").json()) == len(evs)
        assert httpx.get(f"{base}/api/counts", headers={"Host": "gate.example"}).status_code == 200
        assert httpx.get(f"{base}/api/counts", headers={"Host": "rebound.example"}).status_code == 400
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            out, _ = proc.communicate(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            out, _ = proc.communicate()
    assert "WARNING" in out and "WITHOUT AUTH" in out, out
