"""`vigil bench pipeline` (Vigil against the ultralytics track+ObjectCounter loop) and
`vigil export` (ultralytics' exporter, for TensorRT/ONNX/OpenVINO deployment)."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Optional

import typer
from rich.console import Console

from vigil.cli.app import app, bench_app
from vigil.errors import ConfigError, SourceError, VigilError


def parse_line(text: str | None, width: int, height: int):
    """'x1,y1,x2,y2' in pixels; default: a horizontal line across the middle of the frame."""
    if text is None:
        y = round(height / 2)
        return ((0.0, float(y)), (float(width - 1), float(y)))
    try:
        x1, y1, x2, y2 = (float(v) for v in text.split(","))
    except ValueError:
        raise ConfigError(f"--line '{text}' is not four numbers; write it as x1,y1,x2,y2 in pixels") from None
    if (x1, y1) == (x2, y2):
        raise ConfigError(f"--line '{text}' has two equal points; give two distinct points")
    return ((x1, y1), (x2, y2))


def _check_file(path: Path, what: str) -> Path:
    if not path.is_file():
        raise VigilError(f"{what} '{path}' does not exist; check the path")
    return path.resolve()


@bench_app.command("pipeline")
def bench_pipeline(
    video: Path = typer.Option(..., "--video", help="video file; every frame is processed by both sides"),
    weights: Path = typer.Option(..., "--weights", help="detector weights (any ultralytics-loadable file)"),
    cameras: int = typer.Option(1, "--cameras", min=1, max=64, help="Vigil replays N copies as N cameras"),
    seconds: Optional[float] = typer.Option(None, "--seconds", min=0.1,
                                            help="use only the first S seconds of the video (default: all)"),
    imgsz: int = typer.Option(640, "--imgsz", help="inference size, the same on both sides"),
    conf: float = typer.Option(0.25, "--conf", min=0.0, max=1.0, help="detection confidence, both sides"),
    line: Optional[str] = typer.Option(None, "--line", help="counting line x1,y1,x2,y2 in pixels "
                                       "(default: horizontal, mid-height)"),
    batch: int = typer.Option(8, "--batch", min=1, max=256, help="Vigil's detector batch (frames per call)"),
    stride: int = typer.Option(1, "--stride", min=1, help="also run Vigil analysing every Nth frame and "
                               "report it separately (never part of the ratio)"),
    reid: Optional[Path] = typer.Option(None, "--reid", help="OSNet weights: also run Vigil with re-ID and "
                                        "report it separately (more work than the peer: never part of the ratio)"),
    reid_refresh: float = typer.Option(1.0, "--reid-refresh", min=0.0, help="with --reid: embed births, "
                                       "recoveries and crowds, and each plain track once per this many seconds; "
                                       "0 embeds every detection on every frame"),
    peer: bool = typer.Option(True, "--peer/--no-peer", help="run the ultralytics peer loop too"),
    single: bool = typer.Option(True, "--single/--no-single", help="with --cameras N > 1, also run Vigil on one "
                                "camera in the same process, to compare throughput per camera-frame"),
    repeat: int = typer.Option(1, "--repeat", min=1, max=20, help="rounds; the sides alternate within each "
                               "round and fps is the median, so load from other processes hits both alike"),
    fmt: str = typer.Option("table", "--format", help="table or json"),
) -> None:
    """Frames per second of Vigil's pipeline against the loop users would write with
    ultralytics (model.track(stream=True, persist=True) + solutions.ObjectCounter), on the
    same video, weights, image size, confidence and counting line, in one process.

    Both sides detect every frame. Prints fps, the ratio, counts, Vigil's time per stage
    (ms per camera-frame) and each side's memory."""
    from vigil.bench.clip import cut_clip, probe_clip
    from vigil.bench.ours import run_vigil
    from vigil.bench.peer import quiet_ultralytics, run_peer
    from vigil.bench.report import result_json, result_table

    quiet_ultralytics()  # its load messages go to stdout, which carries the JSON
    if fmt not in ("table", "json"):
        raise ConfigError(f"--format '{fmt}' is not known; use table or json")
    video, weights = _check_file(video, "video file"), _check_file(weights, "weights file")
    reid = _check_file(reid, "re-ID weights file") if reid is not None else None
    with tempfile.TemporaryDirectory(prefix="vigil-bench-clip-") as tmp:
        clip = cut_clip(video, Path(tmp) / f"clip{video.suffix or '.mp4'}", seconds) if seconds else video
        info = probe_clip(clip)
        if info.frames == 0:
            raise SourceError(f"'{video}' decodes to no frames; give a video with frames")
        ln = parse_line(line, info.width, info.height)
        err = Console(stderr=True)
        peer_runs, one_runs, vigil_runs, strided_runs, reid_runs = [], [], [], [], []
        for r in range(repeat):
            tag = f"round {r + 1}/{repeat}: " if repeat > 1 else ""
            if peer:
                err.print(f"[dim]{tag}peer loop: ultralytics track + ObjectCounter on {info.frames} frames ...[/dim]")
                peer_runs.append(run_peer(clip, weights, ln, imgsz, conf))
            if cameras > 1 and single:
                err.print(f"[dim]{tag}vigil: 1 camera x {info.frames} frames ...[/dim]")
                one_runs.append(run_vigil(clip, weights, ln, 1, imgsz, conf, batch=batch, fps=info.fps))
            err.print(f"[dim]{tag}vigil: {cameras} camera(s) x {info.frames} frames ...[/dim]")
            vigil_runs.append(run_vigil(clip, weights, ln, cameras, imgsz, conf, batch=batch, fps=info.fps))
            if stride > 1:
                err.print(f"[dim]{tag}vigil with frame stride {stride} ...[/dim]")
                strided_runs.append(run_vigil(clip, weights, ln, cameras, imgsz, conf, stride=stride, batch=batch,
                                              fps=info.fps))
            if reid is not None:
                err.print(f"[dim]{tag}vigil with re-ID (refresh {reid_refresh:g} s) ...[/dim]")
                reid_runs.append(run_vigil(clip, weights, ln, cameras, imgsz, conf, batch=batch, fps=info.fps,
                                           reid=reid, reid_refresh=reid_refresh))
    clip_meta = {"video": str(video), "seconds": seconds, "frames": info.frames, "width": info.width,
                 "height": info.height, "fps": round(info.fps, 3), "line": [list(p) for p in ln],
                 "imgsz": imgsz, "conf": conf, "weights": str(weights)}
    data = result_json(peer_runs, vigil_runs, clip_meta, strided_runs, one_runs, reid_runs)
    if fmt == "json":
        print(json.dumps(data, indent=2))
    else:
        Console().print(result_table(data))


