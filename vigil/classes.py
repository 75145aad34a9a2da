"""The class vocabulary of one pipeline: which class names its detections carry, in id order, and
the group of each.

`Detections.class_id` indexes `ClassVocab.names`. The default is Vigil's six classes with their
usual ids; a pipeline whose `detector.classes` maps a model's labels to new names (a forklift
model: `{forklift: forklift, person: pedestrian}`) appends those names after the six, so the
six keep their ids and stored series (keyed by class name) never change meaning.

Groups serve two purposes: the stitcher only joins an id switch within one group (a car may be
voted truck, never pedestrian), and a line/zone filter may name a group for all its members.
A stock class keeps its group (vehicle for bicycle..truck); a new class is its own group unless
`detector.groups` puts it in one (`{forklift: vehicle}`).

Class and group names are case-insensitive: whatever a user writes (`Truck`, `--class CAR`,
`?class=Car`) is folded by `canonical` where it enters (config validation, query parsing), so
every name inside Vigil, and in the store, is lower case.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Iterable, Mapping

import numpy as np

from vigil.types import CLASS_NAMES, class_group

# Filter names for several stock classes at once; a filter group from `detector.groups` joins them.
STOCK_FILTER_GROUPS: dict[str, tuple[str, ...]] = {
    "motor_vehicle": ("car", "motorcycle", "bus", "truck"),
    "heavy": ("bus", "truck"),
}
# A class name becomes a store key, a CLI/API filter value and an MQTT topic level.
_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_-]{0,39}")


def canonical(name: object) -> str:
    """The one spelling of a class or group name a user wrote: `Car`, ` CAR ` and `car` are car."""
    return str(name).strip().lower()


def bad_name(name: str) -> str | None:
    """Why `name` cannot be a class or group name (None when it can)."""
    if not _NAME.fullmatch(name):
        return (f"{name!r} is not a usable class name; use a letter then letters, digits, '_' or '-' "
                "(at most 40 characters), e.g. forklift or pallet_truck")
    return None


@dataclass(frozen=True)
class ClassVocab:
    names: tuple[str, ...]
    groups: tuple[str, ...]  # the group of each class, aligned with names
    _ids: dict[str, int] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_ids", {n: i for i, n in enumerate(self.names)})

    @classmethod
    def build(cls, new: Iterable[str] = (), groups: Mapping[str, str] | None = None) -> ClassVocab:
        """The six stock classes, then `new` names (first appearance order); `groups` overrides a
        class's group (default: vehicle for stock vehicles, the class itself otherwise)."""
        names = CLASS_NAMES + tuple(n for n in dict.fromkeys(new) if n not in CLASS_NAMES)
        groups = groups or {}
        return cls(names, tuple(groups.get(n, class_group(n)) for n in names))

    def __len__(self) -> int:
        return len(self.names)

    def id(self, name: str) -> int:
        return self._ids[name]

    def __contains__(self, name: object) -> bool:
        return name in self._ids

    def name(self, class_id: int) -> str:
        """The name of a class id; an id outside the vocabulary shows as its number."""
        return self.names[class_id] if 0 <= class_id < len(self.names) else str(class_id)

    def ids(self, names: Iterable[str]) -> np.ndarray:
        return np.array([self._ids[n] for n in names], np.int64)

    @property
    def filter_groups(self) -> dict[str, tuple[str, ...]]:
        """Group name -> member classes, for line/zone filters: every group that is not itself a
        class name (vehicle, and groups from detector.groups), plus motor_vehicle and heavy."""
        out: dict[str, list[str]] = {}
        for n, g in zip(self.names, self.groups):
            if g not in self._ids:
                out.setdefault(g, []).append(n)
        return {**{g: tuple(m) for g, m in out.items()}, **STOCK_FILTER_GROUPS}

    def expand(self, names: Iterable[str]) -> list[str]:
        """Class names with groups expanded, in vocabulary order; ValueError naming the first
        unknown name and the known ones."""
        groups = self.filter_groups
        out: set[str] = set()
        for n in names:
            if n in groups:
                out.update(groups[n])
            elif n in self._ids:
                out.add(n)
            else:
                raise ValueError(f"unknown class {n!r}; choose from {', '.join(self.names)} "
                                 f"or a group: {', '.join(groups)}")
        return [c for c in self.names if c in out]

    def group_codes(self) -> np.ndarray:
        """Per class id, a number equal for classes of the same group."""
        order = list(dict.fromkeys(self.groups))
        return np.array([order.index(g) for g in self.groups], np.int64)


DEFAULT_VOCAB = ClassVocab.build()
