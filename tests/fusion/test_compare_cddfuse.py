"""`vigil eval fusion --compare cddfuse` on real TNO pairs, and CDDFuse's metric conventions
checked against reference implementations (sklearn's MI, VIFB's Qabf numbers, the published
pixel-domain VIF algorithm written out plainly)."""

import csv
import json
import os

import cv2
import numpy as np
import pytest
from scipy.signal import convolve2d

from tests.fusion.data import TNO, VIFB_CSV, VIFB_FUSED, VIFB_INPUT, need
from vigil.cli import main
from vigil.eval.split import held_back
from vigil.fusion import metrics as M
from vigil.fusion import metrics_cddfuse as C
from vigil.fusion.fuse import fuse
from vigil.fusion.pairs import read_pair_image

TWO = ("1", "3")  # one lands in each half of the split


@pytest.fixture()
def two_tno_pairs(tmp_path):
    root = tmp_path / "tno"
    for sub in ("vis", "ir"):
        (root / sub).mkdir(parents=True)
        for name in TWO:
            os.symlink(need(TNO / sub / f"{name}.bmp"), root / sub / f"{name}.bmp")
    return root


def tno_pair(name):
    return read_pair_image(need(TNO / "vis" / f"{name}.bmp")), read_pair_image(need(TNO / "ir" / f"{name}.bmp"))


