"""Dashboard pages over a real SQLite store without a browser (`vigil serve`'s mode): what each
page shows, the token sign-in, the editor's validation and config writing, a frame decoded from
a camera's file source. The browser tests (test_dashboard_browser.py) drive the live daemon."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
import yaml

from tests.api.apikit import local_client
from tests.store.storekit import T0, random_events
from tests.support.data import VIDEO, cut_video, need
from vigil.api.app import create_app
from vigil.config.load import read_yaml_model
from vigil.config.site import SiteConfig
from vigil.store import Store
from vigil.web.frames import FrameSource

SITE = """site: webtest
database: sqlite:///{db}
cameras:
  - id: gate-1
    source: clip.mp4
    lines: [{{name: L1, points: [[10, 20], [300, 20]], in_side: left, anchor: center}}]
  - id: gate-2
    source: rtsp://127.0.0.1:9/none
"""


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("web")
    cut_video(need(VIDEO / "saoyan_test.mp4"), tmp / "clip.mp4", 3)
    path = tmp / "site.yaml"
    path.write_text(SITE.format(db=tmp / "v.db"))
    store = Store(f"sqlite:///{tmp / 'v.db'}")
    run = store.begin_run("gate-1", "clip.mp4", "h")
    store.write(run, random_events(300, T0, timedelta(days=2), seed=5, cameras=("gate-1",)))
    yield path, store
    store.close()


def client(site, **kw):
    path, store = site
    frames = FrameSource(site=read_yaml_model(path, SiteConfig), site_dir=path.parent)
    return local_client(create_app(store, frames=frames, site_path=path, **kw))


def test_pages_render_from_the_store(site):
    c = client(site)
    assert c.get("/", follow_redirects=False).headers["location"] == "/cameras"
    cams = c.get("/cameras")
    assert cams.status_code == 200 and "gate-1" in cams.text and "vigil run SITE --http" in cams.text
    ev = c.get("/events", params={"camera": "gate-1", "direction": "in"})
    ids = re.findall(r'<tr data-id="(\d+)">', ev.text)
    assert len(ids) == 50 and 'id="next"' in ev.text
    assert "<th>snapshot</th>" in ev.text and "/api/events/" not in ev.text  # no snapshots in this store
    nxt = re.search(r'id="next" href="([^"]+)"', ev.text)[1].replace("&amp;", "&")
    ids2 = re.findall(r'<tr data-id="(\d+)">', c.get(nxt).text)
    assert ids2 and not set(ids) & set(ids2)
    counts = c.get("/counts", params={"since": "2026-03-28", "until": "2026-03-31", "by": "day",
                                      "tz": "Europe/Berlin"})
    assert counts.status_code == 200 and counts.text.count("<polyline") == 6  # 3 names (L1, lane 2, Z) x 2 directions
    assert "format=csv" in counts.text


def test_bad_filters_say_what_is_wrong(site):
    c = client(site)
    r = c.get("/counts", params={"tz": "Mars/Base"})
    assert r.status_code == 400 and "Mars/Base" in r.text
    r = c.get("/events", params={"after": "garbage"})
    assert r.status_code == 400 and "cursor" in r.text


def test_token_sign_in(site):
    c = client(site, token="s3cret")
    r = c.get("/counts", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].startswith("/login")
    assert c.get("/api/cameras").status_code == 401
    assert c.post("/login", json={"token": "wrong"}).status_code == 401
    assert c.post("/login", json={"token": "s3cret"}).status_code == 200
    assert c.get("/counts").status_code == 200 and c.get("/api/cameras").status_code == 200


def test_frame_of_a_file_source_and_unknown_cameras(site):
    c = client(site)
    r = c.get("/api/cameras/gate-1/frame.jpg")
    assert r.status_code == 200 and r.content[:2] == b"\xff\xd8"
    assert c.get("/api/cameras/gate-2/frame.jpg").status_code == 404  # RTSP without a daemon: no frame
    assert c.get("/api/cameras/nope/frame.jpg").status_code == 404
    page = c.get("/editor", params={"camera": "gate-1"}).text
    assert '"name": "L1"' in page and 'id="save"' not in page
    assert '"anchor": "center"' in page  # settings the editor does not draw go back as they were


def test_a_mistyped_class_on_a_page_says_so_and_a_group_expands(site):
    c = client(site)
    for url in ("/counts", "/events"):
        r = c.get(url, params={"class": "carr"})
        assert r.status_code == 400 and "unknown class &#39;carr&#39;; known classes: " in r.text, url
    assert c.get("/events", params={"class": "Vehicle"}).status_code == 200


def test_editor_yaml_is_validated_by_the_config_models(site):
    c = client(site)
    ok = c.post("/api/editor/yaml", json={"camera": "gate-1", "lines": [
        {"name": "A", "points": [[1, 2], [300, 2]], "in_side": "left"}],
        "zones": [{"name": "Z", "polygon": [[0, 0], [50, 0], [50, 40]]}]})
    assert ok.status_code == 200
    data = yaml.safe_load(ok.json()["yaml"])
    assert data["lines"] == [{"name": "A", "points": [[1, 2], [300, 2]], "in_side": "left"}]
    assert data["zones"][0]["polygon"] == [[0, 0], [50, 0], [50, 40]]
    for bad, says in [({"lines": [{"name": "A", "points": [[1, 2], [1, 2]]}]}, "same"),
                      ({"zones": [{"name": "Z", "polygon": [[0, 0], [1, 1]]}]}, "at least 3"),
                      ({"lines": [{"name": "A", "points": [[1, 2], [3, 4]]}],
                        "zones": [{"name": "A", "polygon": [[0, 0], [5, 0], [5, 5]]}]}, "used twice"),
                      ({}, "nothing drawn")]:
        r = c.post("/api/editor/yaml", json={"camera": "gate-1", **bad})
        assert r.status_code == 400 and says in r.json()["detail"], r.json()


def test_a_line_given_by_in_direction_shows_and_round_trips(site, tmp_path):
    """Regression: a site whose line says `in_direction: up` made /cameras and /editor answer 500
    (the derived in_side was taken for a given one), and the editor's YAML gave both keys."""
    path, store = site
    copy = tmp_path / "site.yaml"
    copy.write_text(path.read_text().replace("in_side: left, anchor: center", "in_direction: up"))
    (tmp_path / "clip.mp4").symlink_to(path.parent / "clip.mp4")
    c = client((copy, store))
    assert c.get("/cameras").status_code == 200
    page = c.get("/editor")
    assert page.status_code == 200 and '"in_direction": "up"' in page.text and '"in_side": "left"' in page.text
    shown = {"name": "L1", "points": [[10, 20], [300, 20]], "in_side": "left", "in_direction": "up"}
    r = c.post("/api/editor/yaml", json={"camera": "gate-1", "lines": [shown]})
    assert r.status_code == 200, r.text
    assert yaml.safe_load(r.json()["yaml"])["lines"] == [{k: v for k, v in shown.items() if k != "in_side"}]
    r = c.post("/api/editor/yaml", json={"camera": "gate-1", "lines": [{**shown, "in_side": "right"}]})
    assert r.status_code == 400 and "they disagree" in r.json()["detail"], r.json()
    # Saved to the site file as written: in_direction only (both would break a later hand edit).
    r = client((copy, store), allow_config_write=True).post("/api/editor/save", json={"camera": "gate-1",
                                                                                     "lines": [shown]})
    assert r.status_code == 200, r.text
    saved = yaml.safe_load(copy.read_text())["cameras"][0]["lines"]
    assert saved == [{"name": "L1", "points": [[10, 20], [300, 20]], "in_direction": "up"}], saved