@app.command("export")
def export(
    weights: Path = typer.Argument(..., help="source weights (.pt, or another format ultralytics can export from)"),
    fmt: str = typer.Option("onnx", "--format", help="onnx, engine (TensorRT), openvino, torchscript, tflite, ..."),
    imgsz: int = typer.Option(640, "--imgsz", help="input size baked into the exported model"),
    half: bool = typer.Option(False, "--half", help="fp16 weights (GPU formats)"),
    int8: bool = typer.Option(False, "--int8", help="int8 quantisation where the format supports it"),
    dynamic: bool = typer.Option(False, "--dynamic", help="dynamic batch and image size (ONNX/TensorRT)"),
    batch: int = typer.Option(1, "--batch", min=1, help="batch size baked into a static export"),
    device: Optional[str] = typer.Option(None, "--device", help="'cpu' or '0' (TensorRT needs a GPU)"),
) -> None:
    """Export detector weights with ultralytics' exporter (TensorRT .engine for NVIDIA GPUs,
    ONNX for onnxruntime, ...). Prints the exported file's path; point detector.weights at it."""
    from vigil.detect.export import export_weights

    print(export_weights(_check_file(weights, "weights file"), fmt, imgsz=imgsz, half=half, int8=int8,
                         dynamic=dynamic, batch=batch, device=device))


@bench_app.command("soak")
def bench_soak(
    video: Path = typer.Option(..., "--video", help="video file, looped into one long continuous stream"),
    weights: Path = typer.Option(..., "--weights", help="detector weights"),
    minutes: float = typer.Option(30.0, "--minutes", min=0.05, help="how long to replay"),
    cameras: int = typer.Option(1, "--cameras", min=1, max=64, help="replay N copies as N cameras"),
    line: Optional[str] = typer.Option(None, "--line", help="counting line x1,y1,x2,y2 (default: mid-height)"),
    fmt: str = typer.Option("table", "--format", help="table or json"),
) -> None:
    """Memory over a long replay: RSS at the start, after 10% of the time, at its peak and at
    the end, and its trend over the second half (flat means no leak)."""
    from vigil.bench.clip import probe_clip
    from vigil.bench.soak import run_soak

    if fmt not in ("table", "json"):
        raise ConfigError(f"--format '{fmt}' is not known; use table or json")
    video, weights = _check_file(video, "video file"), _check_file(weights, "weights file")
    info = probe_clip(video)
    res = run_soak(video, weights, parse_line(line, info.width, info.height), minutes, cameras)
    data = {"video": str(video), "cameras": cameras, **res.summary()}
    if fmt == "json":
        print(json.dumps(data, indent=2))
        return
    r = data["rss_mib"]
    print(f"soak: {data['minutes']} min, {data['frames']} camera-frames ({data['fps']} fps), {cameras} camera(s)\n"
          f"RSS MiB: start {r['start']}, after 10% {r['after_10pct']}, peak {r['peak']}, end {r['end']}; "
          f"second-half trend {data['second_half_slope_mib_per_10min']} MiB per 10 min")
