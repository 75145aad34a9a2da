"""Resolve model weight files: explicit path, then $VIGIL_MODELS, then ~/.cache/vigil.

Nothing is ever downloaded: a missing file is an error naming every place looked.
"""

from __future__ import annotations

import os
from pathlib import Path

from vigil.errors import WeightsNotFound

CACHE_DIR = Path("~/.cache/vigil")


def candidate_paths(name: str | os.PathLike, base_dir: Path | None = None) -> list[Path]:
    try:
        p = Path(name).expanduser()
    except RuntimeError:  # "~user" that does not exist
        p = Path(name)
    cands: list[Path] = []
    if p.is_absolute():
        cands.append(p)
    else:
        if base_dir is not None:
            cands.append(Path(base_dir) / p)
        cands.append(Path.cwd() / p)
    env = os.environ.get("VIGIL_MODELS")
    if env:
        for d in env.split(os.pathsep):
            if d:
                cands.append(Path(d).expanduser() / p.name)
    cands.append(CACHE_DIR.expanduser() / p.name)
    seen: set[Path] = set()
    return [c for c in cands if not (c in seen or seen.add(c))]


def resolve_weights(name: str | os.PathLike, base_dir: Path | None = None, what: str = "weights") -> Path:
    cands = candidate_paths(name, base_dir)
    for c in cands:
        try:
            if c.is_file() or (c.is_dir() and c.name.endswith("_model")):  # ultralytics exports some formats
                return c.resolve()                                           # as a folder: yolov8n_openvino_model/
            if c.exists():  # any other folder: loading it would fail with a traceback
                raise WeightsNotFound(f"{what} path '{c}' is a directory, not a weights file; give the file itself "
                                      "(or an exported *_model folder)")
        except (OSError, ValueError):  # a name too long for the file system, a NUL byte
            continue
    looked = ", ".join(str(c) for c in cands)
    raise WeightsNotFound(
        f"{what} file '{name}' not found; looked in: {looked}. "
        f"Give a path that exists, or put the file in $VIGIL_MODELS or {CACHE_DIR}"
    )
