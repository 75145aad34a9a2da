"""Done-when: real msmt17 weights rank the query's identity first on torchreid's ranking figure.

How the crops are cut is documented in tests/reid/strip.py (tiles by torchreid's
layout constants, minus the 5 px coloured border; labels from the border colour).
"""

import numpy as np
import pytest
import torch

from tests.reid.strip import average_precision, load_strip
from tests.support.data import MODELS, need
from vigil.config.reid import ReidConfig
from vigil.reid import Embedder, build_osnet


@pytest.fixture(scope="module")
def strip():
    return load_strip()


def query_ap(embedder: Embedder, strip) -> float:
    query, gallery, labels = strip
    f = embedder.embed_crops([query, *gallery])
    return average_precision(f[1:] @ f[0], labels)


def multi_query_map(embedder: Embedder, strip) -> float:
    """Each of the 7 crops of the identity in turn as query against the other 15: steadier than one AP."""
    query, gallery, labels = strip
    f = embedder.embed_crops([query, *gallery])
    ident = np.concatenate([[True], labels])
    sims = f @ f.T
    aps = [average_precision(np.delete(sims[i], i), np.delete(ident, i)) for i in np.flatnonzero(ident)]
    return float(np.mean(aps))


@pytest.fixture(scope="module")
def msmt17():
    return Embedder.from_config(ReidConfig(weights=str(need(MODELS / "osnet_x0_25_msmt17.pth")), device="cpu"))


def random_embedder(seed: int) -> Embedder:
    torch.manual_seed(seed)
    return Embedder(build_osnet("osnet_x0_25"), device="cpu")


def test_trained_weights_rank_the_query_identity_first(msmt17, strip):
    assert query_ap(msmt17, strip) >= 0.75


def test_random_weights_rank_far_worse(msmt17, strip):
    trained = query_ap(msmt17, strip)
    randoms = [query_ap(random_embedder(seed), strip) for seed in range(3)]
    assert max(randoms) < 0.5, randoms  # 6 of 15 matches: a shuffled list averages about 0.50
    assert trained - max(randoms) > 0.3, (trained, randoms)


def test_every_crop_of_the_identity_finds_the_others(msmt17, strip):
    trained = multi_query_map(msmt17, strip)
    random = multi_query_map(random_embedder(0), strip)
    assert trained >= 0.85
    assert trained - random > 0.15, (trained, random)
