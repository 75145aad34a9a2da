"""`vigil bench pipeline` (Vigil against the ultralytics track+ObjectCounter loop) and
`vigil export` (ultralytics' exporter, for TensorRT/ONNX/OpenVINO deployment)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

import typer
from rich.console import Console

from vigil.cli.app import app, bench_app
from vigil.errors import ConfigError, VigilError


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
                                        "report it separately (more work than the ultralytics loop: never part "
                                        "of the ratio)"),
    reid_refresh: float = typer.Option(1.0, "--reid-refresh", min=0.0, help="with --reid: embed births, "
                                       "recoveries and crowds, and each plain track once per this many seconds; "
                                       "0 embeds every detection on every frame"),
    peer: bool = typer.Option(True, "--peer/--no-peer", help="run the ultralytics loop too (JSON key \"peer\")"),
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
    from vigil.bench.pipeline import bench_pipeline as run
    from vigil.bench.pipeline_report import result_table

    if fmt not in ("table", "json"):
        raise ConfigError(f"--format '{fmt}' is not known; use table or json")
    video, weights = _check_file(video, "video file"), _check_file(weights, "weights file")
    reid = _check_file(reid, "re-ID weights file") if reid is not None else None
    err = Console(stderr=True)
    data = run(video, weights, lambda w, h: parse_line(line, w, h), cameras=cameras, seconds=seconds, imgsz=imgsz,
               conf=conf, batch=batch, stride=stride, reid=reid, reid_refresh=reid_refresh, ultralytics=peer,
               single=single, repeat=repeat, log=lambda msg: err.print(f"[dim]{msg}[/dim]"))
    if fmt == "json":
        print(json.dumps(data, indent=2))
    else:
        Console().print(result_table(data))


@app.command("export")
def export(
    what: list[str] = typer.Argument(..., metavar="[FORMAT] WEIGHTS",
                                     help="source weights (.pt), optionally after the format: "
                                          "`vigil export openvino yolov8n.pt`"),
    fmt: str = typer.Option("onnx", "--format", help="onnx, engine (TensorRT), openvino, torchscript, tflite, ..."),
    imgsz: int = typer.Option(640, "--imgsz", help="input size (the long side for dynamic-shape exports)"),
    half: bool = typer.Option(False, "--half", help="fp16 weights (GPU formats)"),
    int8: bool = typer.Option(False, "--int8", help="int8 quantisation; for openvino it needs --calibrate"),
    calibrate: Optional[Path] = typer.Option(None, "--calibrate", help="openvino --int8: a video of the site; "
                                             "NNCF calibrates on its frames (nothing is downloaded)"),
    frames: int = typer.Option(300, "--frames", min=1, max=1000, help="with --calibrate: frames to calibrate on"),
    dynamic: Optional[bool] = typer.Option(None, "--dynamic/--static", help="dynamic batch and image size "
                                           "(default: dynamic for openvino, static otherwise)"),
    batch: int = typer.Option(1, "--batch", min=1, help="batch size baked into a static export"),
    device: Optional[str] = typer.Option(None, "--device", help="'cpu' or '0' (TensorRT needs a GPU)"),
) -> None:
    """Export detector weights with ultralytics' exporter (OpenVINO IR for Intel/AMD CPUs,
    TensorRT .engine for NVIDIA GPUs, ONNX for onnxruntime, ...). Prints the exported file's
    path; point detector.weights at it.

    OpenVINO exports go to the engine cache ($VIGIL_ENGINE_CACHE, default ~/.cache/vigil/engines),
    the same place `detector.engine: auto` looks, so a detector given the .pt uses them as they are."""
    from vigil.detect.export import export_weights

    if len(what) > 2:
        raise ConfigError(f"export takes [FORMAT] WEIGHTS, got {len(what)} arguments: {' '.join(what)}")
    if len(what) == 2:
        fmt = what[0]
    weights = _check_file(Path(what[-1]), "weights file")
    err = Console(stderr=True)
    log = lambda msg: err.print(f"[dim]{msg}[/dim]")  # noqa: E731
    if calibrate is not None and not (int8 and fmt == "openvino"):
        raise ConfigError("--calibrate goes with --int8 and the openvino format: vigil export openvino "
                          "MODEL.pt --int8 --calibrate VIDEO")
    if fmt == "openvino" and weights.suffix == ".pt":
        if int8:
            if calibrate is None:
                raise ConfigError("openvino --int8 needs --calibrate VIDEO (frames of the site's own video); "
                                  "nothing is downloaded to calibrate on")
            from vigil.detect.quantize import quantize_openvino

            print(quantize_openvino(weights, _check_file(calibrate, "calibration video"), frames, imgsz, log=log))
            return
        from vigil.detect.export_cache import cached_export

        print(cached_export(weights, "openvino", imgsz=imgsz, dynamic=dynamic is not False, half=half,
                            batch=1 if dynamic is not False else batch, log=log))
        return
    print(export_weights(weights, fmt, imgsz=imgsz, half=half, int8=int8, dynamic=bool(dynamic), batch=batch,
                         device=device))


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