def test_config_write_only_when_allowed(site, tmp_path):
    path, store = site
    drawing = {"camera": "gate-1", "lines": [{"name": "new", "points": [[5, 5], [100, 5]]}]}
    assert client(site).post("/api/editor/save", json=drawing).status_code == 403
    copy = tmp_path / "site.yaml"
    copy.write_text(path.read_text())
    (tmp_path / "clip.mp4").symlink_to(path.parent / "clip.mp4")
    c = client((copy, store), allow_config_write=True)
    assert 'id="save"' in c.get("/editor").text
    r = c.post("/api/editor/save", json=drawing)
    assert r.status_code == 200, r.text
    cfg = read_yaml_model(copy, SiteConfig)
    assert [ln.name for ln in cfg.camera("gate-1").lines] == ["new"]
    assert (tmp_path / "site.yaml.bak").read_text() == path.read_text()
    # A filter class the site's pipeline does not report is refused, and the file is left as it was.
    before = copy.read_text()
    r = c.post("/api/editor/save", json={"camera": "gate-1", "lines": [
        {"name": "new", "points": [[5, 5], [100, 5]], "classes": ["forklift"]}]})
    detail = r.json()["detail"]
    assert r.status_code == 400 and "unknown class 'forklift'" in detail, r.text
    assert detail.startswith(str(copy.resolve())) and ".yaml." not in detail, detail  # the site, not a temp copy
    assert copy.read_text() == before


def test_readyz_and_cameras_without_a_daemon(site):
    c = client(site)
    assert c.get("/readyz").json() == {"ready": True}
    rows = c.get("/api/cameras").json()
    assert [r["id"] for r in rows] == ["gate-1"] and rows[0]["health"] is None


