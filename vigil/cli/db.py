"""`vigil db upgrade|prune|stats`: the database's schema, retention and contents."""

from __future__ import annotations

import json
import sys
from typing import Annotated, Optional

import typer

from vigil.cli.app import app
from vigil.cli.query import ConfigOpt, DbOpt, resolve_db
from vigil.errors import VigilError

db_app = typer.Typer(help="The database: migrate it, prune old rows, see what it holds.", no_args_is_help=True)
app.add_typer(db_app, name="db")

_DAYS = dict(min=0.001, show_default=False)
EventsDaysOpt = Annotated[Optional[float], typer.Option(**_DAYS, help="Delete raw events "
    "older than this many days. Default: the --config site's retention.events_days, else keep.")]
AggregatesDaysOpt = Annotated[Optional[float], typer.Option(**_DAYS, help="Delete minute and 15-minute counts "
    "older than this many days. Default: retention.aggregates_days, else with the events.")]
HourlyDaysOpt = Annotated[Optional[float], typer.Option(**_DAYS, help="Delete hourly counts older than this "
    "many days (no less than the other two). Default: retention.hourly_days, else keep.")]


@db_app.command("upgrade")
def upgrade(db: DbOpt = None, config: ConfigOpt = None) -> None:
    """Migrate the schema to the version this Vigil needs (every command does it on open; run this
    once before starting many workers, e.g. as a Kubernetes init container)."""
    from vigil.store.engine import create, current_revision, masked, open_engine, parse_url
    from vigil.store.schema import HEAD_REVISION

    url = resolve_db(db, config)
    try:
        with create(parse_url(url)).connect() as conn:
            before = current_revision(conn)
    except Exception:  # noqa: BLE001 - open_engine below says what is wrong in one line
        before = None
    engine = open_engine(url)
    print(f"{masked(engine.url)}: schema at {HEAD_REVISION}" +
          (" (already)" if before == HEAD_REVISION else f" (was {before or 'empty'})"))
    engine.dispose()


@db_app.command("prune")
def prune(db: DbOpt = None, config: ConfigOpt = None,
          events_days: EventsDaysOpt = None, aggregates_days: AggregatesDaysOpt = None,
          hourly_days: HourlyDaysOpt = None,
          batch: Annotated[Optional[int], typer.Option(min=100, help="Rows per delete statement "
                                                                 "(default 5000).")] = None) -> None:
    """Delete raw events older than --events-days, minute/15-minute counts older than
    --aggregates-days (default: with the events) and hourly counts older than --hourly-days
    (default: keep), in batches. Defaults come from the --config site's `retention:` section.
    Counts by hour over the pruned range do not change. Safe while workers write."""
    from vigil.config.retention import RetentionConfig
    from vigil.store.engine import masked, open_engine
    from vigil.store.retention import Retention

    cfg = RetentionConfig()
    if config is not None:
        from vigil.config.load import read_yaml_model
        from vigil.config.site import SiteConfig

        cfg = read_yaml_model(config, SiteConfig).retention
    given = {k: v for k, v in {"events_days": events_days, "aggregates_days": aggregates_days,
                               "hourly_days": hourly_days, "batch": batch}.items() if v is not None}
    try:
        cfg = RetentionConfig(**{**cfg.model_dump(), **given})
    except ValueError as exc:
        raise VigilError(f"retention: {' '.join(str(exc).split())}") from None
    if not cfg.enabled:
        raise VigilError("nothing to prune: give --events-days (and --hourly-days), or a --config whose "
                         "`retention:` sets them")
    engine = open_engine(resolve_db(db, config), create_missing=False)

    def progress(table: str, n: int) -> None:
        if sys.stderr.isatty():
            print(f"\r{table}: {n:,} rows deleted", end="", file=sys.stderr, flush=True)

    done = Retention(engine, cfg).prune(progress)
    if sys.stderr.isatty():
        print(file=sys.stderr)
    print(f"{masked(engine.url)}: deleted " + (", ".join(f"{n:,} {t}" for t, n in done.rows.items())
                                             or "nothing") + f" in {done.seconds:.1f} s")
    engine.dispose()


@db_app.command("stats")
def stats(db: DbOpt = None, config: ConfigOpt = None,
          as_json: Annotated[bool, typer.Option("--json", help="print JSON")] = False) -> None:
    """Rows per table, the time range of the events and of each count level, runs by status,
    camera leases (which worker runs which camera) and the size on disk."""
    from vigil.store.engine import masked, open_engine
    from vigil.store.stats import db_stats

    engine = open_engine(resolve_db(db, config), create_missing=False)
    s = db_stats(engine)
    if as_json:
        print(json.dumps(s, indent=1))
        return
    print(f"database {masked(engine.url)}: {s['size_bytes'] / 2**20:,.1f} MiB"
          + (f"; TimescaleDB {s['timescaledb']}" if s["timescaledb"] else ""))
    print("rows: " + ", ".join(f"{t} {n:,}" for t, n in s["rows"].items()))
    print(f"events: {s['events']['first'] or '-'} .. {s['events']['last'] or '-'}")
    for level, a in s["aggregates"].items():
        print(f"counts per {level}: {a['rows']:,} rows, {a['first'] or '-'} .. {a['last'] or '-'}")
    print("runs: " + (", ".join(f"{k} {v}" for k, v in sorted(s["runs"].items())) or "none"))
    for lease in s["leases"]:
        print(f"lease {lease['site']}/{lease['camera']}: {lease['owner']} until {lease['expires']}")
    engine.dispose()
