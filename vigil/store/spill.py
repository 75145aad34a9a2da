"""Events a writer could not store before it was closed (database unreachable) are saved to a
JSONL spill file, one batch a line with its writer id and sequence number, and whether that
writer queues its events for the outputs (`"outbox"`); `Store` imports and deletes these files
when it next opens the database, queueing outbox rows as the file says (any process may do the
import, also one that has no outputs itself, such as `vigil counts`). The sequence numbers make the
import idempotent: a batch that did reach the database (or an import that ran twice) is
skipped, never counted twice."""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import os
import uuid
from datetime import datetime
from pathlib import Path

from sqlalchemy.engine import URL

from vigil.types import CountEvent

log = logging.getLogger(__name__)

Batch = tuple[str, int, list[tuple[int, CountEvent]]]  # writer id, sequence number, (run id, event)
# A batch with the outbox flag of its line: None in a file written before the flag existed.
Flagged = tuple[Batch, bool | None]


def default_dir(url: URL) -> Path | None:
    """Next to a SQLite file (`vigil.db.spill/`); for PostgreSQL, one folder per database under
    $XDG_STATE_HOME/vigil/spill (~/.local/state); none for an in-memory database."""
    if url.get_backend_name() == "sqlite":
        if url.database in (None, "", ":memory:"):
            return None
        db = Path(url.database).expanduser().resolve()
        return db.with_name(db.name + ".spill")
    state = Path(os.environ.get("XDG_STATE_HOME") or Path.home() / ".local" / "state")
    key = hashlib.sha1(url.render_as_string(hide_password=True).encode()).hexdigest()[:16]
    return state / "vigil" / "spill" / f"{url.host or 'local'}-{url.database or ''}-{key}"


def _row(run_id: int, e: CountEvent) -> list:
    row = [run_id, e.camera_id, e.kind, e.name, e.track_id, e.class_name, e.direction, e.time.isoformat(),
           e.dwell_s, e.speed_kmh]
    if e.snapshot is not None:  # an eleventh field only when there is a crop
        row.append(base64.b64encode(e.snapshot).decode("ascii"))
    return row


def _event(row: list) -> tuple[int, CountEvent]:
    run_id, cam, kind, name, track, cls, direction, t, dwell, *more = row  # files from before speeds: 9
    speed = more[0] if more else None
    jpeg = base64.b64decode(more[1]) if len(more) > 1 else None
    return int(run_id), CountEvent(cam, kind, name, int(track), cls, direction, datetime.fromisoformat(t), dwell,
                                   speed, snapshot=jpeg)


def save(folder: Path, stem: str, batches: list[Batch], suffix: str = ".jsonl", outbox: bool | None = None) -> Path:
    """Write the batches to a new file in `folder` (written whole, then renamed into place, so
    an importer never reads half a file). Returns its path. Events the database refused are
    saved with the suffix `.jsonl.failed`, which no import picks up. outbox: whether the writer
    queues outbox rows, written on every line so the importer queues them too, whoever it is
    (None: not written, a file as before the flag)."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{stem}{suffix}"
    tmp = folder / f"{path.name}.{os.getpid()}-{uuid.uuid4().hex[:8]}.tmp"  # two importers may save one name
    try:
        with open(tmp, "w", encoding="utf-8") as f:
            flag = {} if outbox is None else {"outbox": bool(outbox)}
            f.writelines(json.dumps({"writer": wid, "seq": seq, **flag, "events": [_row(r, e) for r, e in batch]})
                         + "\n" for wid, seq, batch in batches)
            f.flush()
            os.fsync(f.fileno())
        tmp.replace(path)
    except BaseException:  # a full disk: leave no half file behind
        tmp.unlink(missing_ok=True)
        raise
    return path


def load_flagged(path: Path) -> list[Flagged]:
    """The batches of a spill file, each with its line's outbox flag (None: an older file)."""
    out: list[Flagged] = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip():
            d = json.loads(line)
            flag = d.get("outbox")
            out.append(((d["writer"], int(d["seq"]), [_event(r) for r in d["events"]]),
                        None if flag is None else bool(flag)))
    return out


def load(path: Path) -> list[Batch]:
    return [b for b, _ in load_flagged(path)]


def pending_files(folder: Path | None) -> list[Path]:
    return sorted(folder.glob("*.jsonl")) if folder is not None and folder.is_dir() else []
