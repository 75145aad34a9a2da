"""`vigil check` opens a camera's thermal source as it opens the RGB one (file, image folder,
stream), reports its size, and checks thermal.homography against both frames: on real
RGB-thermal material from the shared data (a VIFB pair as two short videos, and a RoadScene
pair with its reference registration)."""

from __future__ import annotations

import csv
import textwrap
from pathlib import Path

import cv2
import numpy as np
import pytest

from tests.fusion.data import ROADSCENE_REG, VIFB_INPUT, need
from tests.fusion.streams import pan_streams, write_video
from tests.support.data import YOLO_ONNX
from vigil.cli import main
from vigil.fusion.register import invert_homography

SCALE = 2.0  # RGB pixels per thermal pixel in the VIFB pair's videos
PAN_H = [[SCALE, 0, 0.5], [0, SCALE, 0.5], [0, 0, 1]]  # thermal -> visible


@pytest.fixture(scope="module")
def videos(tmp_path_factory):
    """rgb.mp4 (448x648) and thermal.mp4 (224x324): three frames of the VIFB snow pair, panning."""
    tmp = tmp_path_factory.mktemp("check-thermal")
    vis = cv2.imread(str(need(VIFB_INPUT / "VI" / "snow.jpg")))
    ir = cv2.imread(str(need(VIFB_INPUT / "IR" / "snow.jpg")), cv2.IMREAD_GRAYSCALE)
    rgb, thermal = pan_streams(vis, ir, width=224, step=100, rgb_scale=SCALE)
    write_video(tmp / "rgb.mp4", rgb, 10)
    write_video(tmp / "thermal.mp4", thermal, 10)
    (tmp / "notes.mp4").write_text("not a video")
    return tmp


def _site(folder: Path, source: str, thermal: str) -> Path:
    (folder / "p.yaml").write_text(f"detector: {{weights: {need(YOLO_ONNX)}}}\n")
    site = folder / "site.yaml"
    site.write_text(textwrap.dedent(f"""\
        pipeline: p.yaml
        cameras:
          - id: street
            source: {source}
            thermal: {thermal}
        """))
    return site


def _check(site: Path, capsys) -> tuple[int, list[str], list[str]]:
    capsys.readouterr()
    code = main(["check", str(site)])
    out, err = capsys.readouterr()
    return code, out.splitlines(), err.strip().splitlines()


def test_a_good_thermal_camera_passes_with_its_size_and_overlap(videos, capsys):
    code, out, err = _check(_site(videos, "rgb.mp4", f"{{source: thermal.mp4, homography: {PAN_H}}}"), capsys)
    assert code == 0 and not err, err
    assert f"ok: camera 'street': thermal {videos / 'thermal.mp4'} opens at 224x324; thermal.homography lays the " \
           "RGB frame over 100% of it, and it covers 100% of the RGB view" in out, out
    assert any(line.startswith("ok: camera 'street': ") and "rgb.mp4 opens at 448x648" in line for line in out)
    # Without a homography the source is still opened; registration is left to run time.
    code, out, _ = _check(_site(videos, "rgb.mp4", "{source: thermal.mp4}"), capsys)
    assert code == 0 and any("opens at 224x324; no thermal.homography" in line for line in out), out


@pytest.mark.parametrize("thermal, needle", [
    ("{source: nothere.mp4}",
     "camera 'street': thermal source nothere.mp4 does not exist (looked for {dir}/nothere.mp4)"),
    ("{source: notes.mp4}", "camera 'street': thermal source notes.mp4 cannot be opened or decoded"),
    ("{source: 'rtsp://u:secret@127.0.0.1:9/ir'}", "camera 'street': RGB source and thermal source "
                                                    "rtsp://u:***@127.0.0.1:9/ir must both be streams or both be "
                                                    "recordings"),
    (f"{{source: thermal.mp4, homography: {invert_homography(np.array(PAN_H)).tolist()}}}",
     "camera 'street' thermal.homography lays the 448x648 RGB frame over 100% of the 224x324 thermal frame, which "
     "covers 6% of the RGB view"),
    ("{source: thermal.mp4, homography: [[1, 0, 400], [0, 1, 600], [0, 0, 1]]}",  # corners just touch
     "covers 1% of the RGB view: the cameras would hardly overlap. Re-register the cameras"),
    ("{source: thermal.mp4, homography: [[1, 0, 0], [0, 1, 0], [0.01, 0, 1]]}",
     "camera 'street' thermal.homography maps part of the visible frame behind the thermal camera"),
])
def test_a_bad_thermal_source_is_one_line(videos, capsys, thermal, needle):
    code, _, err = _check(_site(videos, "rgb.mp4", thermal), capsys)
    assert code == 2 and len(err) == 1 and err[0].startswith("error: "), err
    assert needle.format(dir=videos) in err[0], err[0]


def test_a_narrow_thermal_lens_in_a_wide_rgb_view_passes(videos, capsys):
    """A telephoto thermal camera seeing the middle 30 % of the RGB frame overlaps little (9 % of the
    RGB view), like a pasted inverse; but its inverse overlaps no better, so it is no slip."""
    tele = [[0.6, 0, 157], [0, 0.6, 227], [0, 0, 1]]  # thermal -> visible: 224x324 onto 134x194 RGB px
    code, out, err = _check(_site(videos, "rgb.mp4", f"{{source: thermal.mp4, homography: {tele}}}"), capsys)
    assert code == 0 and not err, err
    assert any("over 100% of it, and it covers 9% of the RGB view: little overlap, as with a narrow thermal lens"
               in line for line in out), out


def _roadscene_visible_to_ir(name: str) -> np.ndarray:
    with open(need(ROADSCENE_REG / "homographies.csv"), newline="") as f:
        row = next(r for r in csv.DictReader(f) if r["name"] == name)
    return np.array([float(row[f"h{i}{j}"]) for i in range(3) for j in range(3)]).reshape(3, 3)


def test_a_real_registration_passes_and_its_inverse_is_caught(tmp_path, capsys):
    """RoadScene FLIR_00006: the visible photo (1404x1026) as the RGB source, the folder of 640x512
    infrared frames as the thermal source (its first image is the same scene), and the dataset's
    reference registration."""
    visible = need(ROADSCENE_REG / "visible" / "FLIR_00006.jpg")
    folder = need(ROADSCENE_REG / "infrared")
    to_ir = _roadscene_visible_to_ir("FLIR_00006")
    good = f"{{source: {folder}, homography: {invert_homography(to_ir).tolist()}}}"
    code, out, err = _check(_site(tmp_path, str(visible), good), capsys)
    assert code == 0 and not err, err
    line = next(line for line in out if "thermal " in line)
    assert f"thermal {folder} opens at 640x512; thermal.homography lays the RGB frame over 71% of it" in line, line
    # The matrix `vigil register` prints first (visible -> thermal), pasted by mistake.
    code, _, err = _check(_site(tmp_path, str(visible), f"{{source: {folder}, homography: {to_ir.tolist()}}}"),
                          capsys)
    assert code == 2 and len(err) == 1 and "is this the visible -> thermal one?" in err[0], err
