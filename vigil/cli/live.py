"""`vigil run`: the live daemon; `vigil status`: its per-camera health."""

from __future__ import annotations

import json
import signal
import sys
import threading
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Optional

import typer
from rich.console import Console
from rich.table import Table

from vigil.cli.app import app
from vigil.cli.outputs import load_checked
from vigil.cli.query import TOKEN_ENV, AllowWriteOpt, serve_token, served_hosts
from vigil.errors import VigilError


class StatusError(VigilError):
    pass


@app.command("run")
def run_live(
    config: Path = typer.Argument(..., help="site config YAML (configs/*.yaml)"),
    db: Optional[str] = typer.Option(None, "--db",
                                     help="SQLAlchemy database URL (default: $VIGIL_DB, else the config's database)"),
    camera: Optional[list[str]] = typer.Option(None, "--camera", help="watch only this camera (repeatable)"),
    metrics_port: Optional[int] = typer.Option(None, "--metrics-port", min=0, max=65535,
                                               help="serve Prometheus metrics here (overrides live.metrics_port)"),
    status_file: Optional[Path] = typer.Option(None, "--status-file", help="where to write the health file"),
    log_format: Optional[str] = typer.Option(None, "--log-format", help="text or json (overrides live.log_format)"),
    log_level: str = typer.Option("INFO", "--log-level", help="DEBUG, INFO, WARNING or ERROR"),
    http: Optional[str] = typer.Option(None, "--http", metavar="HOST:PORT",
                                       help="serve the dashboard and API here (e.g. 127.0.0.1:8080): live frames "
                                            "with tracks, health, counts, events, the line/zone editor; "
                                            "/healthz and /readyz for probes"),
    token: Optional[str] = typer.Option(None, "--token", envvar=TOKEN_ENV,
                                        help="with --http: require this token (bearer header, or the "
                                             "dashboard's sign-in); needed off loopback"),
    allowed_host: Optional[list[str]] = typer.Option(None, "--allowed-host",
                                                     help="with --http: also answer this Host header (repeatable)"),
    insecure_no_auth: bool = typer.Option(False, "--insecure-no-auth",
                                          help="with --http: serve without a token on a non-loopback address"),
    allow_config_write: AllowWriteOpt = False,
) -> None:
    """Watch every camera of a site until SIGINT/SIGTERM: detect, track, count, write events.

    Dead cameras are retried with backoff while the others run on. On SIGINT/SIGTERM the
    daemon stops its readers, analyses the frames already read and flushes every pending
    event before it exits. Health: `vigil status CONFIG` (or the metrics port, or --http's
    dashboard and /readyz)."""
    from vigil.api.app import host_pattern
    from vigil.config.database import resolve_db_url
    from vigil.live.build import build_daemon, check_cameras, check_leases
    from vigil.live.logs import setup_logging
    from vigil.live.metrics import EventTally, serve_metrics
    from vigil.pipeline.round import AnalysisRound
    from vigil.pipeline.stages import build_stages
    from vigil.store import Store
    from vigil.web.server import check_bindable, parse_address

    stop = threading.Event()

    def on_signal(signum, _frame) -> None:
        if stop.is_set():  # a second Ctrl-C while shutting down: give up on the clean stop
            raise KeyboardInterrupt
        stop.set()

    # Installed first: a SIGTERM while models load still ends in a clean (empty) stop.
    previous = {s: signal.signal(s, on_signal) for s in (signal.SIGINT, signal.SIGTERM)}
    server = web = None
    delivery = None
    try:
        if log_format not in (None, "text", "json"):
            raise VigilError(f"--log-format {log_format!r}: use text or json")
        if http is not None:  # a bad address or a taken port: said before the models load
            host, port_ = parse_address(http)
            check_bindable(host, port_)
            token = serve_token(token, host, insecure_no_auth)
        elif allow_config_write:
            raise VigilError("--allow-config-write needs --http HOST:PORT (it lets the dashboard's editor write)")
        cfg = load_checked(config)  # outputs too: an unknown broker host is one line now, not hours later
        live = cfg.site.live
        check_cameras(cfg, camera or None)  # bad URL, NVR or missing password: one line, before loading models
        setup_logging(log_format or live.log_format, log_level)
        port = metrics_port if metrics_port is not None else live.metrics_port
        if port is not None:  # taken: said before the models load
            check_bindable(live.metrics_address, port, "metrics port")
        store = Store(resolve_db_url(db, cfg.site.database), outbox=bool(cfg.site.outputs),
                      retention=cfg.site.retention)
        check_leases(cfg, store)
        detector, embedder = build_stages(cfg)
        daemon = build_daemon(cfg, store, AnalysisRound(detector, embedder), cameras=camera or None,
                              status_path=status_file)
        tally = EventTally()
        daemon.on_events = tally.add  # per-line counters for Prometheus: a dict update per event
        delivery = start_delivery(cfg, store, daemon)
        if delivery is not None:
            daemon.outputs = delivery.snapshot  # `vigil status` shows each output's delivery
        if port is not None:
            server = serve_metrics(daemon.snapshot, port, live.metrics_address, tally=tally,
                                   outputs=delivery.snapshot if delivery else None)
        if http is not None:
            from vigil.api.app import create_app
            from vigil.web.frames import FrameSource
            from vigil.web.server import HttpThread

            app_ = create_app(store, token, served_hosts(host, allowed_host),
                              frames=FrameSource(daemon, cfg.site, cfg.site_dir), site_path=Path(config),
                              allow_config_write=allow_config_write, vocab=cfg.pipeline.detector.vocabulary)
            web = HttpThread(app_, host, port_).start()
            print(f"dashboard on http://{host_pattern(host)}:{port_}/" + (" (token required)" if token else ""),
                  file=sys.stderr)
        daemon.run(stop)
        if daemon.failures and not stop.is_set():  # it ended on its own: every camera stopped, some failed
            raise VigilError("; ".join(f"camera '{c}' stopped: {why}" for c, why in daemon.failures.items()))
    finally:
        if delivery is not None:
            delivery.close(grace=5.0)  # what is left is delivered at the next start (or `vigil outputs run`)
        for s, h in previous.items():
            signal.signal(s, h)
        if server is not None:
            server.shutdown()
        if web is not None:
            web.stop()

