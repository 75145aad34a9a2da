"""Hostile or mistyped input through the real CLI (`python -m vigil`, a subprocess): one line on
stderr naming the problem, exit code 2, never a traceback."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.data import VIDEO, need

REPO = Path(__file__).resolve().parents[2]
PIPELINE = "detector:\n  weights: {weights}\n"


def vigil(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    full = {**os.environ, "PYTHONPATH": str(REPO), "YOLO_OFFLINE": "1", **(env or {})}
    return subprocess.run([sys.executable, "-m", "vigil", *args], capture_output=True, text=True, timeout=120,
                          check=False, cwd=REPO, env=full)


def one_error_line(proc: subprocess.CompletedProcess, needle: str) -> str:
    lines = proc.stderr.strip().splitlines()
    assert proc.returncode == 2, proc.stderr[-2000:]
    assert len(lines) == 1 and lines[0].startswith("error: "), proc.stderr[-2000:]
    assert "Traceback" not in proc.stderr
    assert needle in lines[0], lines[0]
    return lines[0]


def site(tmp_path: Path, body: str, weights: str = "model.onnx") -> Path:
    (tmp_path / "pipelines").mkdir(exist_ok=True)
    (tmp_path / "pipelines" / "p.yaml").write_text(PIPELINE.format(weights=weights))
    path = tmp_path / "site.yaml"
    path.write_text(body)
    return path


CAMERA = "cameras:\n  - id: c\n    source: clip.mp4\n"
LINE = "    lines:\n      - name: l\n        points: [[1, 2], [30, 40]]\n"

BAD_SITES = {
    "deep flow nesting": ("pipeline: p\n" + CAMERA + "    x: " + "[" * 10_000 + "]" * 10_000 + "\n", "nested"),
    "deep block nesting": ("pipeline: p\n" + "".join("  " * i + "a:\n" for i in range(3000)), "nested"),
    "billion laughs": ("pipeline: p\n" + CAMERA + "    x0: &a0 [x, x, x, x, x, x, x, x, x, x]\n"
                       + "".join(f"    x{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 10)}]\n" for i in range(1, 9)),
                       "more than 100000 values"),
    "complex key": ("pipeline: p\n? [a, b]\n: 1\n" + CAMERA, "a key must be a plain name"),
    "!!set on a list": ("pipeline: p\ncameras: !!set [a, b]\n", "expected a mapping"),
    "5000-digit integer": ("pipeline: p\n" + CAMERA + LINE + "        min_frames: " + "9" * 5000 + "\n",
                           "invalid value"),
    "pipeline name too long for a file name": ("pipeline: " + "p" * 1000 + "\n" + CAMERA, "(1000 characters)"),
    "pipeline name beyond any path": ("pipeline: " + "p" * 5000 + "\n" + CAMERA, "at most 4096 characters"),
    "start_time in year 9999": ("pipeline: p\n" + CAMERA + "    start_time: 9999-12-31T23:59:59\n",
                                "not a plausible recording time"),
    "NaN coordinate": ("pipeline: p\n" + CAMERA + LINE.replace("[1, 2]", "[.nan, 2]"), "finite number"),
    "1e308 coordinate": ("pipeline: p\n" + CAMERA + LINE.replace("[1, 2]", "[1e308, 2]"), "beyond 100000 pixels"),
}


@pytest.mark.parametrize("name", list(BAD_SITES))
def test_bad_site_yaml_is_one_line_exit_2(tmp_path, name):
    body, needle = BAD_SITES[name]
    line = one_error_line(vigil("replay", str(site(tmp_path, body))), needle)
    assert len(line) < 1000


def test_weights_path_that_is_a_directory(tmp_path):
    clip = need(VIDEO / "saoyan_test.mp4")
    (tmp_path / "weights_dir").mkdir()
    path = site(tmp_path, f"pipeline: p\ncameras:\n  - id: c\n    source: {clip}\n",
                weights=str(tmp_path / "weights_dir"))
    one_error_line(vigil("replay", str(path), "--db", f"sqlite:///{tmp_path}/v.db", "--no-progress"),
                   "is a directory")


@pytest.mark.parametrize("limit", [str(2**63), str(10**30)])
def test_events_limit_beyond_64_bits(tmp_path, limit):
    from vigil.store import Store

    Store(f"sqlite:///{tmp_path}/v.db").close()  # an existing, empty store: the query itself would overflow
    one_error_line(vigil("events", "--db", f"sqlite:///{tmp_path}/v.db", "--limit", limit), "--limit")


@pytest.mark.parametrize("path, needle", [
    ("x" * 5000 + ".yaml", "(5005 characters)' cannot be read (File name too long)"),
    (".", "cannot be read (Is a directory)"),
])
def test_unusable_config_paths(path, needle):
    one_error_line(vigil("replay", path), needle)


def test_replay_camera_equals_file_with_unknown_camera(tmp_path):
    """`nope=clip.mp4` names a camera the site lacks: say so, not that a file 'nope=...' is missing."""
    (tmp_path / "clip.mp4").write_bytes(b"")
    path = site(tmp_path, "pipeline: p\n" + CAMERA)
    line = one_error_line(vigil("replay", str(path), f"nope={tmp_path / 'clip.mp4'}"), "camera 'nope' is not in")
    assert line.endswith("cameras there: c") and "does not exist" not in line


def test_replay_of_several_files_for_a_camera_with_a_fixed_start_time(tmp_path):
    """Each file would start at the config's start_time: their events would pile onto the same minutes."""
    for name in ("a.mp4", "b.mp4"):
        (tmp_path / name).write_bytes(b"")
    fixed = CAMERA.replace("source:", "start_time: '2026-11-01T08:00:00Z'\n    source:")
    path = site(tmp_path, "pipeline: p\n" + fixed)
    line = one_error_line(vigil("replay", str(path), f"c={tmp_path / 'a.mp4'}", f"c={tmp_path / 'b.mp4'}"),
                          "camera 'c' has start_time 2026-11-01T08:00:00+00:00")
    assert "2 files (a.mp4, b.mp4)" in line and "remove start_time" in line


