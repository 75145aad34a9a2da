"""`vigil fuse`, `vigil eval fusion` and `vigil bench fusion`: visible + thermal image fusion from
the command line."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Optional

import typer
from rich.console import Console
from rich.table import Table

from vigil.cli.app import app, bench_app, eval_app
from vigil.config.fusion import FUSION_METHODS
from vigil.errors import VigilError

_FORMATS = ("table", "json")


def _console() -> Console:
    """Metric tables are wide: don't squeeze them to 80 columns when piped."""
    c = Console()
    return c if c.is_terminal else Console(width=200)


def _check_format(fmt: str) -> None:
    if fmt not in _FORMATS:
        raise VigilError(f"--format {fmt!r} is not known; use table or json")


def _metrics_table(title: str, rows: dict[str, dict[str, float]], extra: dict[str, float] | None = None) -> Table:
    table = Table(title=title)
    names = list(next(iter(rows.values())).keys())
    table.add_column("pair" if extra is not None else "method")
    for n in names:
        table.add_column(n, justify="right")
    if extra is not None:
        table.add_column("ms", justify="right")
    for key, vals in rows.items():
        cells = [f"{vals[n]:.4g}" for n in names]
        if extra is not None:
            cells.append(f"{extra[key]:.1f}" if key in extra else "")
        table.add_row(key, *cells)
    return table


@app.command("fuse")
def fuse_cmd(
    visible: Optional[Path] = typer.Argument(None, help="visible image (BGR/colour or gray)"),
    thermal: Optional[Path] = typer.Argument(None, help="thermal image, registered to the visible one (same size)"),
    method: str = typer.Option("default", "--method", "-m",
                               help=f"fusion method: {', '.join(FUSION_METHODS)}"),
    output: Optional[Path] = typer.Option(None, "-o", "--output",
                                          help="fused image to write (default: VISIBLE_fused.png beside you)"),
    pairs: Optional[Path] = typer.Option(None, "--pairs",
                                         help="folder of pairs (vi|vis|visible|rgb and ir|infrared|thermal "
                                              "subfolders, same stems): fuse each and print its metrics"),
    out_dir: Optional[Path] = typer.Option(None, "--out-dir", help="with --pairs: also write the fused images here"),
    fmt: str = typer.Option("table", "--format", help="with --pairs: table or json"),
) -> None:
    """Fuse a visible and a thermal image into one, or every pair in a folder (with metrics)."""
    from vigil.fusion.fuse import fuse, resolve_method
    from vigil.fusion.pairs import discover_pairs, read_pair_image

    _check_format(fmt)
    name = resolve_method(method)
    if pairs is not None:
        if visible is not None or thermal is not None:
            raise VigilError("give either VISIBLE THERMAL or --pairs DIR, not both")
        from vigil.eval.fusion_quality import score_pairs

        found, unpaired = discover_pairs(pairs)
        score = score_pairs(found, name, jpeg_quality=None, save_dir=out_dir)
        ms = dict(zip(score.per_pair, score.ms_per_pair))
        if fmt == "json":
            print(json.dumps({"method": name, "pairs": score.per_pair, "mean": score.mean,
                              "ms_per_pair": ms, "unpaired": unpaired}, indent=2))
            return
        rows = dict(score.per_pair)
        rows["mean"] = score.mean
        ms["mean"] = float(sum(score.ms_per_pair) / len(score.ms_per_pair))
        console = _console()
        console.print(_metrics_table(f"{name} fusion of {len(found)} pairs in {pairs}", rows, ms))
        if unpaired:
            console.print(f"without a partner (skipped): {', '.join(unpaired)}")
        return
    if visible is None or thermal is None:
        raise VigilError("give VISIBLE and THERMAL images (or --pairs DIR); see vigil fuse --help")
    vis, ir = read_pair_image(visible), read_pair_image(thermal)
    t0 = time.perf_counter()
    fused = fuse(vis, ir, name)
    ms = (time.perf_counter() - t0) * 1000
    import cv2

    output = output or Path(f"{visible.stem}_fused.png")
    if output.parent and not output.parent.exists():
        raise VigilError(f"output folder '{output.parent}' does not exist; create it or choose another -o path")
    if not cv2.imwrite(str(output), fused):
        raise VigilError(f"cannot write '{output}'; use an image extension such as .png or .jpg")
    print(f"{output} ({name}, {fused.shape[1]}x{fused.shape[0]}, {ms:.1f} ms)")


