"""`vigil bench reid`: re-ID embedder crops per second for each model and batch size."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from vigil.cli.app import bench_app
from vigil.errors import VigilError


def _int_list(text: str, option: str) -> list[int]:
    try:
        values = [int(x) for x in text.split(",") if x.strip()]
    except ValueError:
        values = []
    if not values or min(values) < 1:
        raise VigilError(f"{option} {text!r} must be comma-separated positive integers, e.g. 1,16,64")
    return values


@bench_app.command("reid")
def bench_reid(
    models: str = typer.Option("osnet_x0_25,osnet_x1_0", "--models",
                               help="comma-separated OSNet names "
                                    "(osnet_x1_0, osnet_x0_75, osnet_x0_5, osnet_x0_25, ...)"),
    batch_sizes: str = typer.Option("1,16,64", "--batch-sizes", help="comma-separated crops per forward pass"),
    weights: list[Path] = typer.Option([], "--weights",
                                       help="torchreid checkpoint(s); each is used for the model it fits, "
                                            "the other models run with random weights (same speed)"),
    device: str = typer.Option("auto", "--device", help="auto, cpu, cuda or cuda:N"),
    half: str = typer.Option("auto", "--half", help="fp16: auto (on CUDA only), true or false"),
    seconds: float = typer.Option(1.5, "--seconds", min=0.0, help="minimum timed seconds per cell"),
    threads: int = typer.Option(0, "--threads", min=0, help="torch CPU threads (0 = torch's default); "
                                                            "OpenVINO uses as many"),
    engines: str = typer.Option("torch", "--engines", help="comma-separated: torch, openvino, auto; several "
                                                            "are timed side by side in alternating rounds"),
    rounds: int = typer.Option(1, "--rounds", min=1, help="rounds per cell; figures are the median"),
    fmt: str = typer.Option("table", "--format", help="table or json"),
) -> None:
    """Time the re-ID stage on crops of mixed person-like sizes: resize to 256x128, ImageNet
    normalisation and OSNet forward, batched, on each engine asked for (e.g. --engines
    torch,openvino --rounds 5). Reports crops per second and ms per batch (wall clock, median of the rounds),
    and crops per CPU-second of this process (with --threads 1 that is the single-core rate even when
    other work shares the machine)."""
    import torch

    from vigil.bench.reid_embedder import bench_embedder, index_checkpoints
    from vigil.reid.osnet import ARCHITECTURES
    from vigil.weights import resolve_weights

    names = [m.strip() for m in models.split(",") if m.strip()]
    bad = [m for m in names if m not in ARCHITECTURES]
    if bad or not names:
        raise VigilError(f"unknown model {bad[0] if bad else models!r} in --models; "
                         f"choose from {', '.join(ARCHITECTURES)}")
    sizes = _int_list(batch_sizes, "--batch-sizes")
    engine_list = tuple(e.strip() for e in engines.split(",") if e.strip())
    unknown = [e for e in engine_list if e not in ("torch", "openvino", "auto")]
    if unknown or not engine_list:
        raise VigilError(f"--engines {engines!r}: use torch, openvino or auto, comma-separated")
    half_map = {"auto": "auto", "true": True, "false": False}
    if half.lower() not in half_map:
        raise VigilError(f"--half {half!r} must be auto, true or false")
    if fmt not in ("table", "json"):
        raise VigilError(f"unknown --format {fmt!r}; use table or json")
    if threads:
        torch.set_num_threads(threads)
    checkpoints = index_checkpoints([resolve_weights(w, what="re-ID weights") for w in weights])
    rows = bench_embedder(names, sizes, checkpoints, device=device, half=half_map[half.lower()],
                          min_seconds=seconds, engines=engine_list, rounds=rounds)
    if fmt == "json":
        typer.echo(json.dumps([{**r.__dict__, "crops_per_second": r.crops_per_second,
                                "ms_per_batch": r.ms_per_batch, "crops_per_cpu_second": r.crops_per_cpu_second}
                               for r in rows], indent=2))
        return
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"re-ID embedder (torch {torch.__version__}, {torch.get_num_threads()} CPU threads)")
    for col, justify in [("model", "left"), ("params", "right"), ("weights", "left"), ("engine", "left"),
                         ("batch", "right"), ("crops/s", "right"), ("ms/batch", "right"),
                         ("crops/CPU-s", "right")]:
        table.add_column(col, justify=justify)
    for r in rows:
        table.add_row(r.model, f"{r.params / 1e6:.2f} M", r.weights, r.engine,
                      str(r.batch_size), f"{r.crops_per_second:.1f}", f"{r.ms_per_batch:.1f}",
                      f"{r.crops_per_cpu_second:.1f}")
    console = Console()
    if not console.is_terminal:  # piped to a file: do not squeeze the columns into 80 characters
        console.width = 120
    console.print(table)