def test_replay_of_a_folder_as_camera_source(tmp_path):
    """Users try image folders as a camera's video: one line naming the camera and what is
    accepted (open() said only `Is a directory`), before the detector loads or a database is made;
    from the config and as a CAMERA=path argument alike."""
    frames = tmp_path / "frames"
    frames.mkdir()
    path = site(tmp_path, "pipeline: p\ncameras:\n  - id: c\n    source: frames\n")
    db = tmp_path / "v.db"
    for extra in ([], [f"c={frames}"]):
        line = one_error_line(vigil("replay", str(path), *extra, "--db", f"sqlite:///{db}"),
                              f"camera 'c': source '{frames}' is a folder, not a video source")
        assert "video file" in line and "rtsp://" in line and "thermal.source" in line
    assert not db.exists()


def test_help_paragraphs_wrap_at_the_terminal_not_at_the_source(monkeypatch, capsys):
    from vigil.cli import main
    from vigil.cli.app import reflow

    monkeypatch.setenv("COLUMNS", "400")
    assert main(["replay", "--help"]) == 0
    out = capsys.readouterr().out
    # one line in a wide terminal, although the docstring breaks it after "different"
    assert "Files of different cameras are processed side by side with one batched detector." in out
    # lists and indented examples keep their lines
    doc = "Title.\n\n    Prose that\n    goes on.\n\n    - one\n    - two\n\n      vigil run x.yaml\n"
    assert reflow(doc) == "Title.\n\nProse that goes on.\n\n- one\n- two\n\n  vigil run x.yaml"
    assert reflow("T.\n\n\b\nkept\nas is") == "T.\n\n\b\nkept\nas is"  # click's no-rewrap marker
