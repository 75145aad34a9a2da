"""`vigil counts`, `vigil events`, `vigil serve`: query the store."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from vigil.cli.app import app
from vigil.errors import VigilError

TOKEN_ENV = "VIGIL_API_TOKEN"
FORMATS = ("table", "csv", "json")
MAX_LIMIT = 2**63 - 1  # SQLite and PostgreSQL LIMIT are 64-bit

DbOpt = Annotated[str | None, typer.Option("--db", show_default=False,
    help="Database URL (sqlite:///vigil.db, postgresql+psycopg://user:pw@host/db) or SQLite file path. "
         "Default: $VIGIL_DB, else the site config's `database` with --config, else sqlite:///vigil.db.")]
ConfigOpt = Annotated[Path | None, typer.Option("--config", help="Site YAML whose `database` to use.")]
CameraOpt = Annotated[str | None, typer.Option("--camera", help="Only this camera id.")]
LineOpt = Annotated[str | None, typer.Option("--line", help="Only this counting line (and no zones).")]
ZoneOpt = Annotated[str | None, typer.Option("--zone", help="Only this zone (and no lines).")]
ClassOpt = Annotated[str | None, typer.Option("--class", help="Only this class: pedestrian, bicycle, car, "
                                                              "motorcycle, bus, truck, or a class the "
                                                              "pipeline's detector.classes named (forklift), "
                                                              "or a group for all its classes (vehicle, "
                                                              "motor_vehicle, heavy; with --config also the "
                                                              "pipeline's detector.groups); any case (Car "
                                                              "is car). A name none of these is refused.")]
DirectionOpt = Annotated[str | None, typer.Option("--direction", help="Only 'in' or 'out'.")]
SinceOpt = Annotated[str | None, typer.Option("--since", help="From this ISO 8601 date/time (inclusive); "
                                                              "without offset it is in --tz.")]
UntilOpt = Annotated[str | None, typer.Option("--until", help="Up to this ISO 8601 date/time (exclusive).")]
TzOpt = Annotated[str, typer.Option("--tz", help="IANA time zone for buckets and naive times, "
                                                 "e.g. Europe/Berlin.")]
FormatOpt = Annotated[str, typer.Option("--format", help="table, csv or json.")]
AllowWriteOpt = Annotated[bool, typer.Option("--allow-config-write",
    help="Let the dashboard's editor rewrite the site config's lines and zones (the old file is kept as "
         ".bak). Off by default: the editor then only hands out YAML to paste.")]


def resolve_db(db: str | None, config: Path | None) -> str:
    """--db > $VIGIL_DB > the --config site's `database` > the default (vigil.config.database)."""
    from vigil.config.database import resolve_db_url

    configured = None
    if config is not None and not db:
        from vigil.config.load import read_yaml_model
        from vigil.config.site import SiteConfig

        configured = read_yaml_model(config, SiteConfig).database
    return resolve_db_url(db, configured)


def _check_format(fmt: str) -> None:
    if fmt not in FORMATS:
        raise VigilError(f"--format '{fmt}' is not one of {', '.join(FORMATS)}")


def _check_direction(direction: str | None) -> None:
    from vigil.types import DIRECTIONS

    if direction is not None and direction not in DIRECTIONS:
        raise VigilError(f"--direction '{direction}' must be 'in' or 'out'")


