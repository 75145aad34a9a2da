"""`vigil bench pipeline`: Vigil's replay against the ultralytics track + ObjectCounter loop on
the same clip, weights, image size, confidence and line, in one process, the sides alternating
within each round so load from other processes hits both alike."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Callable

from vigil.bench.clip import cut_clip, probe_clip
from vigil.bench.pipeline_report import result_json
from vigil.bench.pipeline_ultralytics import quiet_ultralytics, run_ultralytics
from vigil.bench.pipeline_vigil import Line, run_vigil
from vigil.errors import SourceError


def peer_weights(weights: Path) -> Path:
    """What the ultralytics side loads: the model on the engine Vigil's detector runs it on. A .pt
    that `engine: auto` runs on OpenVINO goes to the peer as the same cached IR, so the ratio
    compares pipelines, not engines."""
    from vigil.detect.device import pick_device
    from vigil.detect.engines import auto_engine, weights_format
    from vigil.detect.export_cache import cached_export

    fmt = weights_format(weights)
    if fmt == "pt" and auto_engine(fmt, pick_device("auto")) == "openvino":
        return cached_export(weights, "openvino")
    return weights


def bench_pipeline(video: Path, weights: Path, line: Callable[[int, int], Line], cameras: int = 1,
                   seconds: float | None = None, imgsz: int = 640, conf: float = 0.25, batch: int = 8,
                   stride: int = 1, reid: Path | None = None, reid_refresh: float = 1.0,
                   ultralytics: bool = True, single: bool = True, repeat: int = 1,
                   log: Callable[[str], None] = lambda msg: None) -> dict:
    """Run the rounds and return the result JSON (see pipeline_report.result_json). `line` maps
    the clip's (width, height) to the counting line."""
    quiet_ultralytics()  # its load messages go to stdout, which may carry the JSON
    with tempfile.TemporaryDirectory(prefix="vigil-bench-clip-") as tmp:
        clip = cut_clip(video, Path(tmp) / f"clip{video.suffix or '.mp4'}", seconds) if seconds else video
        info = probe_clip(clip)
        if info.frames == 0:
            raise SourceError(f"'{video}' decodes to no frames; give a video with frames")
        ln = line(info.width, info.height)
        peer = peer_weights(weights) if ultralytics else weights
        ultralytics_runs, one_runs, vigil_runs, strided_runs, reid_runs = [], [], [], [], []
        for r in range(repeat):
            tag = f"round {r + 1}/{repeat}: " if repeat > 1 else ""
            if ultralytics:
                log(f"{tag}ultralytics loop: track + ObjectCounter on {info.frames} frames ...")
                ultralytics_runs.append(run_ultralytics(clip, peer, ln, imgsz, conf))
            if cameras > 1 and single:
                log(f"{tag}vigil: 1 camera x {info.frames} frames ...")
                one_runs.append(run_vigil(clip, weights, ln, 1, imgsz, conf, batch=batch, fps=info.fps))
            log(f"{tag}vigil: {cameras} camera(s) x {info.frames} frames ...")
            vigil_runs.append(run_vigil(clip, weights, ln, cameras, imgsz, conf, batch=batch, fps=info.fps))
            if stride > 1:
                log(f"{tag}vigil with frame stride {stride} ...")
                strided_runs.append(run_vigil(clip, weights, ln, cameras, imgsz, conf, stride=stride, batch=batch,
                                              fps=info.fps))
            if reid is not None:
                log(f"{tag}vigil with re-ID (refresh {reid_refresh:g} s) ...")
                reid_runs.append(run_vigil(clip, weights, ln, cameras, imgsz, conf, batch=batch, fps=info.fps,
                                           reid=reid, reid_refresh=reid_refresh))
    clip_meta = {"video": str(video), "seconds": seconds, "frames": info.frames, "width": info.width,
                 "height": info.height, "fps": round(info.fps, 3), "line": [list(p) for p in ln],
                 "imgsz": imgsz, "conf": conf, "weights": str(weights), "peer_weights": str(peer)}
    return result_json(ultralytics_runs, vigil_runs, clip_meta, strided_runs, one_runs, reid_runs)
