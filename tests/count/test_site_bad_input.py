"""Every site option of issue 17 given wrongly: one clear line naming the input and the fix,
exit 2, no traceback. Through the CLI (`vigil check`, `vigil counts`) in process, with one
case through a real subprocess to show the same holds for `python -m vigil`."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.data import REPO, VIDEO, YOLO_ONNX, need
from vigil.cli import main

CLIP = VIDEO / "saoyan_test.mp4"
CAM = "cameras:\n  - id: c\n    source: {clip}\n"
LINE = "    lines:\n      - name: l\n        points: [[0, 100], [600, 100]]\n"


def site(tmp_path: Path, body: str, pipeline: str = "") -> Path:
    (tmp_path / "p.yaml").write_text(f"detector:\n  weights: {YOLO_ONNX}\n  confidence: 0.25\n"
                                     f"  classes: [car, bus, truck]\n{pipeline}")
    path = tmp_path / "site.yaml"
    path.write_text("pipeline: p.yaml\n" + body.replace("{clip}", str(CLIP)))
    return path


def one_error_line(code: int, err: str, needle: str) -> str:
    lines = err.strip().splitlines()
    assert code == 2, err
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    assert "Traceback" not in err
    assert needle in lines[0], lines[0]
    return lines[0]


BAD = {
    "unknown line class": (CAM + LINE + "        classes: [lorry]\n",
                           "line 'l': unknown class 'lorry'; the pipeline's detector reports car, bus, truck, "
                           "or a group: vehicle"),
    "line class the pipeline drops": (CAM + LINE + "        classes: [pedestrian]\n",
                                      "line 'l': classes has 'pedestrian', which the pipeline's detector does "
                                      "not keep"),
    "empty classes": (CAM + LINE + "        classes: []\n", "classes is empty"),
    "output filter class the pipeline does not report": (
        CAM + "outputs:\n  - {name: hook, type: webhook, url: 'http://127.0.0.1:9/h', filter: {classes: [person]}}\n",
        "outputs[0] (hook): filter names class 'person', which the pipeline's detector does not report; it "
        "reports car, bus, truck"),
    "min_confidence above 1": (CAM + LINE + "        min_confidence: 1.5\n",
                               "min_confidence: Input should be less than or equal to 1"),
    "negative min_area": (CAM + LINE + "        min_area: -4\n", "min_area: Input should be greater than"),
    "min_area above max_area": (CAM + LINE + "        min_area: 900\n        max_area: 100\n", "swap them"),
    "zone filter typo": (CAM + "    zones:\n      - name: z\n        polygon: [[0, 0], [9, 0], [9, 9]]\n"
                         "        min_confidance: 0.5\n", "unknown key 'min_confidance' at cameras.0.zones.0"),
    "mask of two points": (CAM + "    masks:\n      - [[0, 0], [5, 5]]\n", "a polygon needs at least 3 points"),
    "detector confidence below the pipeline's": (CAM + "    detector: {confidence: 0.1}\n",
                                                 "below the pipeline's 0.25"),
    "detector class the pipeline drops": (CAM + "    detector: {classes: [pedestrian]}\n",
                                          "which the pipeline's detector does not keep"),
    "relative point beyond 1": (CAM + "    coordinates: relative\n" + LINE, "relative coordinates are fractions"),
    "relative and reference_size": (CAM + "    coordinates: relative\n    reference_size: [640, 360]\n",
                                    "do not go together"),
    "reference_size zero": (CAM + "    reference_size: [0, 360]\n", "is not a frame size"),
    "point beyond reference_size": (CAM + "    reference_size: [320, 180]\n" + LINE, "within reference_size"),
    "in_direction and in_side disagree": (CAM + LINE + "        in_direction: up\n        in_side: right\n",
                                          "both in_side and in_direction, and they disagree (in_direction up "
                                          "means in_side left)"),
    "in_direction along the line": (CAM + LINE + "        in_direction: left\n", "runs mostly up-down"),
    "in_direction sideways": (CAM + LINE + "        in_direction: north\n", "'up', 'down', 'left' or 'right'"),
    "ground of three points": (CAM + "    ground:\n      image: [[0, 0], [9, 0], [9, 9]]\n"
                               "      world: [[0, 0], [1, 0], [1, 1], [0, 1]]\n", "exactly 4 points"),
    "ground bow tie": (CAM + "    ground:\n      image: [[0, 0], [9, 9], [9, 0], [0, 9]]\n"
                       "      world: [[0, 0], [1, 0], [1, 1], [0, 1]]\n", "convex quadrilateral"),
    "ground window zero": (CAM + "    ground:\n      image: [[0, 0], [9, 0], [9, 9], [0, 9]]\n"
                           "      world: [[0, 0], [1, 0], [1, 1], [0, 1]]\n      speed_window_s: 0\n",
                           "speed_window_s: Input should be greater than 0"),
    "camras typo": ("camras:\n  - id: c\n", "unknown key 'camras' at top level"),
    "aspect mismatch": (CAM + "    reference_size: [1024, 768]\n", "reference_size is 1024x768"),
    "line outside the frame": (CAM + "    lines:\n      - name: l\n        points: [[700, 400], [900, 500]]\n",
                               "lies wholly outside the 640x360 frame"),
    "missing source file": (CAM.replace("{clip}", "nope.mp4"), "nope.mp4"),
    "source is a folder": (CAM.replace("{clip}", "."), "is a folder, not a video source; give a video file"),
}


@pytest.mark.parametrize("body, needle", BAD.values(), ids=BAD.keys())
def test_bad_site_option_is_one_line(tmp_path, capsys, body, needle):
    need(CLIP), need(YOLO_ONNX)
    code = main(["check", str(site(tmp_path, body))])
    one_error_line(code, capsys.readouterr().err, needle)


@pytest.mark.parametrize("args, needle", [
    (["--od", "--line", "l"], "drop --line/--zone/--direction"),
    (["--od", "--speed"], "give --od or --speed, not both"),
    (["--speed", "--zone", "z"], "give --line, not --zone"),
    (["--speed", "--bin", "0"], "speed bin 0 km/h"),
    (["--od", "--by", "fortnight"], "fortnight"),
])
def test_bad_traffic_query_is_one_line(tmp_path, capsys, args, needle):
    from vigil.store import Store

    db = f"sqlite:///{tmp_path / 'q.db'}"
    Store(db).close()
    code = main(["counts", "--db", db, *args])
    one_error_line(code, capsys.readouterr().err, needle)


def test_check_passes_a_good_config_and_fails_a_bad_one_in_a_real_process(tmp_path):
    need(CLIP), need(YOLO_ONNX)
    env = {**os.environ, "PYTHONPATH": str(REPO), "YOLO_OFFLINE": "1"}
    good = subprocess.run([sys.executable, "-m", "vigil", "check", str(REPO / "configs" / "study.yaml")],
                          capture_output=True, text=True, timeout=120, cwd=REPO, env=env)
    assert good.returncode == 0, good.stderr
    assert "ok: camera 'saoyan'" in good.stdout and "ground plane set" in good.stdout
    bad = subprocess.run([sys.executable, "-m", "vigil", "check", str(site(tmp_path, "camras:\n  - id: c\n"))],
                         capture_output=True, text=True, timeout=120, cwd=REPO, env=env)
    one_error_line(bad.returncode, bad.stderr, "unknown key 'camras'")


@pytest.mark.slow
def test_replay_of_a_file_with_another_aspect_ratio_stops_before_decoding(tmp_path):
    need(CLIP), need(YOLO_ONNX)
    env = {**os.environ, "PYTHONPATH": str(REPO), "YOLO_OFFLINE": "1"}
    cfg = site(tmp_path, CAM + "    reference_size: [1024, 768]\n" + LINE)
    done = subprocess.run([sys.executable, "-m", "vigil", "replay", str(cfg), "--db",
                           f"sqlite:///{tmp_path / 'r.db'}", "--no-progress"],
                          capture_output=True, text=True, timeout=300, cwd=REPO, env=env)
    errors = [ln for ln in done.stderr.splitlines() if ln.startswith("error: ")]
    assert done.returncode == 2 and "Traceback" not in done.stderr, done.stderr
    assert errors == ["error: camera 'c': the video is 640x360 (aspect 1.778) but reference_size is 1024x768 "
                      "(aspect 1.333); its lines and zones would land in the wrong place. Use the stream the "
                      "points were drawn on, or redraw them and set reference_size to this stream's size"]
    assert "0 frames analysed" in done.stderr
