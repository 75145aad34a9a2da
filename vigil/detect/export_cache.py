"""Exports of PyTorch detector weights, made once and kept: an engine that needs another format
(an OpenVINO IR, a dynamic-shape ONNX, a TensorRT plan) gets it from here instead of exporting
on every run. Nothing is downloaded: ultralytics' exporter works from the .pt alone.

Kept in $VIGIL_ENGINE_CACHE (default ~/.cache/vigil/engines), never next to the .pt: model
folders are often read-only. An entry is named by the .pt's content hash and the export
options, so changed weights or options never pick up a stale export."""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
from pathlib import Path
from typing import Callable

from vigil.detect.export import export_weights
from vigil.errors import ConfigError

# What each engine is handed, per export format: the folder or the file ultralytics writes.
SUFFIX = {"openvino": "_openvino_model", "onnx": ".onnx", "engine": ".engine"}


def cache_dir() -> Path:
    return Path(os.environ.get("VIGIL_ENGINE_CACHE") or "~/.cache/vigil/engines").expanduser()


def file_digest(path: Path, n: int = 16) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()[:n]


def _versions(fmt: str) -> str:
    """Exporter and runtime versions: a newer one may write an IR the older runtime cannot read."""
    import ultralytics

    v = f"u{ultralytics.__version__}"
    if fmt == "openvino":
        import openvino

        v += f"-ov{openvino.__version__.split('-')[0]}"
    return v


def cached_export(weights: Path, fmt: str, imgsz: int = 640, dynamic: bool = True, half: bool = False,
                  batch: int = 1, device: str | None = None, log: Callable[[str], None] | None = None) -> Path:
    """The `fmt` export of `weights` (a .pt), from the cache, made first if absent."""
    if weights.suffix != ".pt":
        raise ConfigError(f"'{weights.name}' is not PyTorch .pt weights; only a .pt can be exported for "
                          "another engine (give the .pt, or an engine that runs this file)")
    opts = f"{fmt}-{imgsz}-{'dyn' if dynamic else 'fixed'}-b{batch}{'-half' if half else ''}-{_versions(fmt)}"
    entry = cache_dir() / f"{weights.stem}-{file_digest(weights)}-{opts}"
    target = entry / f"{weights.stem}{SUFFIX[fmt]}"
    if target.exists():
        return target
    if log is not None:
        log(f"exporting {weights.name} for {fmt} once (cached in {entry.parent}) ...")

    def make(tmp: Path) -> Path:
        link = tmp / weights.name
        link.symlink_to(weights.resolve())  # ultralytics writes the export beside the file it loads
        return export_weights(link, fmt, imgsz=imgsz, half=half, dynamic=dynamic, batch=batch, device=device)

    return build_entry(entry, target, make)


def build_entry(entry: Path, target: Path, make: Callable[[Path], Path]) -> Path:
    """`target` inside cache folder `entry`, made by `make(scratch_dir) -> file or folder` if absent.

    Made inside a private folder, then renamed: a second process exporting at the same time,
    or an export killed halfway, never leaves a half-written model where the cache looks."""
    if target.exists():
        return target
    entry.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=".export-", dir=entry.parent) as tmp:
        out = make(Path(tmp))
        work = Path(tmp) / "entry"
        work.mkdir()
        shutil.move(str(out), work / out.name)
        try:
            os.rename(work, entry)
        except OSError:  # another process finished first: use its export
            if not target.exists():
                raise
    return target
