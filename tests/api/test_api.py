"""HTTP API: the same rows as the CLI, bearer token, errors as 400, OpenAPI docs; and one
real `vigil serve` process on loopback."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from datetime import datetime

import httpx

from tests.api.apikit import free_port, local_client
from tests.store.storekit import reference_counts
from vigil.api.app import create_app
from vigil.bench.serving import wait_healthy
from vigil.cli import main

TOKEN = "t0ken-for-tests"


def test_counts_without_token_configured_match_the_cli(filled_store, capsys):
    s, evs = filled_store
    client = local_client(create_app(s))
    r = client.get("/api/counts", params={"by": "hour", "tz": "Europe/Berlin", "class": "car"})
    assert r.status_code == 200
    main(["counts", "--db", str(s.engine.url), "--by", "hour", "--tz", "Europe/Berlin", "--class", "car",
          "--format", "json"])
    assert r.json() == json.loads(capsys.readouterr().out)
    assert sum(x["count"] for x in r.json()) == sum(reference_counts(evs, class_name="car").values())


def test_token_is_required_when_configured(filled_store):
    s, _ = filled_store
    client = local_client(create_app(s, token=TOKEN))
    for path in ("/api/counts", "/api/events", "/api/cameras"):
        assert client.get(path).status_code == 401
        assert client.get(path, headers={"Authorization": "Bearer wrong"}).status_code == 401
        assert client.get(path, headers={"Authorization": f"Bearer {TOKEN}"}).status_code == 200
    assert client.get("/api/counts").headers["www-authenticate"] == "Bearer"
    assert client.get("/openapi.json").status_code == 200  # docs describe the API, they hold no data


def test_events_and_cameras(filled_store):
    s, evs = filled_store
    client = local_client(create_app(s))
    rows = client.get("/api/events", params={"zone": "Z", "limit": 4}).json()
    want = sorted((e for e in evs if e.kind == "zone"), key=lambda e: e.time)[:4]
    assert [datetime.fromisoformat(r["time"]) for r in rows] == [e.time for e in want]
    assert all(("dwell_s" in r) == (r["direction"] == "out") for r in rows)
    cams = client.get("/api/cameras").json()
    assert [(c["id"], c["runs"], c["zones"], c["lines"]) for c in cams] == [
        ("gate-1", 1, ["Z"], ["L1", "lane 2"]), ("gate-2", 0, ["Z"], ["L1", "lane 2"])]


def test_bad_input_is_400_with_the_message(filled_store):
    s, _ = filled_store
    client = local_client(create_app(s))
    r = client.get("/api/counts", params={"since": "31/12/2026"})
    assert r.status_code == 400 and "not an ISO 8601" in r.json()["detail"]
    assert client.get("/api/counts", params={"tz": "Nowhere/City"}).status_code == 400
    assert client.get("/api/counts", params={"by": "year"}).status_code == 422  # rejected by the schema
    assert client.get("/api/counts", params={"line": "L1", "zone": "Z"}).status_code == 400


def test_openapi_lists_the_routes(filled_store):
    s, _ = filled_store
    spec = local_client(create_app(s)).get("/openapi.json").json()
    assert {"/api/counts", "/api/events", "/api/cameras"} <= set(spec["paths"])
    params = {p["name"] for p in spec["paths"]["/api/counts"]["get"]["parameters"]}
    assert {"camera", "line", "zone", "class", "direction", "since", "until", "by", "tz"} <= params


def test_vigil_serve_really_serves(filled_store):
    s, evs = filled_store
    port = free_port()
    env = {**os.environ, "VIGIL_API_TOKEN": TOKEN}
    proc = subprocess.Popen([sys.executable, "-m", "vigil", "serve", "--db", str(s.engine.url), "--port",
                             str(port)], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_healthy(base, proc)
        assert httpx.get(f"{base}/api/counts").status_code == 401
        r = httpx.get(f"{base}/api/counts", headers={"Authorization": f"Bearer {TOKEN}"})
        assert r.status_code == 200
        assert sum(x["count"] for x in r.json()) == len(evs)
        assert httpx.get(f"{base}/docs").status_code == 200
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
