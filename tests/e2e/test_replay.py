"""End to end on real clips: decode (PyAV) -> detect (real YOLO weights) -> track -> count
-> store (SQLite) -> `vigil counts`, through the CLI as a user runs it."""

import json
import logging
import sqlite3
import textwrap

import av
import pytest

from tests.support.data import VIDEO, YOLO_ONNX, cut_video, need
from vigil.cli import main
from vigil.sources.hwdecode import open_decoder

pytestmark = pytest.mark.slow

PIPELINE = """\
detector:
  weights: {weights}
  imgsz: 640
  confidence: 0.25
  batch: 4
frame_stride: 2
"""


def site(tmp_path, source, lines):
    (tmp_path / "pipelines").mkdir(exist_ok=True)
    (tmp_path / "pipelines" / "p.yaml").write_text(PIPELINE.format(weights=need(YOLO_ONNX)))
    path = tmp_path / "site.yaml"
    path.write_text(textwrap.dedent(f"""\
        site: test
        pipeline: pipelines/p.yaml
        cameras:
          - id: cam
            source: {source}
            start_time: "2026-11-01T08:00:00Z"
            lines:
        """) + textwrap.indent(lines, "      "))
    return path


# saoyan: traffic on the main carriageway drives away from the camera, up across y=200
AWAY = """\
- name: away
  points: [[120, 200], [630, 200]]
  in_side: left
"""
def counts(db, capsys, *extra):
    capsys.readouterr()
    assert main(["counts", "--db", db, "--format", "json", *extra]) == 0
    return json.loads(capsys.readouterr().out)


@pytest.fixture(scope="module")
def clip(tmp_path_factory):
    """The first 8 s of the demo clip (about 10 vehicles cross the line)."""
    return cut_video(need(VIDEO / "saoyan_test.mp4"), tmp_path_factory.mktemp("clip") / "saoyan_cut.mp4", 240)


@pytest.fixture(scope="module")
def motion_only_db(tmp_path_factory, clip):
    """The database of one clean replay of the clip (motion only, the line AWAY): the reference
    that several tests compare with, replayed once for the module."""
    tmp = tmp_path_factory.mktemp("motion_only")
    db = f"sqlite:///{tmp / 'm.db'}"
    assert main(["replay", str(site(tmp, clip, AWAY)), "--db", db, "--no-progress"]) == 0
    return db


def test_replay_counts_cars_and_replaying_again_changes_nothing(tmp_path, capsys, caplog, clip, motion_only_db):
    cfg = site(tmp_path, clip, AWAY)
    # The first replay is the module's reference one (this clip, this site); a copy of its
    # database takes the second replay here.
    with sqlite3.connect(motion_only_db.removeprefix("sqlite:///")) as src, \
            sqlite3.connect(tmp_path / "v.db") as dst:
        src.backup(dst)
    db = f"sqlite:///{tmp_path / 'v.db'}"
    first = counts(db, capsys)
    cars = [r for r in first if r["class"] == "car"]
    assert cars and sum(r["count"] for r in cars) >= 2, first
    assert all(r["camera"] == "cam" and r["line"] == "away" for r in first)
    assert {r["direction"] for r in first} <= {"in", "out"}
    # vehicles on this carriageway drive away from the camera: "in" dominates
    assert sum(r["count"] for r in first if r["direction"] == "in") > sum(
        r["count"] for r in first if r["direction"] == "out")

    by_hour = counts(db, capsys, "--by", "hour")
    assert all(r["bucket"].startswith("2026-11-01T08:00:00") for r in by_hour)
    assert sum(r["count"] for r in by_hour) == sum(r["count"] for r in first)

    # the same file again (here under another name): the earlier run is replaced, not added to.
    # Asked to decode on CUDA: without a usable NVIDIA decoder it decodes in software, says so
    # once, and counts exactly as before (the same frames).
    again = tmp_path / "copy.mp4"
    again.write_bytes(clip.read_bytes())
    with caplog.at_level(logging.WARNING, logger="vigil"):
        assert main(["replay", str(cfg), str(again), "--db", db, "--no-progress", "--hwaccel", "cuda"]) == 0
    fallbacks = [r for r in caplog.records if getattr(r, "event", None) == "hwaccel_fallback"]
    with av.open(str(clip)) as c:
        cuda_here = open_decoder("cuda", c.streams.video[0]).device == "cuda"
    assert len(fallbacks) == (0 if cuda_here else 1)
    assert all("copy.mp4: hwaccel cuda" in r.getMessage() for r in fallbacks)
    if fallbacks:
        assert counts(db, capsys) == first
    else:  # decoded on CUDA: colour conversion may differ by a grey level; still replaced, not added
        assert abs(sum(r["count"] for r in counts(db, capsys)) - sum(r["count"] for r in first)) <= 1


