"""Load torchreid-format OSNet checkpoints strictly: every key must fit, or a VigilError says which do not."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import torch

from vigil.errors import VigilError
from vigil.reid.osnet import ARCHITECTURES, WIDTHS, OSNet, build_osnet


class ReidWeightsError(VigilError):
    """A re-ID checkpoint that cannot be read, or does not fit the configured architecture."""


def read_state_dict(path: Path) -> dict[str, torch.Tensor]:
    """Tensors of a torchreid checkpoint: a bare state dict or {'state_dict': ...}, `module.` stripped."""
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises many types for a bad file; all mean the same to the user
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ReidWeightsError(f"re-ID weights '{path}' could not be read as a torch checkpoint ({reason}); "
                               "give a torchreid .pth state dict") from None
    if isinstance(obj, Mapping) and isinstance(obj.get("state_dict"), Mapping):
        obj = obj["state_dict"]
    if not isinstance(obj, Mapping) or not obj or not all(isinstance(v, torch.Tensor) for v in obj.values()):
        raise ReidWeightsError(f"re-ID weights '{path}' hold no state dict of tensors; "
                               "give a torchreid .pth checkpoint (a state dict or {'state_dict': ...})")
    return {(k[len("module."):] if k.startswith("module.") else k): v for k, v in obj.items()}


def guess_architecture(state: Mapping[str, torch.Tensor]) -> str | None:
    """The torchreid OSNet name a state dict was saved from, or None when it is not an OSNet."""
    w = state.get("conv1.conv.weight")
    if w is None or w.ndim != 4:
        return None
    width = next((name for name, ch in WIDTHS.items() if ch[0] == w.shape[0]), None)
    if width is None:
        return None
    if any(k.startswith("pool2.") for k in state):
        name = f"osnet_ain_{width}"
    elif "conv2.0.IN.weight" in state:
        name = f"osnet_ibn_{width}"
    else:
        name = f"osnet_{width}"
    return name if name in ARCHITECTURES else None


def _listing(keys: list[str], limit: int = 6) -> str:
    shown = ", ".join(keys[:limit])
    return shown + (f", ... ({len(keys) - limit} more)" if len(keys) > limit else "")


def load_into(model: OSNet, state: Mapping[str, torch.Tensor], source: str, model_name: str) -> OSNet:
    """Load `state` into `model` with strict=True.

    A classifier head whose class count differs from the model's (or that the model lacks)
    is dropped: it only matters for training on the original identities. Anything else
    that does not fit raises ReidWeightsError listing missing, unexpected and mis-shaped keys.
    """
    own = model.state_dict()
    state = dict(state)
    if "classifier.weight" in state:
        mine = own.get("classifier.weight")
        if mine is None or mine.shape != state["classifier.weight"].shape:
            state = {k: v for k, v in state.items() if not k.startswith("classifier.")}
    missing = [k for k in own if k not in state]
    unexpected = [k for k in state if k not in own]
    misshaped = [f"{k} {tuple(state[k].shape)} vs {tuple(v.shape)}" for k, v in own.items()
                 if k in state and state[k].shape != v.shape]
    if missing or unexpected or misshaped:
        parts = []
        if missing:
            parts.append(f"{len(missing)} missing keys ({_listing(missing)})")
        if unexpected:
            parts.append(f"{len(unexpected)} unexpected keys ({_listing(unexpected)})")
        if misshaped:
            parts.append(f"{len(misshaped)} keys of the wrong shape ({_listing(misshaped, 3)})")
        guess = guess_architecture(state)
        fix = (f"the file looks like {guess}: set reid.model to {guess}" if guess and guess != model_name
               else f"give a torchreid checkpoint of {model_name}")
        raise ReidWeightsError(f"re-ID weights '{source}' do not fit {model_name}: {'; '.join(parts)}; {fix}")
    model.load_state_dict(state, strict=True)
    return model


def load_osnet(path: Path, model_name: str = "auto") -> OSNet:
    """An OSNet (no classifier) with the weights of a torchreid checkpoint, in eval mode.

    model_name 'auto' takes the architecture from the checkpoint's shapes.
    """
    state = read_state_dict(path)
    if model_name == "auto":
        guessed = guess_architecture(state)
        if guessed is None:
            raise ReidWeightsError(f"re-ID weights '{path}' are not a torchreid OSNet checkpoint "
                                   f"(no conv1.conv.weight of a known width); set reid.model explicitly "
                                   f"to one of {', '.join(ARCHITECTURES)}")
        model_name = guessed
    model = build_osnet(model_name)
    return load_into(model, state, str(path), model_name).eval()