class _Cam:
    """A LiveCamera's attributes the web view reads (edge cases; the real daemon is driven by
    test_dashboard_browser.py)."""

    def __init__(self, cfg):
        self.camera_id, self.pipeline, self.latest = cfg.id, type("P", (), {"camera": cfg})(), None


class _Daemon:
    def __init__(self, cams):
        self.cameras, self.state = cams, "starting"

    def snapshot(self):
        return {"cameras": [{"camera": c.camera_id, "state": "streaming"} for c in self.cameras]}


def test_live_frame_tracks_and_readiness_from_a_daemon(site):
    from datetime import UTC, datetime

    import numpy as np

    from vigil.types import Detections, Frame

    path, store = site
    cfg = read_yaml_model(path, SiteConfig)
    daemon = _Daemon([_Cam(cfg.camera("gate-2"))])
    c = local_client(create_app(store, frames=FrameSource(daemon, cfg, path.parent)))
    assert c.get("/readyz").status_code == 503  # cameras not started yet
    assert c.get("/api/cameras/gate-2/frame.jpg").status_code == 404  # nothing analysed yet
    daemon.state = "running"
    assert c.get("/readyz").status_code == 200
    img = np.zeros((36, 64, 3), np.uint8)
    dets = Detections(xyxy=[[1, 2, 10, 20]], class_id=[2], tracker_id=[-1])
    tracks = Detections(xyxy=[[1, 2, 10, 20]], class_id=[2], tracker_id=[7])
    daemon.cameras[0].latest = (Frame(img, 3, 0.1, datetime.now(UTC), "gate-2"), dets, tracks)
    first = c.get("/api/cameras/gate-2/frame.jpg").content
    daemon.cameras[0].latest = (Frame(img + 200, 4, 0.2, datetime.now(UTC), "gate-2"), dets, tracks)
    second = c.get("/api/cameras/gate-2/frame.jpg").content
    assert first[:2] == second[:2] == b"\xff\xd8" and first != second
    t = c.get("/api/cameras/gate-2/tracks").json()
    assert (t["width"], t["height"], t["frame"]) == (64, 36, 4)
    assert t["tracks"] == [{"id": 7, "class": "car", "confidence": 1.0, "xyxy": [1, 2, 10, 20]}]
    assert len(t["detections"]) == 1 and t["lines"] == [] and t["zones"] == []
    rows = {r["id"]: r for r in c.get("/api/cameras").json()}
    assert rows["gate-2"]["health"] == {"camera": "gate-2", "state": "streaming"} and rows["gate-1"]["health"] is None


def test_login_goes_back_only_to_this_server(site):
    c = client(site, token="s3cret")
    for bad in ("//evil.example/x", "/\\evil.example", "https://evil.example"):
        assert 'data-next="/"' in c.get("/login", params={"next": bad}).text
    assert 'data-next="/events"' in c.get("/login", params={"next": "/events"}).text


@pytest.mark.parametrize("address, says", [
    ("nonsense", "give HOST:PORT"),
    ("127.0.0.1:99999", "give HOST:PORT"),
    ("0.0.0.0:{free}", "no token is set"),
    ("127.0.0.1:{taken}", "cannot listen there"),
])
def test_run_http_bad_address_is_one_line_before_anything_loads(address, says, capsys, tmp_path, monkeypatch):
    import socket

    from tests.support.rtsp_harness import free_port
    from vigil.cli import main

    monkeypatch.delenv("VIGIL_API_TOKEN", raising=False)
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        addr = address.format(free=free_port(), taken=taken.getsockname()[1])
        # the site file does not even exist: the address is checked first
        assert main(["run", str(tmp_path / "missing.yaml"), "--http", addr]) == 2
    err = capsys.readouterr().err.strip()
    assert says in err and len(err.splitlines()) == 1, err


def test_only_events_that_kept_a_crop_show_one(tmp_path):
    from dataclasses import replace

    store = Store(f"sqlite:///{tmp_path / 's.db'}")
    run = store.begin_run("gate-1", "clip.mp4", "h")
    evs = random_events(4, T0, timedelta(hours=1), seed=1, cameras=("gate-1",))
    jpeg = b"\xff\xd8\xff\xe0fake-but-stored\xff\xd9"
    store.write(run, [replace(evs[0], snapshot=jpeg)] + evs[1:])
    c = local_client(create_app(store))
    page = c.get("/events")
    shown = re.findall(r'src="/api/events/(\d+)/snapshot"', page.text)
    kept = [e["id"] for e in store.events(limit=None) if store.snapshot(e["id"]) is not None]
    assert len(kept) == 1 and shown == [str(kept[0])], (shown, kept)
    assert c.get(f"/api/events/{kept[0]}/snapshot").content == jpeg
    store.close()
