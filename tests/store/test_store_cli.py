"""`vigil counts` / `vigil events`: the JSON contract, formats, --config, exit codes."""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys
from datetime import datetime, timedelta

import pytest

from tests.store.storekit import T0, random_events, reference_counts
from vigil.cli import main
from vigil.store import Store
from vigil.types import CountEvent


@pytest.fixture
def db(store_url):
    s = Store(store_url)
    run = s.begin_run("gate-1", "x.mp4", "h")
    evs = random_events(400, T0, timedelta(days=2), seed=7)
    s.write(run, evs)
    s.close()
    return store_url, evs


def run_cli(capsys, *argv) -> tuple[int, str, str]:
    code = main(list(argv))
    out = capsys.readouterr()
    return code, out.out, out.err


def test_counts_json_contract(db, capsys):
    url, evs = db
    code, out, err = run_cli(capsys, "counts", "--db", url, "--format", "json")
    assert code == 0, err
    rows = json.loads(out)
    for r in rows:
        assert set(r) in ({"camera", "line", "class", "direction", "count"},
                          {"camera", "zone", "class", "direction", "count"})
        assert r["direction"] in ("in", "out")
    got = {(r["camera"], "line" if "line" in r else "zone", r.get("line", r.get("zone")), r["class"],
            r["direction"]): r["count"] for r in rows}
    assert got == dict(reference_counts(evs))


def test_counts_by_hour_with_filters_and_tz(db, capsys):
    url, evs = db
    code, out, _ = run_cli(capsys, "counts", "--db", url, "--camera", "gate-2", "--line", "lane 2",
                           "--class", "car", "--direction", "in", "--since", "2026-03-28T15:10",
                           "--until", "2026-03-29T09:00", "--by", "hour", "--tz", "Europe/Berlin",
                           "--format", "json")
    assert code == 0
    rows = json.loads(out)
    assert rows and all(set(r) == {"camera", "line", "class", "direction", "bucket", "count"} for r in rows)
    from zoneinfo import ZoneInfo

    berlin = ZoneInfo("Europe/Berlin")
    want = reference_counts(evs, by="hour", tz="Europe/Berlin", camera="gate-2", kind="line", name="lane 2",
                            class_name="car", direction="in",
                            since=datetime(2026, 3, 28, 15, 10, tzinfo=berlin),
                            until=datetime(2026, 3, 29, 9, tzinfo=berlin))
    assert {r["bucket"]: r["count"] for r in rows} == {k[-1]: n for k, n in want.items()}
    assert [r["bucket"] for r in rows] == sorted(r["bucket"] for r in rows)


def test_counts_zone_csv_and_table(db, capsys):
    url, evs = db
    code, out, _ = run_cli(capsys, "counts", "--db", url, "--zone", "Z", "--format", "csv")
    assert code == 0
    rows = list(csv.DictReader(io.StringIO(out)))
    assert rows and set(rows[0]) == {"camera", "zone", "class", "direction", "count"}
    assert sum(int(r["count"]) for r in rows) == sum(e.kind == "zone" for e in evs)
    code, out, _ = run_cli(capsys, "counts", "--db", url, "--by", "day")
    assert code == 0 and "gate-1" in out and "bucket" in out