def class_vocab(class_name: str | None, config: Path | None):
    """The --config site's pipeline classes, which --class may name too; read only when needed."""
    if class_name is None or config is None:
        return None
    from vigil.config.load import load_site

    try:
        return load_site(config).pipeline.detector.vocabulary
    except VigilError as exc:  # the database alone still answers: Vigil's and the store's classes
        print(f"note: the site's pipeline classes are not known ({' '.join(str(exc).split())[:200]})",
              file=sys.stderr)
        return None


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
               tz: TzOpt = "UTC", fmt: FormatOpt = "table",
               od: Annotated[bool, typer.Option("--od", help="Turning movements instead: per track, from its first "
                                                             "line crossing or zone entry (origin) to its last "
                                                             "(destination), per class and --by bucket of the "
                                                             "origin time.")] = False,
               speed: Annotated[bool, typer.Option("--speed", help="Speed histogram of line crossings instead "
                                                                   "(cameras with a `ground:` section).")] = False,
               bin_kmh: Annotated[float | None, typer.Option("--bin", show_default=False,
                                                             help="With --speed: histogram bin width, km/h "
                                                                  "(default 10).")] = None
               ) -> None:
    r"""Counts per camera, line/zone, class and direction, optionally per time bucket.

    JSON rows: {camera, line|zone, class, direction, bucket (ISO 8601 start, only with --by), count}.
    With --od: {camera, origin, destination, class, \[bucket], count} (origin/destination: 'line NAME'
    or 'zone NAME'). With --speed: {camera, line, class, direction, \[bucket], speed_from, speed_to, count}.
    """
    from vigil.store import Store
    from vigil.store.public import name_filter
    from vigil.store.queries import Filters

    _check_format(fmt)
    _check_direction(direction)
    if od and speed:
        raise VigilError("give --od or --speed, not both")
    if od and (line or zone or direction):
        raise VigilError("--od counts movements between lines and zones; drop --line/--zone/--direction")
    if speed and zone:
        raise VigilError("--speed is measured on lines; give --line, not --zone")
    if bin_kmh is not None and not speed:
        raise VigilError("--bin is the speed histogram's bin width; add --speed, or drop --bin")
    name, kind = name_filter(line, zone)
    f = Filters.parse(camera, name, kind, class_name, direction, since, until, tz)
    store = Store(resolve_db(db, config), create=False)
    try:
        f = store.resolve_class(f, class_vocab(class_name, config))
        if od or speed:
            rows = store.od(f, by=by) if od else store.speeds(f, bin_kmh=10.0 if bin_kmh is None else bin_kmh, by=by)
            emit(rows, fmt, "turning movements" if od else "speeds (km/h)")
            return
        rows = store.counts(f, by=by, public=True)
        partial = [r for r in store.incomplete_runs(camera, since, until, tz) if r["events"]]
    finally:
        store.close()
    emit(rows, fmt, "counts")
    if partial:  # on stderr: JSON and CSV on stdout stay as they are
        runs = ", ".join(f"run {r['id']} ({r['camera']}, {r['status']}, {r['events']} events)" for r in partial[:5])
        more = f" and {len(partial) - 5} more" if len(partial) > 5 else ""
        print(f"note: partial counts: {runs}{more} ended early; replay those files again to complete them "
              "(`vigil runs` lists them)", file=sys.stderr)


@app.command("events")
def events_cmd(db: DbOpt = None, config: ConfigOpt = None, camera: CameraOpt = None, line: LineOpt = None,
               zone: ZoneOpt = None, class_name: ClassOpt = None, direction: DirectionOpt = None,
               since: SinceOpt = None, until: UntilOpt = None, tz: TzOpt = "UTC",
               limit: Annotated[int, typer.Option("--limit", help="At most this many events (0: all).")] = 1000,
               fmt: FormatOpt = "table") -> None:
    """Counted events (line crossings, zone entries/exits), oldest first."""
    from vigil.store import Store
    from vigil.store.public import event_row, name_filter
    from vigil.store.queries import Filters

    _check_format(fmt)
    _check_direction(direction)
    if not 0 <= limit <= MAX_LIMIT:
        raise VigilError(f"--limit must be from 0 (all) to {MAX_LIMIT}, got {limit}")
    name, kind = name_filter(line, zone)
    f = Filters.parse(camera, name, kind, class_name, direction, since, until, tz)
    store = Store(resolve_db(db, config), create=False)
    try:
        rows = store.events(store.resolve_class(f, class_vocab(class_name, config)), limit=limit or None)
    finally:
        store.close()
    if limit and len(rows) == limit:
        print(f"showing the first {limit} events; raise --limit (0 = all) or narrow the range", file=sys.stderr)
    emit([event_row(r) for r in rows], fmt, "events")


@app.command("runs")
def runs_cmd(db: DbOpt = None, config: ConfigOpt = None, camera: CameraOpt = None,
             fmt: FormatOpt = "table") -> None:
    """Every replay and live run: camera, kind, status (running, done, replaced, interrupted,
    failed, error), frames, start and end (UTC), source (passwords masked) and error.
    Counts of interrupted/failed/error runs are partial; `vigil counts` says so."""
    from datetime import datetime, timezone

    from vigil.secrets import mask_text, mask_url
    from vigil.store import Store

    _check_format(fmt)

    def iso(us):
        return None if us is None else datetime.fromtimestamp(us / 1e6, timezone.utc).isoformat(timespec="seconds")

    store = Store(resolve_db(db, config), create=False)
    try:
        rows = [{"id": r["id"], "camera": r["camera_id"], "kind": r["kind"], "status": r["status"],
                 "frames": r["frames"], "started": iso(r["started_us"]), "finished": iso(r["finished_us"]),
                 "source": mask_url(r["source"] or ""), "error": mask_text(r["error"]) if r["error"] else None}
                for r in store.runs(camera)]
    finally:
        store.close()
    emit(rows, fmt, "runs")


