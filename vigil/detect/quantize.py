"""int8 OpenVINO detector through NNCF post-training quantization, calibrated on frames of the
site's own video (`vigil export openvino MODEL.pt --int8 --calibrate VIDEO`): no dataset is
downloaded, and the activation ranges are those of the scenes the camera really sees.

The detection head (its Sigmoid and DFL box decoding) stays in float, as ultralytics does
for its own int8 OpenVINO export: quantizing the box decoding moves boxes by whole pixels.
The result is a static-quantized model, so unlike onnxruntime's dynamic int8 it batches
without changing a frame's results."""

from __future__ import annotations

import hashlib
import shutil
from itertools import islice
from pathlib import Path
from typing import Callable

import numpy as np

from vigil.detect.export_cache import build_entry, cache_dir, cached_export
from vigil.detect.letterbox import PlanarLetterbox, input_shape
from vigil.detect.openvino_engine import model_file
from vigil.errors import SourceError


def calibration_frames(video: Path, n: int, imgsz: int, stride: int = 32) -> list[np.ndarray]:
    """n frames spread over `video`, letterboxed as the detector will see them (1, 3, H, W).
    Decoding stops after the n-th kept frame: a long recording is never held in memory."""
    import av

    try:
        with av.open(str(video)) as c:
            st = c.streams.video[0]
            total = st.frames or int(float(st.duration * st.time_base) * float(st.average_rate or 0)
                                     if st.duration and st.time_base else 0)
            step = max(1, total // n) if total else 1
            kept = (f for i, f in enumerate(c.decode(video=0)) if i % step == 0)
            frames = [f.to_ndarray(format="bgr24") for f in islice(kept, n)]
    except (av.error.FFmpegError, IndexError) as exc:
        raise SourceError(f"calibration video '{video}' cannot be decoded ({exc}); give a video file") from None
    if not frames:
        raise SourceError(f"calibration video '{video}' has no frames; give a video of the site")
    prep = PlanarLetterbox(np.float32)
    H, W = input_shape([frames[0].shape[:2]], imgsz, stride, fixed=False)
    return [prep(f, H, W)[0].copy() for f in frames]


def head_ignored_scope(model):
    """Names of the detection head's Sigmoid and DFL ops (kept in float)."""
    import nncf

    ops = model.get_ordered_ops()
    sigmoids = [op.get_friendly_name() for op in ops if op.get_type_name() == "Sigmoid"]
    head = sigmoids[-1].split("/", 1)[0] if sigmoids else None
    names = [op.get_friendly_name() for op in ops if op.get_type_name() == "Sigmoid"
             or (head and op.get_friendly_name().startswith((f"{head}/", f"{head}.dfl")))]
    return nncf.IgnoredScope(names=names, validate=False)


def quantize_openvino(weights: Path, video: Path, frames: int = 300, imgsz: int = 640,
                      log: Callable[[str], None] | None = None) -> Path:
    """An int8 IR folder for `weights` (.pt), calibrated on `video`; cached like the float export."""
    import nncf
    import openvino as ov

    float_dir = cached_export(weights, "openvino", imgsz=imgsz, log=log)
    entry = cache_dir() / f"{float_dir.parent.name}-int8-{video_key(video)}-{frames}"
    target = entry / f"{weights.stem}_int8_openvino_model"
    if (target / "metadata.yaml").exists():
        return target

    def make(tmp: Path) -> Path:
        data = calibration_frames(video, frames, imgsz)
        if log is not None:
            log(f"quantizing {weights.name} to int8 on {len(data)} frames of {video.name} ...")
        model = ov.Core().read_model(str(model_file(float_dir)))
        quantized = nncf.quantize(model, nncf.Dataset(data), preset=nncf.QuantizationPreset.MIXED,
                                  subset_size=len(data), ignored_scope=head_ignored_scope(model))
        out = tmp / target.name
        out.mkdir()
        ov.save_model(quantized, str(out / f"{weights.stem}.xml"), compress_to_fp16=False)
        shutil.copy(float_dir / "metadata.yaml", out / "metadata.yaml")
        return out

    # A private folder renamed into place: two workers starting together never see half a model.
    return build_entry(entry, target, make)


def video_key(video: Path) -> str:
    """The calibration video's cache key: its size and first 16 MiB (hashing a multi-GB
    recording on every start would cost tens of seconds)."""
    h = hashlib.sha256(str(video.stat().st_size).encode())
    with open(video, "rb") as f:
        h.update(f.read(16 << 20))
    return h.hexdigest()[:16]