def test_truncated_file_keeps_events_before_the_damage(tmp_path, capsys, clip, motion_only_db):
    cfg = site(tmp_path, clip, AWAY)
    total = sum(r["count"] for r in counts(motion_only_db, capsys))  # the whole file

    cut = tmp_path / "cut.mp4"  # a recording cut short: header intact, the last 40 % missing
    cut.write_bytes(clip.read_bytes()[: int(clip.stat().st_size * 0.6)])
    db = f"sqlite:///{tmp_path / 'cut.db'}"
    capsys.readouterr()
    assert main(["replay", str(cfg), str(cut), "--db", db, "--no-progress"]) == 2
    err = [line for line in capsys.readouterr().err.splitlines() if line.startswith("error:")]
    assert len(err) == 1 and "cut.mp4" in err[0] and "truncated" in err[0]
    kept = sum(r["count"] for r in counts(db, capsys))
    assert 1 <= kept < total  # what was counted before the damage is in the database, and no more
    con = sqlite3.connect(tmp_path / "cut.db")
    assert [r[0] for r in con.execute("select status from runs")] == ["error"]


@pytest.mark.parametrize("refresh", [None, 1.0], ids=["every-detection", "selective"])
def test_replay_with_reid_counts_like_motion_only(tmp_path, capsys, clip, motion_only_db, refresh):
    """A pipeline with a reid: section runs the real OSNet (on every detection, or only on
    those that need it) and the counts stay those of a motion-only run within a vehicle or two."""
    from tests.support.data import MODELS

    cfg = site(tmp_path, clip, AWAY)
    pipe = tmp_path / "pipelines" / "p.yaml"
    base = pipe.read_text()
    pipe.write_text(base + f"reid:\n  weights: {need(MODELS / 'osnet_x0_25_msmt17.pth')}\n"
                    f"  refresh_seconds: {'null' if refresh is None else refresh}\n")
    db = f"sqlite:///{tmp_path / 'r.db'}"
    assert main(["replay", str(cfg), "--db", db, "--no-progress"]) == 0
    with_reid = sum(r["count"] for r in counts(db, capsys))
    motion_only = sum(r["count"] for r in counts(motion_only_db, capsys))
    assert with_reid >= 2 and abs(with_reid - motion_only) <= 2


