"""Folders of visible/thermal image pairs.

A folder of pairs is any folder holding a visible subfolder (named vi, vis, visible or rgb,
any case) and a thermal one (ir, infrared or thermal, any case); images in the two with the
same stem form a pair, whatever their extensions (VIFB's `VI`/`IR`, U2Fusion's `vis`/`ir`,
RoadScene's `visible`/`infrared`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from vigil.errors import VigilError

VISIBLE_DIR_NAMES = ("vi", "vis", "visible", "rgb")
THERMAL_DIR_NAMES = ("ir", "infrared", "thermal")
IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp", ".pgm", ".ppm"}


class PairsError(VigilError):
    """A folder of pairs or one of its images is unusable."""


@dataclass(frozen=True)
class ImagePair:
    name: str
    visible: Path
    thermal: Path


def natural_key(stem: str) -> tuple:
    """Sort key that puts '2' before '10'."""
    return tuple(int(t) if t.isdigit() else t.lower() for t in re.split(r"(\d+)", stem))


def _pick_subdir(root: Path, names: tuple[str, ...], what: str) -> Path:
    found = [d for d in root.iterdir()
             if d.is_dir() and not d.name.startswith(".") and d.name.lower() in names]
    if not found:
        raise PairsError(f"'{root}' has no {what} subfolder; name one {' / '.join(names)} (any case)")
    if len(found) > 1:
        raise PairsError(f"'{root}' has several {what} subfolders ({', '.join(sorted(d.name for d in found))}); "
                         "keep one")
    return found[0]


def _images(folder: Path) -> dict[str, Path]:
    out: dict[str, Path] = {}
    for p in folder.iterdir():
        if p.is_file() and not p.name.startswith(".") and p.suffix.lower() in IMAGE_SUFFIXES:
            if p.stem in out:
                raise PairsError(f"'{folder}' holds two images with the stem '{p.stem}' "
                                 f"({out[p.stem].name}, {p.name}); keep one")
            out[p.stem] = p
    return out


def pair_folders(root: str | Path) -> tuple[Path, Path]:
    """(visible folder, thermal folder) of a folder of pairs."""
    root = Path(root)
    if not root.is_dir():
        raise PairsError(f"pairs folder '{root}' does not exist or is not a folder")
    return (_pick_subdir(root, VISIBLE_DIR_NAMES, "visible"),
            _pick_subdir(root, THERMAL_DIR_NAMES, "thermal"))


def discover_pairs(root: str | Path) -> tuple[list[ImagePair], list[str]]:
    """The pairs in a folder (natural order of stems) and the stems present on one side only."""
    vis_dir, ir_dir = pair_folders(root)
    vis, ir = _images(vis_dir), _images(ir_dir)
    common = sorted(vis.keys() & ir.keys(), key=natural_key)
    if not common:
        raise PairsError(f"no image in '{vis_dir}' has a same-stem partner in '{ir_dir}' "
                         f"({len(vis)} visible, {len(ir)} thermal images)")
    pairs = [ImagePair(s, vis[s], ir[s]) for s in common]
    unpaired = sorted(vis.keys() ^ ir.keys(), key=natural_key)
    return pairs, unpaired


def read_pair_image(path: str | Path) -> np.ndarray:
    """An image as uint8, gray or BGR, keeping a gray file gray (metrics depend on it);
    16-bit thermal images are stretched to 8 bits, alpha is dropped."""
    img = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    if img is None:
        raise PairsError(f"cannot read image '{path}'; is it a complete image file?")
    if img.ndim == 3 and img.shape[2] == 1:  # ultralytics' patched imread returns HxWx1 for gray
        img = img[..., 0]
    if img.ndim == 3 and img.shape[2] == 4:
        img = cv2.cvtColor(img, cv2.COLOR_BGRA2BGR)
    if img.dtype != np.uint8:
        # the cv2 stubs make dst a required array; None (allocate it) is the documented default
        img = cv2.normalize(img.astype(np.float32), None, 0, 255,  # type: ignore[call-overload]
                            cv2.NORM_MINMAX).astype(np.uint8)
    return img
