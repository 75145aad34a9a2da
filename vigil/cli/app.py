"""The typer apps every CLI module adds its commands to."""

import typer

app = typer.Typer(
    name="vigil",
    help="Vigil: count vehicles and pedestrians in camera streams and recorded video.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
eval_app = typer.Typer(help="Score Vigil's stages against ground truth (tracking, fusion, registration).",
                       no_args_is_help=True)
bench_app = typer.Typer(help="Benchmarks anyone can rerun on their machine.", no_args_is_help=True)
app.add_typer(eval_app, name="eval")
app.add_typer(bench_app, name="bench")