@eval_app.command("fusion")
def eval_fusion(
    pairs: list[Path] = typer.Option(..., "--pairs",
                                     help="folder of pairs (vi|vis|visible|rgb + ir|infrared|thermal); with "
                                          "--detections it may be given several times"),
    methods: str = typer.Option("all", "--methods", help="comma-separated methods, or 'all'; with --detections "
                                                         "the one method that fuses (default: the default method)"),
    fmt: str = typer.Option("table", "--format", help="table or json"),
    jpeg_quality: int = typer.Option(75, "--jpeg-quality", min=0, max=100,
                                     help="score outputs after a JPEG round trip at this quality, as VIFB "
                                          "scored published methods (0 = score the raw output)"),
    vifb_csv: Optional[Path] = typer.Option(None, "--rank-against",
                                            help="VIFB metrics_long.csv: also rank the methods among VIFB's"),
    detections: bool = typer.Option(False, "--detections",
                                    help="instead of image metrics: run the detector on RGB, thermal, fused and "
                                         "auto inputs of every pair (also under simulated low light), print "
                                         "detections per mode for day and night images, and fit auto's "
                                         "brightness thresholds on half the pairs (reported on the other half)"),
    weights: str = typer.Option("yolov8n_int8.onnx", "--weights",
                                help="with --detections: detector weights (path, or a name in $VIGIL_MODELS)"),
    cache_dir: Optional[Path] = typer.Option(None, "--cache-dir",
                                             help="with --detections: where detections per image are cached "
                                                  "(default: a folder in the system temp dir)"),
    compare: Optional[str] = typer.Option(None, "--compare",
                                          help="cddfuse: score the methods as CDDFuse's evaluator does (gray, "
                                               "no JPEG, VIF = pixel VIF of both sources summed, MI in nats) on "
                                               "the development and held-back halves of the pairs, beside "
                                               "CDDFuse's published TNO figures (CVPR 2023); give the TNO pairs"),
) -> None:
    """Mean of every fusion metric per method over a folder of pairs, (--compare cddfuse) the
    same beside a published method's figures, or (--detections) what each thermal mode gives
    the detector.

    JSON: {"default": METHOD, METHOD: {"EN": .., "SD": .., ...}, ...}."""
    from vigil.eval.fusion_quality import RANK_METRICS, evaluate_methods
    from vigil.fusion.fuse import DEFAULT_METHOD, method_names, resolve_method

    _check_format(fmt)
    if compare is not None and (detections or vifb_csv is not None):
        raise VigilError("--compare prints its own table; leave out --detections and --rank-against")
    if detections:
        _eval_detections(pairs, methods, weights, cache_dir, fmt)
        return
    if len(pairs) != 1:
        raise VigilError("image metrics take one --pairs folder; several are for --detections")
    chosen = method_names() if methods.strip() == "all" else [resolve_method(m.strip()) for m in methods.split(",")]
    if compare is not None:
        _eval_compare(pairs[0], chosen, compare.strip().lower(), fmt)
        return
    res = evaluate_methods(pairs[0], chosen, jpeg_quality or None, vifb_csv)
    result: dict = {"default": DEFAULT_METHOD, **res["means"]}
    timing, ranking = res["ms_per_pair"], res["ranking"]
    if fmt == "json":
        if ranking is not None:
            result["ranking"] = [{"method": m, "mean_rank": r, "ranks": rk} for m, r, rk in ranking]
            result["halves"] = {half: [{"method": m, "mean_rank": r, "ranks": rk} for m, r, rk in rows]
                                for half, rows in res["halves"].items()}
        print(json.dumps(result, indent=2))
        return
    console = _console()
    console.print(_metrics_table(f"mean over {res['pairs']} pairs in {pairs[0]} (default: {DEFAULT_METHOD})",
                                 {m: result[m] for m in chosen}))
    console.print("ms per pair: " + ", ".join(f"{m} {t:.1f}" for m, t in timing.items()))
    if ranking is not None:
        t = Table(title="mean rank over " + ", ".join(RANK_METRICS))
        t.add_column("#", justify="right")
        t.add_column("method")
        t.add_column("mean rank", justify="right")
        for i, (m, r, _) in enumerate(ranking, 1):
            t.add_row(str(i), m, f"{r:.2f}")
        console.print(t)
        console.print(_places_table([("all", ranking), *res["halves"].items()]))


