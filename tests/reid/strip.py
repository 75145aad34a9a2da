"""Cut torchreid's ranking figure (../shared/data/images/reid_ranking_results.jpg) into crops by layout.

The figure (256 x 2288 px) was drawn by torchreid's `visualize_ranked_results`
(torchreid/reid/utils/reidtools.py: width=128, height=256, GRID_SPACING=10,
QUERY_EXTRA_SPACING=90, BW=5): each image is resized to 128x256, given a 5 px
border (black for the query, green for a correct match, red for a wrong one),
and resized back to 128x256, so the border is about 4.6 px wide and 4.8 px
tall. The query tile sits at x = 0; gallery rank r (1..15) at
x = r*128 + r*10 + 90, i.e. 228 + 138*(r-1). 16*128 + 15*10 + 90 = 2288 checks
against the file's width.

Crops: each tile minus BORDER = 5 px on every side (the border width torchreid
used), so no border colour reaches the network. Labels: read from the border
colour of each gallery tile (green = same identity as the query); the figure
has 6 green of 15 (ranks 1, 2, 3, 7, 9, 11), which `load_strip` checks.
"""

from __future__ import annotations

import cv2
import numpy as np

from tests.support.data import SHARED, need

STRIP = SHARED / "images" / "reid_ranking_results.jpg"
TILE_W, TILE_H, GRID_SPACING, QUERY_EXTRA_SPACING, BORDER = 128, 256, 10, 90, 5
GALLERY = 15


def tile_x(rank: int) -> int:
    """Left edge of a tile: rank 0 is the query, 1..15 the gallery in ranked order."""
    return 0 if rank == 0 else rank * (TILE_W + GRID_SPACING) + QUERY_EXTRA_SPACING


def load_strip() -> tuple[np.ndarray, list[np.ndarray], np.ndarray]:
    """(query crop, 15 gallery crops, boolean same-identity labels), all BGR."""
    image = cv2.imread(str(need(STRIP)))
    assert image.shape == (TILE_H, tile_x(GALLERY) + TILE_W, 3), f"unexpected layout of {STRIP}: {image.shape}"
    b = BORDER
    crops = [image[b:TILE_H - b, tile_x(r) + b:tile_x(r) + TILE_W - b] for r in range(GALLERY + 1)]
    # Border colour: mean of the outer 3 px columns of each tile (BGR); green means a match.
    labels = []
    for r in range(1, GALLERY + 1):
        x = tile_x(r)
        edge = np.concatenate([image[:, x:x + 3], image[:, x + TILE_W - 3:x + TILE_W]], axis=1).reshape(-1, 3)
        blue, green, red = edge.mean(axis=0)
        assert max(green, red) > 200 and abs(green - red) > 100, f"tile {r}: border is neither green nor red"
        labels.append(green > red)
    labels = np.array(labels)
    assert labels.sum() == 6, f"expected 6 same-identity gallery crops, read {labels.sum()}"
    return crops[0], crops[1:], labels


def average_precision(scores: np.ndarray, labels: np.ndarray) -> float:
    """AP of one ranked list: mean precision at the rank of each true match (ties broken by order)."""
    order = np.argsort(-scores, kind="stable")
    hits = labels[order].astype(bool)
    precision = np.cumsum(hits) / np.arange(1, len(hits) + 1)
    return float(precision[hits].mean())