def start_delivery(cfg, store, daemon):
    """The outputs' delivery threads for the daemon's cameras (None without outputs); MQTT
    shows a camera available while it streams."""
    if not cfg.site.outputs:
        return None
    from vigil.outputs.delivery import Delivery

    # the daemon's cameras now: with leases they come and go, and only their owner delivers them
    delivery = Delivery(cfg, store.engine, cameras=lambda: [c.camera_id for c in list(daemon.cameras)],
                        availability=lambda: {c.camera_id: c.feed.stats.state == "streaming"
                                              for c in list(daemon.cameras)}).start()
    store.on_commit = delivery.wake  # the daemon's writer is made in run(): it takes this
    return delivery


def _age(iso: str | None) -> float | None:
    if not iso:
        return None
    return (datetime.now(timezone.utc) - datetime.fromisoformat(iso)).total_seconds()


def _pid_alive(pid: int | None) -> bool:
    import os

    if not pid:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def read_status(path: Path) -> dict:
    if not path.is_file():
        raise StatusError(f"no status file at {path}; is `vigil run` running for this site? "
                          "(pass --file if it writes elsewhere)")
    for _ in range(3):  # written atomically, but be gentle with a racing rename on odd filesystems
        try:
            snap = json.loads(path.read_text(encoding="utf-8"))
            break
        except json.JSONDecodeError:
            time.sleep(0.1)
    else:
        raise StatusError(f"status file {path} is not valid JSON; is it a Vigil status file?")
    try:
        if isinstance(snap, dict) and isinstance(snap.get("cameras", []), list) and "state" in snap:
            _age(snap.get("updated"))
            return snap
    except (TypeError, ValueError):
        pass
    raise StatusError(f"{path} is JSON but not a Vigil status file (it needs state, updated and cameras); "
                      "pass the file `vigil run --status-file` writes")