def _places_table(rankings: list[tuple[str, list]]) -> Table:
    """Where each Vigil method stands, overall and per metric, on all pairs and on each half."""
    from vigil.eval.fusion_quality import RANK_METRICS

    t = Table(title="Vigil's places (1 = best) on all pairs, the development half and the held-back half")
    for col in ("method", "pairs", "place", "mean rank", *RANK_METRICS, "worst"):
        t.add_column(col, justify="left" if col in ("method", "pairs") else "right")
    for half, rows in rankings:
        for place, (m, r, ranks) in enumerate(rows, 1):
            if m.startswith("vigil:"):
                t.add_row(m, half, str(place), f"{r:.2f}", *(f"{ranks[n]:g}" for n in RANK_METRICS),
                          f"{max(ranks.values()):g}")
    return t


def _eval_compare(pairs: Path, methods: list[str], against: str, fmt: str) -> None:
    """`vigil eval fusion --compare NAME`: Vigil's rows beside a published method's row."""
    from vigil.eval.fusion_quality import compare_published

    res = compare_published(pairs, methods, against)
    if fmt == "json":
        print(json.dumps(res, indent=2))
        return
    ref = res["against"]
    names = list(res["rows"][0]["metrics"])
    t = Table(title=f"{res['pairs']} pairs in {pairs} against {ref['citation']}, scored as its evaluator "
                    "scores (gray, no JPEG; MI in nats; VIF = VIF(vis,F) + VIF(ir,F))")
    for col in ("method", "pairs", *names, "beats it on"):
        t.add_column(col, justify="left" if col in ("method", "beats it on") else "right")
    published = (f"{ref['metrics'][n]:.2f}" if n in ref["metrics"] else "-" for n in names)
    t.add_row(f"{ref['name']} (published)", str(ref["pairs"]), *published, "")
    for row in res["rows"]:
        beats = ", ".join(row["beats"]) if row["beats"] else "none"
        t.add_row(f"vigil:{row['method']} {row['half']}", str(row["pairs"]),
                  *(f"{row['metrics'][n]:.2f}" for n in names), f"{len(row['beats'])}/{len(ref['metrics'])}: {beats}")
    _console().print(t)
    print(f"{ref['name']}'s figures are on its own {ref['pairs']} test pairs, not on these. No Vigil parameter was "
          "chosen on the held-back half (vigil/eval/split.py).")


def _eval_detections(folders: list[Path], method: str, weights: str, cache_dir: Path | None, fmt: str) -> None:
    """`vigil eval fusion --detections`: detections per mode, and auto's measured thresholds."""
    from vigil.detect.yolo import YoloDetector
    from vigil.eval.fusion_detections import ALL_MODES, evaluate, measure
    from vigil.fusion.pairs import discover_pairs
    from vigil.weights import resolve_weights

    method = "default" if method.strip() == "all" else method.strip()
    if "," in method:
        raise VigilError("--detections fuses with one method; give --methods NAME (or leave it out: the default)")
    datasets: dict[str, list] = {}
    for folder in folders:
        found, _ = discover_pairs(folder)
        label = folder.name if folder.name.lower() not in ("input", "pairs") else folder.parent.name
        while label in datasets:
            label += "'"
        datasets[label] = found
    path = resolve_weights(weights, what="detector weights")
    detector = YoloDetector(weights=path)
    err = Console(stderr=True)
    with err.status("detecting") as status:
        samples = measure(datasets, detector, f"{path}:{path.stat().st_mtime_ns}", method, cache_dir=cache_dir,
                          progress=lambda msg: status.update(f"detecting {msg}"))
    result = evaluate(samples)
    if fmt == "json":
        print(json.dumps(result, indent=2))
        return
    console = _console()
    for half in ("development", "held_back"):
        t = Table(title=f"{half.replace('_', '-')} pairs: detections per mode, count / mean confidence "
                        "(share: mean over images of the mode's summed confidence / the best mode's)")
        t.add_column("images")
        t.add_column("n", justify="right")
        t.add_column("class")
        for m in ALL_MODES:
            t.add_column(m, justify="right")
        for group, modes in result[half].items():
            classes = sorted({c for m in ALL_MODES for c in modes[m]["per_class"]})
            t.add_row(group, str(modes["rgb"]["images"]), "all",
                      *(f"{modes[m]['detections']} / {modes[m]['mean_confidence']:.2f}" for m in ALL_MODES))
            for c in classes:
                t.add_row("", "", c, *(f"{v['detections']} / {v['mean_confidence']:.2f}" if v else "-"
                                       for v in (modes[m]["per_class"].get(c) for m in ALL_MODES)))
            t.add_row("", "", "share", *(f"{modes[m]['share']:.2f}" for m in ALL_MODES))
            vs = modes["auto_vs_best"]
            t.add_row("", "", f"auto / best ({vs['best_mode']})", "", "", "",
                      "-" if vs["ratio"] is None else f"{vs['ratio']:.0%}", end_section=True)
        console.print(t)
        console.print(_probes_table(half, result[half]))
    lo, hi = result["held_back_fit"]
    console.print(f"{len(samples)} images: {len(result['development_pairs'])} development + "
                  f"{len(result['held_back_pairs'])} held-back pairs x simulated exposures "
                  f"{', '.join(f'{e:g}' for e in result['exposures'])}; night: RGB brightness below "
                  f"{result['night_below']:g}")
    console.print(f"auto's thresholds fitted on the development pairs: dark {result['dark_threshold']:g} "
                  f"(thermal below), bright {result['bright_threshold']:g} (RGB at or above), fused between; "
                  f"the same fit on the held-back pairs would give dark {lo:g}, bright {hi:g}")


