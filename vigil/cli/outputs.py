"""`vigil outputs run|check`: deliver a site's outbox to its MQTT brokers and webhooks."""

from __future__ import annotations

import signal
import socket
import sys
import threading
import time
from pathlib import Path
from typing import Optional

import typer

from vigil.cli.app import app

outputs_app = typer.Typer(help="Deliver events to the site's outputs (MQTT, webhooks) from the outbox.",
                          no_args_is_help=True)
app.add_typer(outputs_app, name="outputs")


def load_checked(config: Path, cameras: list[str] | None = None):
    """The site config with its outputs checked (hosts resolve, TLS files exist): one line, exit 2."""
    from vigil.config.load import load_site
    from vigil.config.outputs import check_outputs
    from vigil.errors import ConfigError

    cfg = load_site(config)
    check_outputs(cfg.site.outputs, [c.id for c in cfg.site.cameras], cfg.site_dir, f"{cfg.site_path}: outputs")
    ids = [c.id for c in cfg.site.cameras]
    unknown = [c for c in cameras or [] if c not in ids]
    if unknown:
        raise ConfigError(f"camera '{unknown[0]}' is not in {cfg.site_path}; cameras there: {', '.join(ids)}")
    return cfg


@outputs_app.command("run")
def outputs_run(
    config: Path = typer.Argument(..., help="site config YAML with an outputs: section"),
    db: Optional[str] = typer.Option(None, "--db",
                                     help="SQLAlchemy database URL (default: $VIGIL_DB, else the config's database)"),
    camera: Optional[list[str]] = typer.Option(None, "--camera", help="deliver only this camera's events (repeatable)"),
    drain: bool = typer.Option(False, "--drain", help="exit once the outbox is delivered instead of running on"),
    timeout: float = typer.Option(600.0, "--timeout", help="with --drain: give up after this many seconds (exit 1)"),
    log_level: str = typer.Option("INFO", "--log-level", help="DEBUG, INFO, WARNING or ERROR"),
) -> None:
    """Deliver what waits in the outbox to the site's outputs.

    In order per camera, until SIGINT/SIGTERM, or with --drain until nothing is left (a
    progress line every 5 s). `vigil run` and `vigil replay` deliver by themselves while
    they run; this command is for what they left (an output was down) or to deliver from
    a process of its own."""
    from vigil.config.database import resolve_db_url
    from vigil.errors import ConfigError
    from vigil.live.logs import setup_logging
    from vigil.outputs.delivery import Delivery
    from vigil.store import Store

    cfg = load_checked(config, camera)
    if not cfg.site.outputs:
        raise ConfigError(f"{cfg.site_path} has no outputs: section; add an mqtt or webhook output "
                          "(see README, 'Events out')")
    setup_logging("text", log_level)
    # Delivers only what a replay or run left: a missing file is a wrong --db, not a new database.
    store = Store(resolve_db_url(db, cfg.site.database), create=False, outbox=True)
    stop = threading.Event()
    previous = {s: signal.signal(s, lambda *_: stop.set()) for s in (signal.SIGINT, signal.SIGTERM)}
    delivery = Delivery(cfg, store.engine, cameras=camera or None).start()
    try:
        if drain:
            deadline = time.monotonic() + timeout
            shown = time.monotonic()
            while not stop.is_set() and time.monotonic() < deadline:
                if delivery.drain(min(1.0, max(0.0, deadline - time.monotonic()))):
                    break
                if time.monotonic() - shown >= 5:
                    shown = time.monotonic()
                    print("delivering: " + ", ".join(f"{o['name']} {o['delivered']} sent, {o['depth']} waiting"
                                                     for o in delivery.snapshot()["outputs"]), file=sys.stderr)
            delivery.close()
            left = _left(delivery)
            got = ", ".join(f"{o['name']} {o['delivered']}" for o in delivery.snapshot()["outputs"])
            print(f"delivered: {got}; left in the outbox: {left}")
            if left:
                raise typer.Exit(1)
        else:
            stop.wait()
            delivery.close(grace=5.0)
    finally:
        for s, h in previous.items():
            signal.signal(s, h)
        store.close()


def _left(delivery) -> int:
    return max((o["depth"] for o in delivery.snapshot()["outputs"]), default=0)


@outputs_app.command("check")
def outputs_check(
    config: Path = typer.Argument(..., help="site config YAML with an outputs: section"),
) -> None:
    """Check the outputs as start-up does, then try to reach each one.

    The start-up checks of `vigil run` and `vigil replay`: secrets found, hosts resolve, TLS
    files exist (exit 2 otherwise). Then a TCP connect to each output: exit 1 if one is not
    reachable now."""
    from vigil.config.outputs import MqttOutput, endpoint
    from vigil.secrets import mask_url

    cfg = load_checked(config)
    down = 0
    for out in cfg.site.outputs:
        host, port = endpoint(out)
        shown = f"mqtt {host}:{port}" if isinstance(out, MqttOutput) else f"webhook {mask_url(out.url)}"
        try:
            socket.create_connection((host, port), timeout=5).close()
            print(f"{out.name}: {shown}: reachable")
        except OSError as exc:
            down += 1
            print(f"{out.name}: {shown}: not reachable now ({exc.strerror or exc}); events would wait in the outbox")
    if not cfg.site.outputs:
        print(f"{cfg.site_path}: no outputs configured")
    if down:
        raise typer.Exit(1)
