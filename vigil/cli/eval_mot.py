"""`vigil eval mot`: score trackers on MOTChallenge sequences with TrackEval."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

import typer

from vigil.cli.app import eval_app
from vigil.errors import VigilError


def _table(scores: dict) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title="MOTChallenge (TrackEval)")
    reid = any("embedded_fraction" in m for per_seq in scores.values() for m in per_seq.values())
    for col in ("tracker", "sequence", "HOTA", "MOTA", "IDF1", "IDSW", "DetA", "AssA", "CPU ms/frame") + (
            ("embedded",) if reid else ()):
        table.add_column(col, justify="left" if col in ("tracker", "sequence") else "right",
                         no_wrap=col in ("tracker", "sequence"))
    for tracker, per_seq in scores.items():
        for seq, m in sorted(per_seq.items(), key=lambda kv: (kv[0] == "combined", kv[0])):
            table.add_row(tracker, seq, f"{m['HOTA']:.1f}", f"{m['MOTA']:.1f}", f"{m['IDF1']:.1f}",
                          f"{m['IDSW']:.0f}", f"{m['DetA']:.1f}", f"{m['AssA']:.1f}", f"{m['ms_per_frame']:.2f}",
                          *([f"{100 * m.get('embedded_fraction', 0):.0f}%"] if reid else []),
                          style="bold" if seq == "combined" else None)
        table.add_section()
    Console(width=max(120, Console().width)).print(table)


@eval_app.command("mot")
def eval_mot(
    data: Path = typer.Option(..., "--data", help="a MOTChallenge sequence folder (with seqinfo.ini, gt/gt.txt, "
                                                  "det/) or a folder of them, e.g. ../shared/data/mot/MOT17/train"),
    seqs: Optional[str] = typer.Option(None, "--seqs", help="comma-separated sequence names (default: all in --data)"),
    det: str = typer.Option("det/det.txt", "--det", help="detection file inside each sequence folder (glob allowed),"
                                                         " e.g. det/det_frcnn_sort.txt"),
    tracker: str = typer.Option("vigil", "--tracker", help="vigil, ultralytics-bytetrack, ultralytics-botsort, a "
                                                           "comma list, or all"),
    tracker_config: Optional[Path] = typer.Option(None, "--tracker-config",
                                                  help="YAML with Vigil tracker settings (or a pipeline file: its "
                                                       "tracker section); default settings if absent"),
    reid: Optional[Path] = typer.Option(None, "--reid", help="OSNet weights: embed every detection from the "
                                        "sequence images (img1/) and let Vigil's tracker use appearance"),
    reid_refresh: Optional[float] = typer.Option(
        None, "--reid-refresh", min=0.0, help="with --reid: give the tracker only the embeddings the pipeline's "
        "selective re-ID would compute (births, recoveries, crowds, each plain track once per this many "
        "seconds; pipelines default to 1.0); default: every detection"),
    frames: bool = typer.Option(False, "--frames", help="hand trackers each frame image (camera-motion "
                                "compensation: BoT-SORT's GMC, Vigil's camera_motion); needs img1/"),
    fmt: str = typer.Option("table", "--format", help="table or json"),
) -> None:
    """Run trackers on MOTChallenge public detections and score them with TrackEval (HOTA, MOTA, IDF1, IDSW).

    MOT17 rules (distractors removed, pedestrians only); ground truth without a class column
    (MOT15) is scored in TrackEval's MOT15 mode. Every tracker gets the same detections; the
    time shown is the CPU time of the tracker's own update calls per frame (ms_per_frame in JSON).
    The ultralytics trackers run with their default YAML settings; without --frames they get no
    images, so BoT-SORT's camera-motion compensation is idle (as in the reference figures)."""
    from vigil.eval.mot import evaluate
    from vigil.eval.mot_sequences import discover_sequences
    from vigil.eval.mot_trackers import load_tracker_config, reid_embedder, tracker_factories

    if fmt not in ("table", "json"):
        raise VigilError(f"unknown --format {fmt!r}; use table or json")
    sequences = discover_sequences(data, [s.strip() for s in seqs.split(",") if s.strip()] if seqs else None)
    trackers = tracker_factories(tracker, load_tracker_config(tracker_config))
    embed = reid_embedder(reid) if reid is not None else None
    if reid_refresh is not None and embed is None:
        raise VigilError("--reid-refresh needs --reid WEIGHTS")
    scores = evaluate(sequences, det, trackers, use_images=frames, embed=embed, reid_refresh=reid_refresh)
    if fmt == "json":
        typer.echo(json.dumps(scores, indent=2))
    else:
        _table(scores)
