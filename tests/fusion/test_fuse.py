"""Fusion methods: one interface, the thermal target survives, speed, and VIFB's ranking."""

import time

import cv2
import numpy as np
import pytest

from tests.fusion.data import VIFB_CSV, VIFB_INPUT, need
from vigil.eval.fusion_quality import RANK_METRICS, load_vifb_means, rank_methods, score_pairs
from vigil.fusion.fuse import DEFAULT_METHOD, FusionError, fuse, method_names
from vigil.fusion.pairs import discover_pairs


@pytest.fixture(scope="module")
def pair():
    vis = cv2.imread(str(need(VIFB_INPUT / "VI" / "manCall.jpg")))
    ir = cv2.imread(str(need(VIFB_INPUT / "IR" / "manCall.jpg")), cv2.IMREAD_GRAYSCALE)
    return vis, ir


@pytest.mark.parametrize("method", method_names())
def test_every_method_keeps_the_visible_geometry_and_channels(pair, method):
    vis, ir = pair
    out = fuse(vis, ir, method)
    assert out.dtype == np.uint8 and out.shape == vis.shape
    gray_out = fuse(cv2.cvtColor(vis, cv2.COLOR_BGR2GRAY), ir, method)
    assert gray_out.shape == ir.shape
    # a 3-channel thermal image (as VIFB stores some) is accepted too
    assert fuse(vis, cv2.cvtColor(ir, cv2.COLOR_GRAY2BGR), method).shape == vis.shape


@pytest.mark.parametrize("method", ["average", "laplacian", "gff", "gffs", "hybrid_msd"])
def test_fusing_an_image_with_itself_gives_it_back(pair, method):
    gray = cv2.cvtColor(pair[0], cv2.COLOR_BGR2GRAY)
    out = fuse(gray, gray, method)
    assert np.abs(out.astype(int) - gray).mean() < 1.0


@pytest.mark.parametrize("method", method_names())
def test_a_hot_target_seen_only_in_thermal_shows_in_the_fused_image(method):
    """A textured dark visible scene and a thermal image with one warm person-sized blob."""
    rng = np.random.default_rng(1)
    vis = cv2.GaussianBlur(rng.integers(20, 60, (240, 320, 3)).astype(np.uint8), (5, 5), 0)
    ir = np.full((240, 320), 40, np.uint8)
    cv2.rectangle(ir, (150, 80), (175, 160), 230, -1)
    out = cv2.cvtColor(fuse(vis, ir, method), cv2.COLOR_BGR2GRAY).astype(float)
    inside, around = out[90:150, 155:170].mean(), out[90:150, 100:140].mean()
    assert inside - around > 40, (method, inside, around)


def test_mismatched_sizes_and_unknown_methods_are_user_errors(pair):
    vis, ir = pair
    with pytest.raises(FusionError, match="register"):
        fuse(vis, ir[:-10], "default")
    with pytest.raises(FusionError, match="unknown fusion method 'nope'"):
        fuse(vis, ir, "nope")


def test_default_method_fuses_a_640x512_pair_in_under_50_ms(pair):
    """CPU time of one thread (the machine is shared while tests run, so wall time is noisy)."""
    vis = cv2.resize(pair[0], (640, 512))
    ir = cv2.resize(pair[1], (640, 512))
    threads = cv2.getNumThreads()
    cv2.setNumThreads(1)
    try:
        fuse(vis, ir)
        cpu = []
        for _ in range(7):
            t0 = time.process_time()
            fuse(vis, ir)
            cpu.append(time.process_time() - t0)
    finally:
        cv2.setNumThreads(threads)
    assert np.median(cpu) < 0.050, f"median CPU {np.median(cpu) * 1000:.1f} ms"


def test_default_method_ranks_in_vifb_top_three():
    """Score the default method on VIFB's 21 pairs as VIFB scored the 25 published methods
    (JPEG quality 75, colour per channel) and rank it by mean rank over EN, SD, SF, AG, MI,
    SSIM and Qabf among them."""
    pairs, _ = discover_pairs(need(VIFB_INPUT))
    assert len(pairs) == 21
    table = load_vifb_means(need(VIFB_CSV))
    assert len(table) == 25 and "Hybrid_MSD" in table
    ours = score_pairs(pairs, DEFAULT_METHOD, list(RANK_METRICS), jpeg_quality=75).mean
    table["vigil"] = ours
    ranking = rank_methods(table)
    place = [m for m, _, _ in ranking].index("vigil") + 1
    summary = ", ".join(f"{m} {r:.2f}" for m, r, _ in ranking[:6])
    assert place <= 3, f"default method is #{place}: {summary}"
