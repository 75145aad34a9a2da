"""Structured logging for the daemon: readable text, or one JSON object per line (`--log-format json`)
with the record's structured fields (camera, event, delay_s, ...) as keys, for journald/Loki/ELK."""

from __future__ import annotations

import json
import logging
import sys
from datetime import datetime, timezone

from vigil.errors import VigilError

# Attributes every LogRecord has; anything else was passed with `extra=` and is structured data.
_STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime", "taskName"}


def _extras(record: logging.LogRecord) -> dict:
    return {k: v for k, v in vars(record).items() if k not in _STANDARD and not k.startswith("_")}


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        out = {
            "ts": datetime.fromtimestamp(record.created, timezone.utc).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
            **_extras(record),
        }
        if record.exc_info:
            out["exc"] = self.formatException(record.exc_info)
        return json.dumps(out, default=str)


class TextFormatter(logging.Formatter):
    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)-7s %(name)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        text = super().format(record)
        extra = {k: v for k, v in _extras(record).items() if k not in ("camera", "event")}
        return text + ("  " + " ".join(f"{k}={v}" for k, v in extra.items()) if extra else "")


LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")


def setup_logging(fmt: str = "text", level: str | int = "INFO", stream=None) -> None:
    """Configure the 'vigil' logger tree (not the root, so libraries keep their own settings)."""
    if not isinstance(level, int) and level.upper() not in LEVELS:
        raise VigilError(f"--log-level {level!r}: use one of {', '.join(LEVELS)}")
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(JsonFormatter() if fmt == "json" else TextFormatter())
    logger = logging.getLogger("vigil")
    for h in list(logger.handlers):
        if getattr(h, "_vigil_live", False):
            logger.removeHandler(h)
    handler._vigil_live = True  # type: ignore[attr-defined]
    logger.addHandler(handler)
    logger.setLevel(level if isinstance(level, int) else level.upper())
    logger.propagate = False