def test_replay_batches_reid_across_the_round(tmp_path, clip):
    """The replay driver embeds the whole detector batch in one call, so each camera's
    pipeline receives detections that already carry embeddings."""
    from tests.support.data import MODELS
    from vigil.config import load_site
    from vigil.pipeline.replay import Replay
    from vigil.pipeline.stages import build_stages, plan_jobs
    from vigil.store import Store

    cfg_path = site(tmp_path, clip, AWAY)
    pipe = tmp_path / "pipelines" / "p.yaml"
    pipe.write_text(pipe.read_text() + f"reid:\n  weights: {need(MODELS / 'osnet_x0_25_msmt17.pth')}\n")
    cfg = load_site(cfg_path)
    detector, embedder = build_stages(cfg)
    calls = []
    real = embedder.embed_batch

    def spy(images, dets, wanted=None):
        out = real(images, dets, wanted)
        calls.append((len(images), [d.embedding.shape for d in out]))
        return out

    embedder.embed_batch = spy
    embedder.embed = lambda *a: pytest.fail("per-frame embed must not run when the batch was embedded")
    store = Store(f"sqlite:///{tmp_path / 'b.db'}")
    Replay(cfg, store, detector, embedder).run(plan_jobs(cfg, [], None))
    assert calls and max(n for n, _ in calls) == 4  # detector batch of 4 frames -> one embed call
    assert all(shape[1] == 512 for _, shapes in calls for shape in shapes)
    # selective re-ID (the default): plainly tracked boxes go without a crop on most frames
    assert 0 < embedder.rows_embedded < 0.9 * embedder.rows_seen



def test_replay_never_prints_the_database_password(tmp_path, capsys, clip, monkeypatch):
    """The summary line names the database by Store.url, which masks a URL's password.
    (A PostgreSQL server is not needed: the store below writes to SQLite but carries the
    masked form Store gives a PostgreSQL URL.)"""
    from vigil.store import Store
    from vigil.store.engine import masked

    secret = "postgresql+psycopg://vigil:hunter2@db/vigil"

    class PgLikeStore(Store):
        def __init__(self, _url, **kw):
            super().__init__(f"sqlite:///{tmp_path / 'p.db'}", **kw)
            self.url = masked(secret)

    monkeypatch.setattr("vigil.store.Store", PgLikeStore)  # the command imports Store lazily
    assert main(["replay", str(site(tmp_path, clip, AWAY)), "--db", secret, "--no-progress"]) == 0
    err = capsys.readouterr().err
    assert "hunter2" not in err and "vigil:***@db/vigil" in err


class _Stop(Exception):
    pass


def _interrupting_replay(tmp_path, clip, store, after: int):
    from vigil.config import load_site
    from vigil.pipeline.replay import Replay
    from vigil.pipeline.stages import build_stages, plan_jobs

    cfg = load_site(site(tmp_path, clip, AWAY))
    detector, embedder = build_stages(cfg)
    seen = {"n": 0}

    def on_frames(n):
        seen["n"] += n
        if seen["n"] >= after:
            raise _Stop("stop")

    return Replay(cfg, store, detector, embedder, on_frames=on_frames), plan_jobs(cfg, [], None), seen


def test_interrupted_replay_keeps_its_events_and_marks_the_run(tmp_path, clip):
    from vigil.store import Store

    store = Store(f"sqlite:///{tmp_path / 'i.db'}")
    runner, jobs, seen = _interrupting_replay(tmp_path, clip, store, after=80)  # of 120 analysed frames
    with pytest.raises(_Stop):
        runner.run(jobs)
    store.close()
    assert 80 <= seen["n"] < 120
    con = sqlite3.connect(tmp_path / "i.db")
    assert con.execute("select status, frames, error from runs").fetchall() == [
        ("interrupted", seen["n"], "replay interrupted")]
    assert con.execute("select count(*) from events").fetchone()[0] >= 1  # counted before the stop, kept


def test_a_failing_store_does_not_hide_why_the_replay_stopped(tmp_path, clip):
    from vigil.store import Store

    store = Store(f"sqlite:///{tmp_path / 'f.db'}")
    real_writer = store.writer

    def failing_writer(**kw):
        w = real_writer(**kw)

        def flush(timeout=None):
            raise RuntimeError("database went away")

        w.flush = flush
        return w

    store.writer = failing_writer
    runner, jobs, _ = _interrupting_replay(tmp_path, clip, store, after=40)
    with pytest.raises(_Stop) as info:
        runner.run(jobs)
    assert any("database went away" in note for note in info.value.__notes__)
