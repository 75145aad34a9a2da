"""`vigil fuse` and `vigil eval fusion` as a user runs them."""

import json
import os

import cv2
import pytest

from tests.fusion.data import VIFB_CSV, VIFB_INPUT, need
from vigil.cli import main
from vigil.fusion.fuse import method_names


@pytest.fixture()
def small_pairs(tmp_path):
    """Two VIFB pairs in a folder spelled the RoadScene way (links, nothing copied)."""
    root = tmp_path / "pairs"
    for sub in ("Visible", "Infrared"):
        (root / sub).mkdir(parents=True)
    for name in ("walking", "manWalking"):  # manWalking's thermal image is single-channel
        os.symlink(need(VIFB_INPUT / "VI" / f"{name}.jpg"), root / "Visible" / f"{name}.jpg")
        os.symlink(need(VIFB_INPUT / "IR" / f"{name}.jpg"), root / "Infrared" / f"{name}.jpg")
    return root


def test_fuse_one_pair_writes_the_fused_image(tmp_path, capsys):
    out = tmp_path / "f.png"
    vis = need(VIFB_INPUT / "VI" / "kettle.jpg")
    assert main(["fuse", str(vis), str(VIFB_INPUT / "IR" / "kettle.jpg"), "--method", "gff", "-o", str(out)]) == 0
    img = cv2.imread(str(out))
    assert img.shape == cv2.imread(str(vis)).shape
    assert "gff" in capsys.readouterr().out


def test_fuse_pairs_prints_metrics_per_pair(small_pairs, tmp_path, capsys):
    assert main(["fuse", "--pairs", str(small_pairs), "--format", "json", "--out-dir", str(tmp_path / "o")]) == 0
    data = json.loads(capsys.readouterr().out)
    assert set(data["pairs"]) == {"walking", "manWalking"}
    assert {"EN", "SD", "SF", "AG", "MI", "PSNR", "RMSE", "CE", "SSIM", "Qabf", "VIF"} <= set(data["mean"])
    assert len(list((tmp_path / "o").glob("*.jpg"))) == 2
    assert main(["fuse", "--pairs", str(small_pairs), "-m", "average"]) == 0
    table = capsys.readouterr().out
    assert "walking" in table and "mean" in table and "Qabf" in table


def test_eval_fusion_json_has_the_default_and_every_method(small_pairs, capsys):
    assert main(["eval", "fusion", "--pairs", str(small_pairs), "--format", "json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["default"] in data
    for method in ("average", "laplacian", "gff", "msd"):
        assert 0 < data[method]["Qabf"] < 1 and 0 < data[method]["SSIM"] < 2
    # the plain average is the least detailed of them all
    assert data["average"]["AG"] < min(data[m]["AG"] for m in ("laplacian", "gff", "msd"))


def test_eval_fusion_ranks_each_half_on_its_own_images(small_pairs, capsys):
    argv = ["eval", "fusion", "--pairs", str(small_pairs), "--methods", "msd,average",
            "--rank-against", str(need(VIFB_CSV))]
    assert main([*argv, "--format", "json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert set(data["halves"]) == {"development", "held-back"}
    for rows in data["halves"].values():
        assert len(rows) == len(data["ranking"])  # VIFB's methods and Vigil's two, on one image each
        ranks = {r["method"]: r["ranks"] for r in rows}
        assert ranks["vigil:msd"]["SD"] < ranks["vigil:average"]["SD"]
    assert data["halves"]["development"] != data["halves"]["held-back"]  # different images, different ranks
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "Vigil's places" in out and "held-back" in out and "development" in out


@pytest.mark.parametrize("argv,message", [
    (["fuse", "only_one.jpg"], "give VISIBLE and THERMAL"),
    (["fuse", "--pairs", "/nonexistent"], "does not exist"),
    (["eval", "fusion", "--pairs", "/nonexistent"], "does not exist"),
    (["eval", "fusion", "--pairs", ".", "--methods", "average,zzz"], "unknown fusion method 'zzz'"),
    (["fuse", "a.jpg", "b.jpg"], "cannot read image 'a.jpg'"),
])
def test_user_mistakes_are_one_line_errors(argv, message, capsys):
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1


def test_bench_fusion_times_every_method(capsys):
    assert main(["bench", "fusion", "--size", "160x128", "--repeat", "2", "--format", "json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["size"] == [160, 128] and set(data["methods"]) == set(method_names())
    assert all(r["wall_ms"] > 0 for r in data["methods"].values())
    assert main(["bench", "fusion", "--size", "big"]) == 2
    assert "WIDTHxHEIGHT" in capsys.readouterr().err
