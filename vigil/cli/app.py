"""The typer apps every CLI module adds its commands to."""

import inspect
import re

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


_BLOCK = re.compile("^(\\s|[-*] |\\d+[.)] |\b)")  # list items, indented examples, click's no-rewrap marker (\b)


def reflow(doc: str) -> str:
    """A docstring as help text: each prose paragraph on one line, so the terminal wraps it at its
    own width (typer's rich mode keeps the source's line breaks, which breaks lines mid-sentence).
    Paragraphs with list items or indented lines are left as written."""
    out = []
    for para in inspect.cleandoc(doc).split("\n\n"):
        lines = para.split("\n")
        out.append(para if any(_BLOCK.match(line) for line in lines) else " ".join(line.strip() for line in lines))
    return "\n\n".join(out)


def reflow_help(typer_app: typer.Typer) -> None:
    """Reflow the docstring help of every command of `typer_app` and its sub-apps (once loaded)."""
    for info in typer_app.registered_commands:
        if info.help is None and info.callback is not None and info.callback.__doc__:
            info.help = reflow(info.callback.__doc__)
    for group in typer_app.registered_groups:
        if group.typer_instance is not None:
            reflow_help(group.typer_instance)
