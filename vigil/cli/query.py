"""`vigil counts`, `vigil events`, `vigil serve`: query the store."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from vigil.cli.app import app
from vigil.errors import VigilError

DEFAULT_DB = "sqlite:///vigil.db"
FORMATS = ("table", "csv", "json")

DbOpt = Annotated[str | None, typer.Option("--db", envvar="VIGIL_DB", show_default=False,
    help="Database URL (sqlite:///vigil.db, postgresql+psycopg://user:pw@host/db) or SQLite file path. "
         "Default: the site config's `database` with --config, else sqlite:///vigil.db.")]
ConfigOpt = Annotated[Path | None, typer.Option("--config", help="Site YAML whose `database` to use.")]
CameraOpt = Annotated[str | None, typer.Option("--camera", help="Only this camera id.")]
LineOpt = Annotated[str | None, typer.Option("--line", help="Only this counting line (and no zones).")]
ZoneOpt = Annotated[str | None, typer.Option("--zone", help="Only this zone (and no lines).")]
ClassOpt = Annotated[str | None, typer.Option("--class", help="Only this class: pedestrian, bicycle, car, "
                                                              "motorcycle, bus, truck.")]
DirectionOpt = Annotated[str | None, typer.Option("--direction", help="Only 'in' or 'out'.")]
SinceOpt = Annotated[str | None, typer.Option("--since", help="From this ISO 8601 date/time (inclusive); "
                                                              "without offset it is in --tz.")]
UntilOpt = Annotated[str | None, typer.Option("--until", help="Up to this ISO 8601 date/time (exclusive).")]
TzOpt = Annotated[str, typer.Option("--tz", help="IANA time zone for buckets and naive times, "
                                                 "e.g. Europe/Berlin.")]
FormatOpt = Annotated[str, typer.Option("--format", help="table, csv or json.")]


def resolve_db(db: str | None, config: Path | None) -> str:
    if db:
        return db
    if config is not None:
        from vigil.config.load import read_yaml_model
        from vigil.config.site import SiteConfig

        return read_yaml_model(config, SiteConfig).database
    return DEFAULT_DB


def _check_format(fmt: str) -> None:
    if fmt not in FORMATS:
        raise VigilError(f"--format '{fmt}' is not one of {', '.join(FORMATS)}")


def _check_direction(direction: str | None) -> None:
    if direction is not None and direction not in ("in", "out"):
        raise VigilError(f"--direction '{direction}' must be 'in' or 'out'")


def emit(rows: list[dict], fmt: str, title: str) -> None:
    from vigil.store.public import table_columns, to_csv, to_json

    if fmt == "json":
        sys.stdout.write(to_json(rows) + "\n")
    elif fmt == "csv":
        sys.stdout.write(to_csv(rows))
    elif not rows:
        print(f"no {title} match", file=sys.stderr)
    else:
        from rich.console import Console
        from rich.table import Table

        cols = table_columns(rows)
        table = Table(*cols, title=title)
        for r in rows:
            table.add_row(*("" if r.get(c) is None else str(r[c]) for c in cols))
        Console().print(table)


@app.command("counts")
def counts_cmd(db: DbOpt = None, config: ConfigOpt = None, camera: CameraOpt = None, line: LineOpt = None,
               zone: ZoneOpt = None, class_name: ClassOpt = None, direction: DirectionOpt = None,
               since: SinceOpt = None, until: UntilOpt = None,
               by: Annotated[str | None, typer.Option("--by", help="Bucket size: minute, 15min, hour, day "
                                                                   "or week (weeks start on Monday).")] = None,
               tz: TzOpt = "UTC", fmt: FormatOpt = "table") -> None:
    """Counts per camera, line/zone, class and direction, optionally per time bucket.

    JSON rows: {camera, line|zone, class, direction, bucket (ISO 8601 start, only with --by), count}.
    """
    from vigil.store import Store
    from vigil.store.public import name_filter

    _check_format(fmt)
    _check_direction(direction)
    name, kind = name_filter(line, zone)
    store = Store(resolve_db(db, config), create=False)
    try:
        rows = store.counts(camera, name, kind, class_name, direction, since, until, by, tz, public=True)
    finally:
        store.close()
    emit(rows, fmt, "counts")


@app.command("events")
def events_cmd(db: DbOpt = None, config: ConfigOpt = None, camera: CameraOpt = None, line: LineOpt = None,
               zone: ZoneOpt = None, class_name: ClassOpt = None, direction: DirectionOpt = None,
               since: SinceOpt = None, until: UntilOpt = None, tz: TzOpt = "UTC",
               limit: Annotated[int, typer.Option("--limit", help="At most this many events (0: all).")] = 1000,
               fmt: FormatOpt = "table") -> None:
    """Counted events (line crossings, zone entries/exits), oldest first."""
    from vigil.store import Store
    from vigil.store.public import event_row, name_filter

    _check_format(fmt)
    _check_direction(direction)
    if limit < 0:
        raise VigilError(f"--limit must be >= 0, got {limit}")
    name, kind = name_filter(line, zone)
    store = Store(resolve_db(db, config), create=False)
    try:
        rows = store.events(camera, name, kind, class_name, direction, since, until, tz, limit or None)
    finally:
        store.close()
    if limit and len(rows) == limit:
        print(f"showing the first {limit} events; raise --limit (0 = all) or narrow the range", file=sys.stderr)
    emit([event_row(r) for r in rows], fmt, "events")


@app.command("serve")
def serve_cmd(db: DbOpt = None, config: ConfigOpt = None,
              host: Annotated[str, typer.Option("--host", help="Address to listen on.")] = "127.0.0.1",
              port: Annotated[int, typer.Option("--port", help="TCP port.")] = 8000,
              token: Annotated[str | None, typer.Option("--token", envvar="VIGIL_API_TOKEN",
                  help="Require `Authorization: Bearer TOKEN` on /api routes.")] = None) -> None:
    """HTTP API: /api/counts, /api/events, /api/cameras; OpenAPI docs at /docs."""
    import uvicorn

    from vigil.api.app import create_app
    from vigil.store import Store

    if not 0 < port < 65536:
        raise VigilError(f"--port {port} is not a TCP port (1-65535)")
    store = Store(resolve_db(db, config))
    print(f"serving {store.url} on http://{host}:{port} (docs: /docs)"
          + (", bearer token required" if token else ""), file=sys.stderr)
    try:
        uvicorn.run(create_app(store, token), host=host, port=port, log_level="info")
    finally:
        store.close()