def test_counts_database_from_site_config(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    s = Store("sqlite:///from-config.db")
    run = s.begin_run("cam", "x", None)
    s.write(run, [CountEvent("cam", "line", "L", 1, "car", "in", T0)])
    s.close()
    (tmp_path / "site.yaml").write_text("database: sqlite:///from-config.db\ncameras:\n  - id: cam\n")
    code, out, err = run_cli(capsys, "counts", "--config", "site.yaml", "--format", "json")
    assert code == 0, err
    assert json.loads(out) == [{"camera": "cam", "line": "L", "class": "car", "direction": "in", "count": 1}]


def test_class_typos_are_refused_and_groups_expand(db, capsys):
    """A mistyped --class is a mistake, not "no counts"; a group name counts its classes."""
    url, evs = db
    for cmd in ("counts", "events"):
        code, out, err = run_cli(capsys, cmd, "--db", url, "--class", "carr")
        assert (code, out, err.count("\n")) == (2, "", 1), err
        assert err.startswith("error: unknown class 'carr'; known classes: bicycle, bus, car, motorcycle, "
                              "pedestrian, truck (or a group: heavy, motor_vehicle, vehicle)"), err
    code, out, err = run_cli(capsys, "counts", "--db", url, "--class", "Motor_Vehicle", "--format", "json")
    assert code == 0, err
    rows = json.loads(out)
    assert {r["class"] for r in rows} == {"car", "truck"}  # the events' other class is pedestrian
    assert sum(r["count"] for r in rows) == sum(e.class_name in ("car", "truck") for e in evs)


def test_a_class_filter_with_a_site_whose_pipeline_is_gone_still_answers(db, capsys, tmp_path):
    """--config with --class reads the site's pipeline for its classes; a database copied with
    only its site file (the pipeline elsewhere) still answers, with a note."""
    url, evs = db
    site = tmp_path / "site.yaml"
    site.write_text(f"pipeline: moved_away\ndatabase: {url}\ncameras: [{{id: gate-1, source: x.mp4}}]\n")
    code, out, err = run_cli(capsys, "counts", "--config", str(site), "--class", "car", "--format", "json")
    assert code == 0 and "the site's pipeline classes are not known" in err, err
    assert sum(r["count"] for r in json.loads(out)) == sum(e.class_name == "car" for e in evs)


def test_events_command(db, capsys):
    url, evs = db
    code, out, err = run_cli(capsys, "events", "--db", url, "--zone", "Z", "--direction", "out",
                             "--limit", "5", "--format", "json")
    assert code == 0
    rows = json.loads(out)
    want = sorted((e for e in evs if e.kind == "zone" and e.direction == "out"), key=lambda e: e.time)[:5]
    assert [datetime.fromisoformat(r["time"]) for r in rows] == [e.time for e in want]
    assert all("dwell_s" in r and r["zone"] == "Z" for r in rows)
    assert "first 5 events" in err
    code, out, _ = run_cli(capsys, "events", "--db", url, "--limit", "0", "--format", "csv")
    assert code == 0 and len(out.strip().splitlines()) == len(evs) + 1


def test_empty_results_are_not_errors(db, capsys):
    url, _ = db
    code, out, _ = run_cli(capsys, "counts", "--db", url, "--since", "2030-01-01", "--format", "json")
    assert (code, json.loads(out)) == (0, [])
    code, _, err = run_cli(capsys, "counts", "--db", url, "--camera", "nobody")
    assert code == 0 and "no counts" in err


@pytest.mark.parametrize("args, needle", [
    (["--since", "2026-02-30"], "not an ISO 8601"),
    (["--until", "noon"], "not an ISO 8601"),
    (["--tz", "Europe/Atlantis"], "unknown time zone"),
    (["--by", "fortnight"], "unknown bucket"),
    (["--format", "xml"], "--format"),
    (["--direction", "sideways"], "--direction"),
    (["--line", "L1", "--zone", "Z"], "not both"),
    (["--since", "2026-03-02", "--until", "2026-03-01"], "after until"),
    (["--bin", "5"], "add --speed"),
])
def test_bad_input_exits_2_with_one_line(db, capsys, args, needle):
    url, _ = db
    code, out, err = run_cli(capsys, "counts", "--db", url, *args)
    assert code == 2 and out == ""
    assert err.startswith("error: ") and needle in err and err.count("\n") == 1


@pytest.mark.parametrize("argv", [["counts"], ["events"], ["runs"], ["db", "stats"],
                                  ["db", "prune", "--events-days", "1"],
                                  ["outputs", "run", "{site}", "--drain", "--timeout", "1"]])
def test_missing_database_file_exits_2_and_creates_nothing(tmp_path, capsys, monkeypatch, argv):
    """Commands that read (or prune) a database refuse a missing SQLite file in one line instead
    of creating an empty one (and its folder) that then answers 'nothing'; `outputs run` did."""
    from tests.outputs.sitekit import webhook_output, write_site

    monkeypatch.setenv("HOOK_SECRET", "k")
    site = write_site(tmp_path, [webhook_output("http://127.0.0.1:9/hook")])
    missing = tmp_path / "typo" / "none.db"
    code, out, err = run_cli(capsys, *[a.format(site=site) for a in argv], "--db", f"sqlite:///{missing}")
    assert code == 2 and out == "", err
    assert err == f"error: database {missing} does not exist; run `vigil replay` or `vigil run` first to " \
                  "create it, or check --db / --config / $VIGIL_DB\n"
    assert not missing.parent.exists()


def test_real_entry_point_exit_codes(tmp_path):
    """The installed console script, as a user runs it: no traceback, exit 2."""
    exe = [sys.executable, "-m", "vigil"]
    ok = subprocess.run([*exe, "counts", "--help"], capture_output=True, text=True, timeout=120)
    assert ok.returncode == 0 and "--by" in ok.stdout
    assert "class, [bucket], count}" in " ".join(ok.stdout.split())  # Rich markup once ate [bucket]
    bad = subprocess.run([*exe, "counts", "--db", "postgresql://vigil:hunter2@127.0.0.1:1/x"],
                         capture_output=True, text=True, timeout=120)
    assert bad.returncode == 2 and "Traceback" not in bad.stderr
    assert bad.stderr.startswith("error: cannot open database") and "hunter2" not in bad.stderr
