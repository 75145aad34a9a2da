"""A detector's class labels: which class of the pipeline each model label becomes (`class_lookup`),
and the labels read from a weights file without building the model or running it, for
`vigil check` (ultralytics writes them into every export's metadata: .pt checkpoint, ONNX
metadata, OpenVINO metadata.yaml, TFLite zip, TorchScript's extra config.txt, TensorRT header;
AutoBackend reads them the same way).
Kept free of torch, so checking a config stays cheap.
"""

from __future__ import annotations

import ast
import json
import zipfile
from pathlib import Path

import numpy as np
import yaml

from vigil.classes import DEFAULT_VOCAB, ClassVocab
from vigil.errors import ConfigError, VigilError
from vigil.types import COCO_TO_VIGIL

# Model class names that mean a Vigil class (COCO's names plus Vigil's own).
NAME_TO_VIGIL = {"person": "pedestrian", "pedestrian": "pedestrian", "people": "pedestrian",
                 "bicycle": "bicycle", "car": "car", "motorcycle": "motorcycle", "motorbike": "motorcycle",
                 "bus": "bus", "truck": "truck"}


def class_lookup(names: dict[int, str], label_map: dict[str, str] | None = None,
                 vocab: ClassVocab = DEFAULT_VOCAB) -> np.ndarray:
    """Array mapping model class index -> class id in `vocab` (-1 = not reported).

    With `label_map` (detector.classes given as {label or index: class name}) by that mapping
    only; else by name when the model carries real names, by COCO index when it carries none."""
    n = max(names) + 1 if names else 80
    lut = np.full(max(n, 80), -1, dtype=np.int32)
    by_label = _by_label(names)
    if label_map is not None:
        for label, mapped in label_map.items():
            i = by_label(label)
            if i is None and label.isdigit() and int(label) in names:
                i = int(label)
            if i is None:
                shown = ", ".join(list(map(str, names.values()))[:20])
                raise ConfigError(f"detector.classes maps label {label!r}, which the model does not have; its "
                                  f"labels: {shown}. Use one of them or its class index")
            lut[i] = vocab.id(mapped)
        return lut
    # Placeholder names ('class0', or '0' from a model built from a YAML) carry no meaning.
    named = any(not (str(v).startswith("class") or str(v).isdigit()) for v in names.values())
    if named:
        for i, name in names.items():
            vigil = NAME_TO_VIGIL.get(str(name).lower())
            if vigil is not None:
                by_label(str(name))  # refuses a label another differs from only by case
                lut[i] = vocab.id(vigil)
    else:
        for coco, class_id in COCO_TO_VIGIL.items():
            lut[coco] = class_id  # the stock classes keep their ids in every vocabulary
    return lut


def _by_label(names: dict[int, str]):
    """Model label (any case) -> class index, or None; a label that another of the model's labels
    equals but for case is a ConfigError naming both, since class names ignore case."""
    index: dict[str, int] = {}
    twins: dict[str, tuple[int, int]] = {}
    for i, v in names.items():
        key = str(v).lower()
        if key in index and key not in twins:
            twins[key] = (index[key], i)
        index.setdefault(key, i)

    def lookup(label: str) -> int | None:
        key = label.lower()
        if key in twins:
            i, j = twins[key]
            raise ConfigError(f"the detector's labels {names[i]!r} (class {i}) and {names[j]!r} (class {j}) differ "
                              "only by case, and Vigil's class names ignore case; map the model's classes by index "
                              f"instead, e.g. detector.classes: {{{i}: <class>, {j}: <other class>}}")
        return index.get(key)

    return lookup


def model_labels(weights: Path) -> dict[int, str] | None:
    """Class index -> label of the weights; None for a format whose labels are not read here
    (an export without ultralytics metadata)."""
    weights = Path(weights)
    try:
        names = _names(weights)
    except Exception as exc:  # five formats' parsers (protobuf, pickle, zip, YAML, JSON) raise many types
        raise VigilError(f"cannot read the class labels of detector weights '{weights}': "
                         f"{' '.join(str(exc).split())[:160]}") from None
    if names is None:
        return None
    if isinstance(names, str):
        names = ast.literal_eval(names)
    if isinstance(names, list):
        names = dict(enumerate(names))
    return {int(k): str(v) for k, v in names.items()}


def _names(w: Path):
    suffix = w.suffix.lower()
    if suffix == ".pt":
        import torch

        ckpt = torch.load(w, map_location="cpu", weights_only=False)  # as ultralytics loads it
        model = (ckpt.get("ema") or ckpt.get("model")) if isinstance(ckpt, dict) else ckpt
        return getattr(model, "names", None)
    if suffix == ".onnx":
        import onnx

        meta = {p.key: p.value for p in onnx.load(str(w), load_external_data=False).metadata_props}
        return meta.get("names")
    if w.is_dir() or suffix == ".xml":  # OpenVINO: metadata.yaml beside the IR
        beside = (w if w.is_dir() else w.parent) / "metadata.yaml"
        return (yaml.safe_load(beside.read_text(encoding="utf-8")) or {}).get("names") if beside.is_file() else None
    if suffix == ".tflite":
        if not zipfile.is_zipfile(w):
            return None
        with zipfile.ZipFile(w) as z:
            return _mapping(z.read(z.namelist()[0]).decode("utf-8")).get("names")
    if suffix == ".torchscript":  # a zip: torch.jit.save's extra files sit in <archive>/extra/
        with zipfile.ZipFile(w) as z:
            config = [n for n in z.namelist() if n.endswith("/extra/config.txt")]
            return _mapping(z.read(config[0]).decode("utf-8")).get("names") if config else None
    if suffix == ".engine":
        with open(w, "rb") as f:  # ultralytics' TensorRT header: 4-byte length, then JSON metadata
            size = int.from_bytes(f.read(4), "little")
            if not 0 < size < 1 << 20:
                return None
            return json.loads(f.read(size).decode("utf-8")).get("names")
    return None


def _mapping(text: str) -> dict:
    """Metadata written as JSON (newer ultralytics) or as a Python dict literal (older)."""
    try:
        return json.loads(text)
    except ValueError:
        return ast.literal_eval(text)
