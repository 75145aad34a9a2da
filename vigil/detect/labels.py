"""A detector's class labels read from its weights file without building the model or running it,
for `vigil check`: ultralytics writes them into every export's metadata (.pt checkpoint, ONNX
metadata, OpenVINO metadata.yaml, TFLite zip, TensorRT header), which AutoBackend reads the same way.
"""

from __future__ import annotations

import ast
import json
import zipfile
from pathlib import Path

import yaml

from vigil.errors import VigilError


def model_labels(weights: Path) -> dict[int, str] | None:
    """Class index -> label of the weights; None for a format whose labels are not read here
    (TorchScript, or an export without ultralytics metadata)."""
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
