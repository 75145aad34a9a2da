"""Command-line entry point. Each module in COMMAND_MODULES registers its commands on
`vigil.cli.app`; user mistakes (VigilError) become one line on stderr and exit 2."""

from __future__ import annotations

import importlib
import os
import sys

from vigil.cli.app import app, bench_app, eval_app
from vigil.errors import VigilError

COMMAND_MODULES = [
    "vigil.cli.replay",
]


def _load_commands() -> None:
    for name in COMMAND_MODULES:
        importlib.import_module(name)


def main(argv: list[str] | None = None) -> int:
    os.environ.setdefault("YOLO_OFFLINE", "1")  # never let ultralytics reach the network
    _load_commands()
    try:
        app(args=argv, standalone_mode=False)
    except VigilError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except SystemExit as exc:  # typer/click exit codes (e.g. --help) pass through
        return int(exc.code or 0) if not isinstance(exc.code, str) else 1
    except Exception as exc:  # click usage errors come through here in non-standalone mode
        import click

        if isinstance(exc, click.exceptions.ClickException):
            exc.show()
            return exc.exit_code
        if isinstance(exc, click.exceptions.Abort):
            print("aborted", file=sys.stderr)
            return 1
        raise
    return 0


__all__ = ["app", "bench_app", "eval_app", "main"]
