"""`vigil replay --annotate DIR` and event snapshots, end to end on a real clip: decode (PyAV) ->
YOLO -> track -> count -> store (SQLite), the annotated MP4 decoded again with PyAV."""

from __future__ import annotations

import sqlite3
import textwrap
from collections import Counter

import av
import cv2
import numpy as np
import pytest

from tests.support.data import VIDEO, YOLO_ONNX, cut_video, need
from vigil.cli import main
from vigil.config.geometry import LineConfig
from vigil.config.site import CameraConfig
from vigil.render.overlay import Overlay, Tally
from vigil.store import Store
from vigil.types import CountEvent

pytestmark = pytest.mark.slow

STRIDE = 2
FRAMES = 120  # 4 s of the demo clip: a handful of cars cross the line
MAX_KB = 6


def write_site(tmp_path, clip):
    (tmp_path / "p.yaml").write_text(f"detector: {{weights: {need(YOLO_ONNX)}, imgsz: 640, batch: 4}}\n"
                                     f"frame_stride: {STRIDE}\n")
    path = tmp_path / "site.yaml"
    path.write_text(textwrap.dedent(f"""\
        site: t
        pipeline: p.yaml
        snapshots: {{enabled: true, max_kb: {MAX_KB}}}
        cameras:
          - id: cam
            source: {clip}
            start_time: "2026-11-01T08:00:00Z"
            lines: [{{name: away, points: [[120, 200], [630, 200]], in_side: left}}]
        """))
    return path


@pytest.fixture(scope="module")
def replayed(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("annotate")
    clip = cut_video(need(VIDEO / "saoyan_test.mp4"), tmp / "clip.mp4", FRAMES)
    cfg, db = write_site(tmp, clip), f"sqlite:///{tmp / 'v.db'}"
    assert main(["replay", str(cfg), "--db", db, "--no-progress", "--annotate", str(tmp / "out")]) == 0
    with av.open(str(tmp / "out" / "cam-clip.mp4")) as c:
        frames = [f.to_ndarray(format="bgr24") for f in c.decode(video=0)]
    store = Store(db)
    return {"tmp": tmp, "cfg": cfg, "db": db, "clip": clip, "frames": frames, "store": store,
            "events": store.events(limit=None)}


def frame_of(event: dict) -> int:
    """The analysed frame (= annotated video frame) on which an event was decided."""
    seconds = (event["time"] - event["time"].replace(hour=8, minute=0, second=0, microsecond=0)).total_seconds()
    return round(seconds * 29.97 / STRIDE)


def panel_crop(img: np.ndarray, rows: list[str]) -> np.ndarray:
    x1, y1, x2, y2 = Overlay.panel_box(rows)
    return img[y1:y2, x1:x2].astype(int)


def changed_pixels(a: np.ndarray, b: np.ndarray) -> int:
    return int((np.abs(a - b).max(axis=2) > 60).sum())


def test_annotated_video_has_every_analysed_frame(replayed):
    runs = replayed["store"].runs()
    assert len(runs) == 1 and runs[0]["status"] == "done"
    assert len(replayed["frames"]) == runs[0]["frames"] == FRAMES // STRIDE
    assert replayed["frames"][0].shape == (360, 640, 3)


def test_the_drawn_counts_change_exactly_on_the_frames_of_counted_crossings(replayed):
    events = [e for e in replayed["events"] if e["kind"] == "line"]
    assert len(events) >= 2, "the clip should have counted crossings"
    camera = CameraConfig(id="cam", lines=[LineConfig(name="away", points=((120, 200), (630, 200)))])
    overlay = Overlay(camera)
    at = Counter(frame_of(e) for e in events)
    rows0 = overlay.panel_lines(Tally())
    frames = replayed["frames"]
    expected_changes = {n for n in at if 0 < n < len(frames)}
    seen = []
    for n in range(1, len(frames)):
        moved = changed_pixels(panel_crop(frames[n], rows0), panel_crop(frames[n - 1], rows0))
        seen.append((n, moved))
    changed = {n for n, moved in seen if moved > 10}
    assert changed == expected_changes, (seen, sorted(at.items()))
    assert max(m for n, m in seen if n not in expected_changes) <= 3  # lossy video, but the panel holds still

    # The last frame's panel reads the run's totals: drawn again from the database's events it
    # matches; one count more or less does not.
    def drawn(ins: int, outs: int) -> np.ndarray:
        tally = Tally()
        tally.add([CountEvent("cam", "line", "away", i, "car", "in", events[0]["time"]) for i in range(ins)] +
                  [CountEvent("cam", "line", "away", i, "car", "out", events[0]["time"]) for i in range(outs)])
        blank = np.zeros_like(frames[-1])
        overlay.draw_panel(blank, tally)
        return panel_crop(blank, rows0)

    total = Counter(e["direction"] for e in events)
    last = panel_crop(frames[-1], rows0)
    right = changed_pixels(last, drawn(total["in"], total["out"]))
    wrong = min(changed_pixels(last, drawn(total["in"] + 1, total["out"])),
                changed_pixels(last, drawn(total["in"], total["out"] + 1)))
    assert right <= 3 < 10 < wrong, (right, wrong)


def test_each_event_keeps_a_capped_snapshot_served_by_the_api(replayed):
    from fastapi.testclient import TestClient

    from vigil.api.app import create_app

    store, events = replayed["store"], replayed["events"]
    shots = {e["id"]: store.snapshot(e["id"]) for e in events}
    kept = {i: b for i, b in shots.items() if b is not None}
    # line crossings are decided on a frame where the track is seen: each has its crop
    assert all(shots[e["id"]] is not None for e in events if e["kind"] == "line")
    for jpeg in kept.values():
        assert len(jpeg) <= MAX_KB * 1024
        img = cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR)
        assert img is not None and 8 <= min(img.shape[:2]) and max(img.shape[:2]) <= 320
    some = next(iter(kept))
    with TestClient(create_app(store, token="s3cret"), base_url="http://localhost") as client:
        auth = {"Authorization": "Bearer s3cret"}
        r = client.get(f"/api/events/{some}/snapshot", headers=auth)
        assert r.status_code == 200 and r.headers["content-type"] == "image/jpeg" and r.content == kept[some]
        assert client.get("/api/events/999999/snapshot", headers=auth).status_code == 404
        assert client.get(f"/api/events/{some}/snapshot").status_code == 401  # the API's token, as every route


def test_snapshots_are_pruned_with_their_events_when_a_file_is_replayed(replayed):
    store = replayed["store"]
    first = sum(store.snapshot(e["id"]) is not None for e in replayed["events"])
    # the same file again, without --annotate: its earlier run (events and snapshots) is replaced
    assert main(["replay", str(replayed["cfg"]), "--db", replayed["db"], "--no-progress"]) == 0
    db = replayed["db"].removeprefix("sqlite:///")
    with sqlite3.connect(db) as conn:
        n_snap = conn.execute("SELECT count(*) FROM snapshots").fetchone()[0]
        orphans = conn.execute("SELECT count(*) FROM snapshots WHERE event_id NOT IN (SELECT id FROM events)"
                               ).fetchone()[0]
        n_events = conn.execute("SELECT count(*) FROM events").fetchone()[0]
    # the replaced run's crops went with its events: one run's worth is left, none orphaned
    assert orphans == 0 and n_events == len(replayed["events"]) and n_snap == first > 0
