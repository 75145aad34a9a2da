"""`vigil replay` of a camera with a paired thermal source: the site config's thermal:
section makes the replay driver pair, register, warp and fuse before detection."""

import json
import re
import textwrap

import cv2
import pytest

from tests.fusion.data import VIFB_INPUT
from tests.fusion.streams import pan_streams, write_video
from tests.support.data import YOLO_ONNX, need
from vigil.cli import main

pytestmark = pytest.mark.slow


def test_replay_fuses_a_paired_thermal_camera_and_counts(tmp_path, capsys):
    vis = cv2.imread(str(need(VIFB_INPUT / "VI" / "snow.jpg")))
    ir = cv2.imread(str(need(VIFB_INPUT / "IR" / "snow.jpg")), cv2.IMREAD_GRAYSCALE)
    rgb, thermal = pan_streams(vis, ir, width=224, step=8, rgb_scale=2.0)
    write_video(tmp_path / "rgb.mp4", rgb, 10)
    write_video(tmp_path / "thermal.mp4", thermal, 10)
    h, w = rgb[0].shape[:2]
    (tmp_path / "p.yaml").write_text(f"detector:\n  weights: {need(YOLO_ONNX)}\n  batch: 4\n")
    site = tmp_path / "site.yaml"
    site.write_text(textwrap.dedent(f"""\
        pipeline: p.yaml
        cameras:
          - id: street
            source: rgb.mp4
            start_time: "2026-11-01T22:00:00Z"
            thermal: {{source: thermal.mp4, mode: fused, max_time_delta: 0.04}}
            lines:
              - {{name: mid, points: [[{w // 2}, 0], [{w // 2}, {h - 1}]], in_side: left, anchor: center}}
        """))
    db = f"sqlite:///{tmp_path / 't.db'}"
    assert main(["replay", str(site), "--db", db, "--no-progress"]) == 0
    assert f"street: thermal mode fused: {len(rgb)} of {len(rgb)} RGB frames had a thermal partner" \
        in capsys.readouterr().err
    assert main(["counts", "--db", db, "--format", "json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert sum(r["count"] for r in rows) >= 2, rows  # cars and people drift across the middle line
    assert {r["direction"] for r in rows} == {"out"}  # right to left only

    # mode auto: the scene is bright (the thresholds say RGB), but the detector finds far more on
    # the fused frames (snow hides people on the RGB ones); its probes move auto to fused
    auto = tmp_path / "auto.yaml"
    auto.write_text(site.read_text().replace("mode: fused", "mode: auto, probe_every: 4"))
    assert main(["replay", str(auto), "--db", f"sqlite:///{tmp_path / 'auto.db'}", "--no-progress"]) == 0
    (note,) = [line for line in capsys.readouterr().err.splitlines() if "thermal mode auto" in line]
    shown = dict(re.findall(r"(rgb|fused|thermal) (\d+)", note.split("saw ")[1]))
    assert int(shown["rgb"]) >= 1 and int(shown["fused"]) >= 1 and shown["thermal"] == "0", note
    assert "1 switch;" in note and note.endswith("ended on fused) (in rgb.mp4)"), note

    # a thermal source that is missing is one clear error line naming it, and exit 2
    site.write_text(site.read_text().replace("thermal.mp4", "nothere.mp4"))
    capsys.readouterr()
    assert main(["replay", str(site), "--db", db, "--no-progress"]) == 2
    err = [line for line in capsys.readouterr().err.splitlines() if line.startswith("error:")]
    assert len(err) == 1 and "nothere.mp4" in err[0]