def test_compare_cddfuse_prints_the_published_row_and_vigils_rows(two_tno_pairs, capsys):
    assert len(held_back(TWO)) == 1
    assert main(["eval", "fusion", "--pairs", str(two_tno_pairs), "--compare", "cddfuse",
                 "--methods", "msd,gff", "--format", "json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["against"]["name"] == "CDDFuse" and data["against"]["metrics"] == C.CDDFUSE_TNO
    assert data["against"]["metrics"]["VIF"] == 0.77 and data["against"]["metrics"]["Qabf"] == 0.54
    rows = {(r["method"], r["half"]): r for r in data["rows"]}
    assert set(rows) == {(m, h) for m in ("msd", "gff") for h in ("development", "held-back", "all")}
    hold = next(iter(held_back(TWO)))
    vis, ir = tno_pair(hold)
    want = C.evaluate(vis, ir, fuse(vis, ir, "msd"))
    got = rows[("msd", "held-back")]
    assert got["pairs"] == 1 and got["metrics"] == pytest.approx(want, rel=1e-9)
    for row in data["rows"]:
        for n, ref in C.CDDFUSE_TNO.items():
            assert (n in row["beats"]) == (row["metrics"][n] > ref) and (n in row["loses"]) != (n in row["beats"])
    # the two methods differ where they should: msd keeps more contrast, gff more of the sources
    assert rows[("msd", "all")]["metrics"]["SD"] > rows[("gff", "all")]["metrics"]["SD"]
    assert rows[("gff", "all")]["metrics"]["MI"] > rows[("msd", "all")]["metrics"]["MI"]

    assert main(["eval", "fusion", "--pairs", str(two_tno_pairs), "--compare", "cddfuse", "--methods", "msd"]) == 0
    out = capsys.readouterr().out
    assert "CDDFuse (published)" in out and "vigil:msd held-back" in out and "vigil:msd development" in out
    assert "7.12" in out and "46.00" in out and "0.77" in out and "beats it on" in out


@pytest.mark.parametrize("argv,message", [
    (["--compare", "densefuse"], "--compare 'densefuse' is not known"),
    (["--compare", "cddfuse", "--rank-against", "x.csv"], "leave out --detections and --rank-against"),
])
def test_compare_mistakes_are_one_line_errors(two_tno_pairs, argv, message, capsys):
    assert main(["eval", "fusion", "--pairs", str(two_tno_pairs), *argv]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1


def test_mi_is_sklearns_mutual_info_score_in_nats():
    skm = pytest.importorskip("sklearn.metrics")
    vis, ir = tno_pair("1")
    a, b, f = C.to_gray(vis), C.to_gray(ir), C.to_gray(fuse(vis, ir, "gffs"))
    want = skm.mutual_info_score(f.ravel(), a.ravel()) + skm.mutual_info_score(f.ravel(), b.ravel())
    assert C.mutual_information(a, b, f) == pytest.approx(want, rel=1e-9)


def _vifp_reference(ref, dist, sigma_nsq=2.0, eps=1e-10):
    """Sheikh & Bovik's pixel-domain VIF, written out as the published MATLAB/Python code does it
    (true 2-D convolutions, one scale after the other), independent of Vigil's separable filters."""
    num = den = 0.0
    for scale in range(1, 5):
        n = 2 ** (4 - scale + 1) + 1
        ax = np.arange(n) - (n - 1) / 2
        win = np.exp(-(ax[:, None] ** 2 + ax[None, :] ** 2) / (2 * (n / 5) ** 2))
        win /= win.sum()
        if scale > 1:
            ref = convolve2d(ref, win, mode="valid")[::2, ::2]
            dist = convolve2d(dist, win, mode="valid")[::2, ::2]
        mu1, mu2 = convolve2d(ref, win, mode="valid"), convolve2d(dist, win, mode="valid")
        s1 = np.maximum(convolve2d(ref * ref, win, mode="valid") - mu1 * mu1, 0)
        s2 = np.maximum(convolve2d(dist * dist, win, mode="valid") - mu2 * mu2, 0)
        s12 = convolve2d(ref * dist, win, mode="valid") - mu1 * mu2
        g = s12 / (s1 + eps)
        sv = s2 - g * s12
        g[s1 < eps], sv[s1 < eps] = 0, s2[s1 < eps]
        s1[s1 < eps] = 0
        g[s2 < eps], sv[s2 < eps] = 0, 0
        sv[g < 0] = s2[g < 0]
        g[g < 0] = 0
        sv[sv <= eps] = eps
        num += np.log10(1 + g * g * s1 / (sv + sigma_nsq)).sum()
        den += np.log10(1 + s1 / sigma_nsq).sum()
    return num / den


def test_vif_is_the_published_pixel_vif_summed_over_both_sources():
    vis, ir = tno_pair("3")
    a, b = C.to_gray(vis), C.to_gray(ir)
    f = C.to_gray(fuse(vis, ir, "gffs"))
    assert C.vif(a, b, f) == pytest.approx(_vifp_reference(a, f) + _vifp_reference(b, f), rel=1e-6)
    assert C.vif_pixel(a, a) == pytest.approx(1.0, abs=1e-9)
    assert C.vif_pixel(a, cv2.GaussianBlur(a, (0, 0), 2.0)) < 0.6


def test_qabf_kernel_matches_vifbs_numbers_on_its_fused_images():
    """CDDFuse's Qabf is VIFB's without the 255 rescale; run per channel as VIFB does, it must give
    VIFB's published Qabf on VIFB's own fused outputs (one image per method)."""
    ref = {(r["image"], r["method"]): float(r["value"])
           for r in csv.DictReader(need(VIFB_CSV).open()) if r["metric"] == "Qabf"}
    picks = [("carLight", "CBF"), ("kettle", "GFF"), ("walking", "LP_SR"), ("manWalking", "MSVD"),
             ("fight", "U2Fusion")]
    for image, method in picks:
        vis = cv2.imread(str(VIFB_INPUT / "VI" / f"{image}.jpg"), cv2.IMREAD_UNCHANGED)
        ir = cv2.imread(str(VIFB_INPUT / "IR" / f"{image}.jpg"), cv2.IMREAD_UNCHANGED)
        fused = cv2.imread(str(need(VIFB_FUSED / f"{image}_{method}.jpg")), cv2.IMREAD_UNCHANGED)
        got = M._per_channel(C.qabf, vis, ir, fused, gray_round=False)
        assert got == pytest.approx(ref[(image, method)], rel=0.01), (image, method)


def test_gffs_gives_back_contrast_without_losing_the_sources_information():
    """The stretch restores the more contrasted source's SD; it keeps the order of grey levels,
    so MI stays near gff's while SD and SF rise (two real TNO pairs)."""
    for name in TWO:
        vis, ir = tno_pair(name)
        plain, stretched = (C.evaluate(vis, ir, fuse(vis, ir, m)) for m in ("gff", "gffs"))
        assert stretched["SD"] > plain["SD"] * 1.1 and stretched["SF"] > plain["SF"] * 1.1
        assert stretched["SD"] == pytest.approx(max(vis.std(), ir.std()), rel=0.05)
        assert stretched["MI"] > plain["MI"] * 0.95
