"""The dashboard in a real Chromium (Debian's, driven by Playwright, headless) against a real
`vigil run --http` fed by a loopback RTSP stream: the live frame changes, the overlay shows the
camera's line and tracks, the counts chart holds the numbers `vigil counts --format json` gives,
events page, and a line drawn in the editor gives YAML that `vigil replay` accepts and that counts
what the hand-written line counts on the same clip.

One daemon and one browser for the module. Set VIGIL_DOCS_SCREENSHOTS=1 to (re)write the
screenshots under docs/."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
from collections import Counter, defaultdict
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
import yaml

from tests.store.storekit import T0, random_events
from tests.support.data import VIDEO, YOLO_ONNX, need
from tests.support.rtsp_harness import RtspServer, free_port, gst_unavailable_reason, prepare_clip, wait_for
from vigil.store import Store

pytestmark = [pytest.mark.rtsp, pytest.mark.slow]
REPO = Path(__file__).resolve().parents[2]
CHROMIUM = Path("/usr/bin/chromium")
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--no-first-run"]
LINE = {"name": "southbound", "points": [[120, 200], [630, 200]], "in_side": "right"}
SHOTS = os.environ.get("VIGIL_DOCS_SCREENSHOTS") == "1"


def shot(page, name: str) -> None:
    if SHOTS:
        page.screenshot(path=str(REPO / "docs" / f"{name}.png"))


@pytest.fixture(scope="module")
def daemon(tmp_path_factory):
    """`vigil run SITE --http` on a loopback RTSP stream of 15 fps content served 7.5x slowed
    (2 frames a second, which the detector about keeps up with on a small CPU, and consecutive
    enough for the tracker), its database also holding 400 seeded events around a DST change."""
    reason = gst_unavailable_reason()
    if reason:
        pytest.skip(f"RTSP server unavailable: {reason}")
    tmp = tmp_path_factory.mktemp("dash")
    clip = prepare_clip(need(VIDEO / "saoyan_test.mp4"), fps=15, seconds=8, loops=2, slowdown=7.5)
    srv = RtspServer({"cam": clip}).start()
    db = tmp / "v.db"
    (tmp / "pipeline.yaml").write_text(f"detector: {{weights: {need(YOLO_ONNX)}, imgsz: 640, batch: 1}}\n"
                                       "tracker: {max_lost_seconds: 15}\n")  # the stream's time is stretched
    site = tmp / "site.yaml"
    site.write_text(yaml.safe_dump({
        "site": "dash", "pipeline": "pipeline.yaml", "database": f"sqlite:///{db}",
        "live": {"status_file": str(tmp / "status.json")},
        "cameras": [{"id": "live", "source": srv.url("cam"), "lines": [LINE],
                     "zones": [{"name": "kerb", "polygon": [[20, 250], [300, 250], [300, 350], [20, 350]]}]}]}))
    store = Store(f"sqlite:///{db}")
    run = store.begin_run("seeded", "synthetic", None)
    store.write(run, random_events(400, T0, timedelta(days=2), seed=14, cameras=("seeded",)))
    store.finish_run(run, "done", 0)
    store.close()
    port = free_port()
    env = {**os.environ, "YOLO_OFFLINE": "1", "PYTHONPATH": str(REPO)}
    env.pop("VIGIL_API_TOKEN", None)
    proc = subprocess.Popen([sys.executable, "-m", "vigil", "run", str(site), "--http", f"127.0.0.1:{port}",
                             "--log-level", "WARNING"], cwd=tmp, env=env, stderr=subprocess.PIPE, text=True)
    base = f"http://127.0.0.1:{port}"

    def ready() -> bool:
        try:
            return httpx.get(base + "/readyz", timeout=2).status_code == 200
        except httpx.HTTPError:
            return False

    try:
        if not wait_for(lambda: ready() or proc.poll() is not None, 120, 0.5) or proc.poll() is not None:
            raise AssertionError(f"daemon not ready: {proc.stderr.read() if proc.poll() is not None else ''}")
        yield {"base": base, "db": db, "site": site, "tmp": tmp, "proc": proc}
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(60)
        except subprocess.TimeoutExpired:
            proc.kill()
        srv.stop()


@pytest.fixture(scope="module")
def page(daemon):
    if not CHROMIUM.exists():
        pytest.skip("Debian's chromium is not installed (apt install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=ARGS)
        pg = browser.new_page(viewport={"width": 1280, "height": 900}, base_url=daemon["base"])
        yield pg
        browser.close()


def test_probes_and_live_health(daemon):
    assert httpx.get(daemon["base"] + "/healthz").json() == {"ok": True}
    assert httpx.get(daemon["base"] + "/readyz").json() == {"ready": True}
    cams = {c["id"]: c for c in httpx.get(daemon["base"] + "/api/cameras").json()}
    assert cams["live"]["health"]["state"] in ("connecting", "streaming")
    assert cams["seeded"]["health"] is None  # in the store, not watched




def cli_json(capsys, *args: str) -> list[dict]:
    """`vigil ARGS --format json`, in this process (the CLI's own code path, without a Python start)."""
    from vigil.cli import main

    capsys.readouterr()
    assert main([*args, "--format", "json"]) == 0
    return json.loads(capsys.readouterr().out)


def chart_points(page) -> dict[str, dict[str, int]]:
    raw = page.eval_on_selector_all("svg.chart polyline.series",
                                    "els => els.map(e => [e.dataset.series, e.dataset.points])")
    return {key: dict(json.loads(points)) for key, points in raw}


def test_counts_chart_equals_vigil_counts(page, daemon, capsys):
    # 2026-03-29: Berlin's clocks go forward, so the day has 23 hours; the chart's buckets must follow.
    rng = ["--since", "2026-03-28", "--until", "2026-03-31", "--tz", "Europe/Berlin", "--camera", "seeded"]
    page.goto("/counts?camera=seeded&since=2026-03-28&until=2026-03-31&by=hour&tz=Europe/Berlin&split=class")
    for by in ("hour", "day"):
        if by == "day":  # through the form, as a user would
            page.select_option("select[name=by]", "day")
            page.click("form.filters button")
            page.wait_for_url("**by=day**")
        want: dict[str, dict[str, int]] = defaultdict(dict)
        for r in cli_json(capsys, "counts", "--db", f"sqlite:///{daemon['db']}", *rng, "--by", by):
            want[f"{r['camera']} / {r.get('line') or r.get('zone')} / {r['class']} / {r['direction']}"][r["bucket"]] \
                = r["count"]
        got = chart_points(page)
        assert got == want and sum(map(len, got.values())) > 10
        if by == "day":
            assert {b[:10] for s in got.values() for b in s} <= {"2026-03-28", "2026-03-29", "2026-03-30"}
    with page.expect_download() as dl:
        page.click("a.button[download]")
    csv_lines = Path(dl.value.path()).read_text().strip().splitlines()
    assert len(csv_lines) - 1 == sum(map(len, want.values()))
    if SHOTS:
        page.goto("/counts?camera=seeded&since=2026-03-28&until=2026-03-31&by=hour&tz=Europe/Berlin")
        shot(page, "dashboard-counts")


def test_events_page_filters_and_pages(page):
    page.goto("/events?camera=seeded")
    first = page.eval_on_selector_all("table.events tbody tr", "rs => rs.map(r => r.dataset.id)")
    assert len(first) == 50
    shot(page, "dashboard-events")
    page.click("#next")
    second = page.eval_on_selector_all("table.events tbody tr", "rs => rs.map(r => r.dataset.id)")
    assert second and not set(first) & set(second)
    page.fill("input[name=class]", "car")
    page.fill("input[name=direction]", "in")
    page.click("form.filters button")
    cells = page.eval_on_selector_all("table.events tbody tr", "rs => rs.map(r => [r.cells[4].innerText, "
                                                               "r.cells[5].innerText])")
    assert cells and set(map(tuple, cells)) == {("car", "in")}


def test_editor_line_gives_yaml_that_replay_counts_like_the_hand_written_one(page, daemon, tmp_path):
    from vigil.cli import main

    page.goto("/editor?camera=live")
    img = page.locator("#picture")
    assert wait_for(lambda: page.evaluate("document.getElementById('picture').naturalWidth") > 0, 30, 0.2)
    page.click("#clear")
    box = img.bounding_box()
    nw, nh = page.evaluate("[document.getElementById('picture').naturalWidth, "
                           "document.getElementById('picture').naturalHeight]")
    page.fill("#name", "drawn")
    page.click("#flip")  # the next line's in-side: left ...
    for x, y in LINE["points"]:
        page.mouse.click(box["x"] + (x + 0.5) * box["width"] / nw, box["y"] + (y + 0.5) * box["height"] / nh)
    page.click("#flip")  # ... flipped back to right on the drawn line
    assert page.locator("#drawing line.line").count() == 1
    page.click("#validate")
    page.wait_for_function("document.getElementById('yaml').textContent.length > 0")
    shot(page, "dashboard-editor")
    snippet = page.inner_text("#yaml")
    drawn = yaml.safe_load(snippet)["lines"]
    assert drawn == [{"name": "drawn", "points": LINE["points"], "in_side": "right"}]
    assert page.locator("#save").count() == 0  # read-only by default
    assert httpx.post(daemon["base"] + "/api/editor/save", json={"camera": "live", "lines": drawn}).status_code == 403

    # one replay of the clip with both lines: the hand-written one and the one from the editor
    # the first 2.5 s at 15 fps: two cars cross southbound (at 0.6 s and 1.6 s)
    clip = prepare_clip(need(VIDEO / "saoyan_test.mp4"), fps=15, seconds=2.5)
    (tmp_path / "pipeline.yaml").write_text(f"detector: {{weights: {need(YOLO_ONNX)}, imgsz: 640}}\n"
                                            "tracker: {max_lost_seconds: 15}\n")
    site = tmp_path / "site.yaml"
    camera = yaml.safe_load(f"id: cam\nsource: {clip}\nlines: [{json.dumps(LINE)}]\n")
    camera["lines"] += drawn
    site.write_text(yaml.safe_dump({"site": "x", "pipeline": "pipeline.yaml", "cameras": [camera]}))
    db = tmp_path / "r.db"
    assert main(["replay", str(site), "--db", f"sqlite:///{db}", "--no-progress"]) == 0
    with sqlite3.connect(db) as conn:
        rows = conn.execute("SELECT s.name, s.class_name, s.direction, count(*) FROM events e JOIN series s "
                            "ON s.id = e.series_id GROUP BY 1, 2, 3").fetchall()
    by_line: dict[str, Counter] = defaultdict(Counter)
    for name, cls, d, n in rows:
        by_line[name][(cls, d)] = n
    assert sum(by_line["southbound"].values()) >= 2, "the clip has crossings"
    assert by_line["drawn"] == by_line["southbound"]


def test_api_docs_page(page):
    page.goto("/docs")
    page.wait_for_selector(".swagger-ui .opblock", timeout=20_000)
    assert page.get_by_text("/api/cameras/{camera_id}/frame.jpg", exact=True).count() >= 1
    shot(page, "api-docs")


def frame_digest(page) -> str | None:
    return page.evaluate("""async () => {
        const img = document.querySelector('section.cam img.frame');
        if (!img || !img.src.startsWith('blob:')) return null;
        const buf = await (await fetch(img.src)).arrayBuffer();
        const d = new Uint8Array(await crypto.subtle.digest('SHA-256', buf));
        return Array.from(d, b => b.toString(16).padStart(2, '0')).join('');
    }""")


def test_cameras_page_shows_the_live_frame_changing_with_its_overlay(page):
    page.goto("/cameras")
    seen: set[str] = set()

    def two_frames() -> bool:
        d = frame_digest(page)
        if d:
            seen.add(d)
        return len(seen) >= 2

    assert wait_for(two_frames, 60, 0.5), f"the frame never changed ({len(seen)} distinct)"
    cam = page.locator("section.cam[data-camera='live']")
    assert cam.locator("svg.overlay line.line").count() == 1  # southbound, A->B
    assert cam.locator("svg.overlay polygon.in-side").count() == 1
    assert cam.locator("svg.overlay polygon.zone").count() == 1
    assert "southbound" in (cam.locator("svg.overlay").text_content() or "")
    # the boxes drawn are the ones of the newest /tracks answer (detections dashed, tracks solid)
    def drawn(kind: str, cls: str) -> bool:
        n = cam.get_attribute(f"data-{kind}")
        return n is not None and cam.locator(f"svg.overlay rect.{cls}").count() == int(n)

    assert wait_for(lambda: int(cam.get_attribute("data-detections") or 0) > 0, 30, 0.5), "no box drawn"
    assert wait_for(lambda: int(cam.get_attribute("data-tracks") or 0) > 0, 45, 0.5), "no track drawn"
    assert wait_for(lambda: drawn("detections", "det") and drawn("tracks", "box"), 10, 0.2)
    assert wait_for(lambda: cam.locator("td[data-key='state']").inner_text() == "streaming", 10, 0.5)
    shot(page, "dashboard-cameras")
