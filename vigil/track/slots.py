"""Per-track-id state as a struct of arrays with reusable slots (the counter's rules, the stitcher's identities).

Every live track owns one row (slot) in each array; a forgotten track's slot goes back to the
free list, so memory is bounded by the most tracks alive (or recently lost) at once, not by how
many tracks a 24/7 stream has ever seen. Rows are selected with integer slot arrays, which keeps
the per-frame work vectorised over tracks.
"""

from __future__ import annotations

import numpy as np


class SlotTable:
    """Struct-of-arrays state; `spec` maps a field name to (row shape, dtype, fill value)."""

    def __init__(self, spec: dict[str, tuple[tuple[int, ...], type, object]], capacity: int = 64):
        self._spec = dict(spec)
        self.capacity = 0
        self.arrays: dict[str, np.ndarray] = {}
        self.slot_of: dict[int, int] = {}   # tracker id -> slot
        self._free: list[int] = []
        self._grow(capacity)

    def __getattr__(self, name: str) -> np.ndarray:
        try:
            return self.__dict__["arrays"][name]
        except KeyError:
            raise AttributeError(name) from None

    def __len__(self) -> int:
        return len(self.slot_of)

    def _grow(self, capacity: int) -> None:
        old = self.capacity
        for name, (tail, dtype, fill) in self._spec.items():
            new: np.ndarray = np.full((capacity, *tail), fill, dtype=dtype)
            if old:
                new[:old] = self.arrays[name]
            self.arrays[name] = new
        # Pop from the end: lowest slots first, so live rows stay dense near the start.
        self._free.extend(range(capacity - 1, old - 1, -1))
        self.capacity = capacity

    def add_field(self, name: str, tail: tuple[int, ...], dtype: type, fill: object) -> None:
        """Add (or replace) a field, e.g. embeddings once their dimension is known."""
        self._spec[name] = (tail, dtype, fill)
        self.arrays[name] = np.full((self.capacity, *tail), fill, dtype=dtype)

    def has_field(self, name: str) -> bool:
        return name in self.arrays

    def allocate(self, track_id: int) -> int:
        if not self._free:
            self._grow(self.capacity * 2)
        slot = self._free.pop()
        for name, (_, _, fill) in self._spec.items():
            self.arrays[name][slot] = fill
        self.slot_of[track_id] = slot
        return slot

    def release(self, slots: np.ndarray | list[int], track_ids: list[int]) -> None:
        for tid in track_ids:
            del self.slot_of[tid]
        self._free.extend(int(s) for s in slots)

    def copy_rows(self, dst: int, src: int, names: list[str]) -> None:
        for name in names:
            self.arrays[name][dst] = self.arrays[name][src]
