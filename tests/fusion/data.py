"""Shared RGB-thermal test data (read-only, under ../shared/data/fusion)."""

from __future__ import annotations

from tests.support.data import SHARED, need

FUSION = SHARED / "fusion"
VIFB = FUSION / "VIFB"
VIFB_CSV = VIFB / "metrics_long.csv"
VIFB_INPUT = VIFB / "input"
VIFB_FUSED = VIFB / "fused"
TNO = FUSION / "U2Fusion_test_imgs" / "TNO"
ROADSCENE = FUSION / "U2Fusion_test_imgs" / "RoadScene"
ROADSCENE_REG = SHARED / "registration" / "RoadScene"

__all__ = ["FUSION", "VIFB", "VIFB_CSV", "VIFB_INPUT", "VIFB_FUSED", "TNO", "ROADSCENE", "ROADSCENE_REG", "need"]