def _probes_table(half: str, groups: dict) -> Table:
    """Auto with probes against auto by brightness alone and the single modes, on image halves."""
    t = Table(title=f"{half.replace('_', '-')} pairs: auto with probes (the probe sees the other half of the "
                    "image, its choice is scored on this half); summed confidence over both halves")
    cols = ("rgb", "thermal", "fused", "auto", "auto (probes)")
    for col in ("images", "n", *cols, "auto / best", "probes / best"):
        t.add_column(col, justify="left" if col == "images" else "right")
    for group, modes in groups.items():
        if "halves" not in modes:
            continue
        h = modes["halves"]
        t.add_row(group, str(modes["rgb"]["images"]), *(f"{h['score'][c]:.1f}" for c in cols),
                  *("-" if r is None else f"{r:.0%}" for r in (h["auto_vs_best"], h["probes_vs_best"])))
    return t


@bench_app.command("fusion")
def bench_fusion(
    size: str = typer.Option("640x512", "--size", help="WIDTHxHEIGHT of the pair (thermal cameras: 640x512)"),
    repeat: int = typer.Option(20, "--repeat", min=1, help="timed runs per method"),
    methods: str = typer.Option("all", "--methods", help="comma-separated methods, or 'all'"),
    threads: int = typer.Option(1, "--threads", min=0,
                                help="OpenCV threads (1 = one camera's share of a busy box; 0 = OpenCV's default)"),
    visible: Optional[Path] = typer.Option(None, "--visible", help="visible image to time on (default: synthetic)"),
    thermal: Optional[Path] = typer.Option(None, "--thermal", help="thermal image to time on (default: synthetic)"),
    fmt: str = typer.Option("table", "--format", help="table or json"),
) -> None:
    """Milliseconds per visible+thermal pair for each fusion method (wall and CPU time, median)."""
    from vigil.bench.fusion_speed import bench_fusion as run
    from vigil.fusion.fuse import DEFAULT_METHOD, method_names, resolve_method

    _check_format(fmt)
    try:
        w, h = (int(v) for v in size.lower().split("x"))
    except ValueError:
        raise VigilError(f"--size {size!r} is not WIDTHxHEIGHT, e.g. 640x512") from None
    if (visible is None) != (thermal is None):
        raise VigilError("give both --visible and --thermal, or neither (synthetic pair)")
    chosen = method_names() if methods.strip() == "all" else [resolve_method(m.strip()) for m in methods.split(",")]
    results = run(chosen, (w, h), repeat, threads, visible, thermal)
    if fmt == "json":
        print(json.dumps({"size": [w, h], "threads": threads, "default": DEFAULT_METHOD, "methods": results}, indent=2))
        return
    t = Table(title=f"fusion of one {w}x{h} pair, median of {repeat}, OpenCV threads {threads or 'default'}")
    for col in ("method", "wall ms", "CPU ms"):
        t.add_column(col, justify="left" if col == "method" else "right")
    for m, r in results.items():
        t.add_row(m + (" (default)" if m == DEFAULT_METHOD else ""), f"{r['wall_ms']:.1f}", f"{r['cpu_ms']:.1f}")
    _console().print(t)
