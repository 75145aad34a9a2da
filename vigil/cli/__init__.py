"""Command-line entry point. Each module in COMMAND_MODULES registers its commands on
`vigil.cli.app`; user mistakes (VigilError) become one line on stderr, secrets masked, and exit 2."""

from __future__ import annotations

import importlib
import os
import sys

from vigil.cli.app import app, bench_app, eval_app, reflow_help
from vigil.errors import VigilError
from vigil.secrets import mask_text

COMMAND_MODULES = [
    "vigil.cli.replay",
    "vigil.cli.bench_pipeline",
    "vigil.cli.eval_mot", "vigil.cli.bench_tracker",
    "vigil.cli.query",
    "vigil.cli.bench_reid",
    "vigil.cli.live",
    "vigil.cli.fusion",
    "vigil.cli.register",
    "vigil.cli.bench_count",
    "vigil.cli.bench_counts",
    "vigil.cli.preview",
    "vigil.cli.check",
    "vigil.cli.db",
    "vigil.cli.bench_retention",
    "vigil.cli.outputs",
    "vigil.cli.bench_outputs",
]


def _load_commands() -> None:
    for name in COMMAND_MODULES:
        importlib.import_module(name)
    reflow_help(app)


def main(argv: list[str] | None = None) -> int:
    os.environ.setdefault("YOLO_OFFLINE", "1")  # never let ultralytics reach the network
    _load_commands()
    try:
        app(args=argv, prog_name="vigil")  # standalone: usage errors and --help exit via SystemExit
    except VigilError as exc:
        # One line, and never a password: messages may quote a URL the user gave (--db, a source).
        line = " ".join(str(exc).split()) or type(exc).__name__
        print(f"error: {mask_text(line)}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except SystemExit as exc:
        if exc.code is None or isinstance(exc.code, int):
            return exc.code or 0
        print(exc.code, file=sys.stderr)
        return 1
    return 0


__all__ = ["app", "bench_app", "eval_app", "main"]