def status_table(snap: dict) -> Table:
    table = Table(title=f"site {snap.get('site')}: {snap.get('state')} (pid {snap.get('pid')})")
    cols = [("camera", "camera"), ("state", "state"), ("decode fps", "decode_fps"), ("proc fps", "processed_fps"),
            ("dropped", "dropped_frames"), ("reconnects", "reconnects"), ("decode", "decoder"),
            ("last frame s", "last_frame_age_s"),
            ("infer ms", "inference_ms"), ("latency ms", "latency_ms"), ("events", "events")]
    for title, _ in cols:
        table.add_column(title, justify="left" if title in ("camera", "state") else "right")
    for cam in snap.get("cameras", []):
        table.add_row(*("-" if cam.get(k) is None else str(cam.get(k)) for _, k in cols))
    return table


def thermal_line(cam: dict) -> str:
    """A thermal camera's pairing for `vigil status`, from its health: 'gate thermal: mode auto,
    showing thermal (auto: 12 probes, 1 switch); 340 paired, 3 RGB frames without a partner'."""
    th = cam["thermal"]
    line = f"{cam['camera']} thermal: mode {th.get('mode')}"
    if th.get("mode") == "auto":
        line += f", showing {cam.get('detector_input')}"
    line += f"; {th.get('matched', 0)} paired, {th.get('unmatched_rgb', 0)} RGB frames without a partner"
    return line + (f"; thermal stream {th['state']}" if th.get("state") else "")


def output_line(out: dict) -> str:
    """One output's delivery for `vigil status`: 'output broker (mqtt): connected, 12 delivered, 0 waiting'."""
    state = ("connected, " if out.get("connected") else "not connected, ") if out.get("type") == "mqtt" else ""
    line = f"output {out.get('name')} ({out.get('type')}): {state}{out.get('delivered', 0)} delivered, " \
           f"{out.get('depth', 0)} waiting"
    if out.get("failures"):
        line += f", {out['failures']} failed attempts"
    if out.get("rejected"):
        line += f", {out['rejected']} rejected"
    from rich.markup import escape

    if out.get("last_error") and out.get("depth"):
        return f"[yellow]{escape(line + '; last error: ' + str(out['last_error']))}[/]"
    return escape(line)


@app.command("status")
def status(
    config: Optional[Path] = typer.Argument(None, help="site config YAML of the running daemon"),
    file: Optional[Path] = typer.Option(None, "--file", help="status file (default: the one for CONFIG's site)"),
    as_json: bool = typer.Option(False, "--json", help="print the raw status JSON"),
) -> None:
    """Per-camera health of a running `vigil run`: state, fps, dropped frames, reconnects,
    last frame age, inference time. Exit status: 0 while the daemon runs; 1 when its status file
    says it stopped or the file is no longer updated; 2 when there is no status file (the daemon
    never ran for this site, or it writes elsewhere: --file) or it is not a status file."""
    if file is None:
        if config is None:
            raise StatusError("give the site config (vigil status configs/site.yaml) or --file STATUS.json")
        from vigil.config.load import load_site
        from vigil.live.health import default_status_path

        site = load_site(config).site
        file = Path(site.live.status_file) if site.live.status_file else default_status_path(site.site)
    snap = read_status(file)
    if as_json:
        print(json.dumps(snap, indent=1))
    else:
        console = Console(width=None if sys.stdout.isatty() else 200)  # pipes/logs: no wrapped columns
        console.print(status_table(snap))
        engine = (snap.get("inference") or {}).get("engine")
        if engine:
            console.print(f"detector: {engine}", highlight=False)
        for cam in snap.get("cameras", []):
            if cam.get("last_error") and cam.get("state") != "streaming":
                console.print(f"[yellow]{cam['camera']}[/]: {cam['last_error']}", highlight=False)
            if cam.get("thermal"):
                console.print(thermal_line(cam), highlight=False)
            if cam.get("decode_fallbacks"):
                console.print(f"[yellow]{cam['camera']}[/]: hardware decode fell back to software "
                              f"{cam['decode_fallbacks']}x: {cam.get('decode_fallback_reason')}", highlight=False)
        for out in snap.get("outputs", []):
            console.print(output_line(out), highlight=False)
    age = _age(snap.get("updated"))
    running = snap.get("state") in ("running", "starting", "stopping") and _pid_alive(snap.get("pid"))
    if not running or (age is not None and age > 10 * max(1.0, snap.get("status_interval", 1.0))):
        print(f"daemon not running (state {snap.get('state')}, status updated {age:.0f} s ago)"
              if age is not None else "daemon not running")
        raise typer.Exit(1)
