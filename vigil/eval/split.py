"""The development / held-back split every Vigil evaluation uses: methods are tuned on one
half of a data set and reported on the other, which they never saw."""

from __future__ import annotations

import hashlib
from typing import Iterable


def held_back(keys: Iterable[str]) -> set[str]:
    """Every other key in the order of a hash of its name: a stable, balanced half that does not
    follow the data set's own order (which groups similar scenes)."""
    ranked = sorted(set(keys), key=lambda k: hashlib.sha1(k.encode()).hexdigest())
    return set(ranked[1::2])