@app.command("serve")
def serve_cmd(db: DbOpt = None, config: ConfigOpt = None,
              host: Annotated[str, typer.Option("--host", help="Address to listen on. Any address other than "
                                                               "loopback needs a token.")] = "127.0.0.1",
              port: Annotated[int, typer.Option("--port", help="TCP port.")] = 8000,
              token: Annotated[str | None, typer.Option("--token", envvar=TOKEN_ENV,
                  help="Require `Authorization: Bearer TOKEN` on /api routes.")] = None,
              allowed_host: Annotated[list[str] | None, typer.Option("--allowed-host",
                  help="Also answer requests whose Host header names this (repeatable; '*' = any). "
                       "Loopback names and --host are always allowed.")] = None,
              insecure_no_auth: Annotated[bool, typer.Option("--insecure-no-auth",
                  help="Serve without a token on a non-loopback --host, or with an empty "
                       f"{TOKEN_ENV}: anyone who can reach the port reads every count.")] = False,
              allow_config_write: AllowWriteOpt = False) -> None:
    """HTTP API (/api/counts, /api/events, /api/movements, /api/speeds, /api/cameras; OpenAPI docs at
    /docs) and the dashboard (/cameras, /counts, /events, /editor) over the store. With --config the
    editor draws on a frame of each camera's file source. Live frames and health:
    `vigil run SITE --http HOST:PORT`."""
    import gc

    import uvicorn

    from vigil.api.app import create_app, host_pattern, is_loopback
    from vigil.store import Store
    from vigil.web.frames import FrameSource

    if not 0 < port < 65536:
        raise VigilError(f"--port {port} is not a TCP port (1-65535)")
    token = serve_token(token, host, insecure_no_auth)
    hosts = served_hosts(host, allowed_host)
    frames, vocab = FrameSource(), None
    if config is not None:
        from vigil.config.load import load_site, read_yaml_model
        from vigil.config.site import SiteConfig

        frames = FrameSource(site=read_yaml_model(config, SiteConfig), site_dir=config.parent)
        try:
            vocab = load_site(config).pipeline.detector.vocabulary
        except VigilError:  # serving needs only the database; `class` is then checked against Vigil's and the store's
            pass
    if allow_config_write and config is None:
        raise VigilError("--allow-config-write needs --config SITE (the file the editor writes)")
    store = Store(resolve_db(db, config), create=False)
    if token is None and not is_loopback(host):
        print(f"WARNING: serving {store.url} WITHOUT AUTH on {host}: anyone who can reach port {port} "
              "reads every count (--insecure-no-auth)", file=sys.stderr)
    print(f"serving {store.url} on http://{host_pattern(host)}:{port} (docs: /docs)"
          + (", bearer token required" if token else "") + f"; Host headers allowed: {', '.join(hosts)}",
          file=sys.stderr)
    api = create_app(store, token, hosts, frames=frames, site_path=config,
                     allow_config_write=allow_config_write, vocab=vocab)
    # Keep /healthz quick while queries build big answers: the event loop gets the GIL back from
    # query threads within ~1 ms, and full garbage collections (which hold the GIL throughout) no
    # longer walk the ~1e5 objects of the loaded libraries (a ~40 ms pause each; bench/api_load.py).
    sys.setswitchinterval(0.001)
    gc.freeze()
    try:
        uvicorn.run(api, host=host, port=port, log_level="info")
    finally:
        store.close()


def served_hosts(host: str, allowed_host: list[str] | None) -> list[str]:
    """Host headers answered: loopback names, the listening address, and --allowed-host."""
    from vigil.api.app import LOOPBACK_HOSTS, host_pattern

    return list(dict.fromkeys([*LOOPBACK_HOSTS, *([] if host in ("0.0.0.0", "::") else [host_pattern(host)]),
                               *(host_pattern(h) for h in allowed_host or [])]))


def serve_token(token: str | None, host: str, insecure_no_auth: bool) -> str | None:
    """The token to require, or None for no auth, which must be asked for off loopback. Click
    reads an empty environment variable as unset, so it is looked at here."""
    import os

    from vigil.api.app import is_loopback

    given = token if token is not None else os.environ.get(TOKEN_ENV)
    if given is not None and not given.strip():
        if not insecure_no_auth:
            raise VigilError(f"the API token is empty (--token or {TOKEN_ENV}); set a real token, or pass "
                             "--insecure-no-auth to serve without one")
        return None
    if given is None and not is_loopback(host) and not insecure_no_auth:
        raise VigilError(f"--host {host} is reachable from other machines and no token is set; set "
                         f"{TOKEN_ENV} (or --token), or pass --insecure-no-auth to serve without auth")
    return given
