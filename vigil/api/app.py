"""FastAPI app: /api/counts, /api/events, /api/movements, /api/speeds, /api/cameras with the same rows
as the CLI's JSON,
OpenAPI docs at /docs with every asset served from this app, optional bearer token on every
/api route (or the dashboard's cookie holding it), a Host-header allow-list against DNS
rebinding, and the dashboard pages (vigil.web) with, under `vigil run --http`, live frames.

Bounded by design: count answers are capped at `Limits.max_rows` rows (a clear 400 beyond),
events come in pages of at most `Limits.max_events` with a cursor, answers are streamed, and
queries run on a small pool of their own threads with a time limit. /healthz is answered on
the event loop and touches no database, so a health check never waits behind a query.
"""

from __future__ import annotations

import asyncio
import ipaddress
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime
from functools import partial
from pathlib import Path
from typing import Annotated, Any, Literal, TypeVar

from fastapi import APIRouter, Depends, FastAPI, HTTPException, Query, Request
from fastapi.responses import JSONResponse, Response, StreamingResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from fastapi_offline import FastAPIOffline
from pydantic import BaseModel, ConfigDict, Field
from starlette.middleware.trustedhost import TrustedHostMiddleware

from vigil import __version__
from vigil.classes import ClassVocab
from vigil.errors import VigilError
from vigil.store import Store
from vigil.store.public import (
    event_cursor,
    event_row,
    iter_csv,
    iter_json,
    name_filter,
    parse_cursor,
)
from vigil.store.queries import Filters, QueryTimeout, reading
from vigil.types import Direction
from vigil.web.frames import FrameSource
from vigil.web.routes import COOKIE, WebContext, mount, token_ok

Bucket = Literal["minute", "15min", "hour", "day", "week"]
Format = Literal["json", "csv"]
T = TypeVar("T")

LOOPBACK_HOSTS = ("localhost", "127.0.0.1", "[::1]")
_TIME_HELP = "ISO 8601 date or date-time; without an offset it is local time in `tz`"
ClassQuery = Annotated[str | None, Query(alias="class", description="only this class (pedestrian, car, ... or one "
                                                                    "the pipeline named) or group (vehicle, heavy, "
                                                                    "...); any case: Car is car. An unknown class "
                                                                    "is a 400 listing the known ones")]
_CSV: dict[int | str, dict[str, Any]] = {
    200: {"content": {"text/csv": {}}, "description": "JSON rows, or CSV with `format=csv`"}}


@dataclass(frozen=True)
class Limits:
    max_rows: int = 100_000    # count rows (and buckets spanned) in one answer
    max_events: int = 10_000   # events in one page
    query_threads: int = 2     # queries running at once; more wait their turn, off the event loop
    timeout_s: float = 30.0    # per query, on the database


def is_loopback(host: str) -> bool:
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def host_pattern(host: str) -> str:
    """A --host value as it appears in a Host header: IPv6 addresses in brackets."""
    return f"[{host}]" if ":" in host and not host.startswith("[") else host.lower()


class _HostCheck(TrustedHostMiddleware):
    """Starlette's Host allow-list, except for /healthz and /readyz: probes address a server by
    its IP, and the answers hold no data."""

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] == "http" and scope["path"] in ("/healthz", "/readyz"):
            await self.app(scope, receive, send)
            return
        await super().__call__(scope, receive, send)


class CountRow(BaseModel):
    model_config = ConfigDict(populate_by_name=True)
    camera: str
    line: str | None = Field(None, description="line name (line rows only)")
    zone: str | None = Field(None, description="zone name (zone rows only)")
    class_: str = Field(alias="class")
    direction: Direction
    bucket: str | None = Field(None, description="ISO 8601 bucket start with offset (only with `by`)")
    count: int


class EventRow(BaseModel):
    model_config = ConfigDict(populate_by_name=True)
    id: int
    run: int
    camera: str
    line: str | None = None
    zone: str | None = None
    class_: str = Field(alias="class")
    direction: Direction
    track_id: int
    time: str = Field(description="ISO 8601 time in `tz`")
    dwell_s: float | None = Field(None, description="seconds inside the zone (zone exits only)")
    speed_kmh: float | None = Field(None, description="ground-plane speed (line events of cameras with `ground:`)")


class MovementRow(BaseModel):
    model_config = ConfigDict(populate_by_name=True)
    camera: str
    origin: str = Field(description="'line NAME' or 'zone NAME': the track's first crossing or zone entry")
    destination: str = Field(description="its last crossing or zone entry")
    class_: str = Field(alias="class")
    bucket: str | None = Field(None, description="ISO 8601 start of the bucket of the origin time (with `by`)")
    count: int


class SpeedRow(BaseModel):
    model_config = ConfigDict(populate_by_name=True)
    camera: str
    line: str
    class_: str = Field(alias="class")
    direction: Direction
    bucket: str | None = None
    speed_from: float = Field(description="km/h, inclusive")
    speed_to: float = Field(description="km/h, exclusive")
    count: int


class CameraRow(BaseModel):
    id: str
    created: datetime | None = Field(description="first seen by the store (None: live, nothing stored yet)")
    lines: list[str]
    zones: list[str]
    classes: list[str]
    runs: int
    last_run_started: datetime | None
    health: dict | None = Field(None, description="live health from the daemon (`vigil run --http` only): "
                                                  "state, fps, dropped frames, reconnects, last frame age, ...")


def _answer(rows: list[dict], fmt: str, headers: dict[str, str] | None = None) -> StreamingResponse:
    if fmt == "csv":
        return StreamingResponse(iter_csv(rows), media_type="text/csv; charset=utf-8", headers=headers)
    return StreamingResponse(iter_json(rows), media_type="application/json", headers=headers)


def create_app(store: Store, token: str | None = None, allowed_hosts: Iterable[str] = LOOPBACK_HOSTS,
               limits: Limits = Limits(), frames: FrameSource | None = None, site_path: Path | None = None,
               allow_config_write: bool = False, vocab: ClassVocab | None = None) -> FastAPI:
    """token None: no auth (the caller decided); an empty token is an error, never "no auth".
    vocab: the site pipeline's classes, which a `class` filter may name besides Vigil's and the store's.
    allowed_hosts: Host header names served (lower case, IPv6 in brackets; "*" = any).
    frames: the live daemon's frames and health (`vigil run --http`) and/or the site's cameras;
    site_path with allow_config_write: the editor may rewrite that site config."""
    if token is not None and not token.strip():
        raise VigilError("the API token is empty; set a real one, or pass none to serve without auth")
    pool = ThreadPoolExecutor(limits.query_threads, thread_name_prefix="vigil-query")
    frames = frames or FrameSource()

    @asynccontextmanager
    async def lifespan(_app: FastAPI):
        yield
        pool.shutdown(wait=False, cancel_futures=True)

    app = FastAPIOffline(title="Vigil", version=__version__, lifespan=lifespan,
                         description="Vehicle and pedestrian counts from Vigil's store. "
                                     + ("Every /api route needs `Authorization: Bearer <token>`." if token else ""))
    app.add_middleware(_HostCheck, allowed_hosts=list(allowed_hosts))
    bearer = HTTPBearer(auto_error=False)

    async def authorise(request: Request, cred: HTTPAuthorizationCredentials | None = Depends(bearer)) -> None:
        # The bearer header for programs; the dashboard's HttpOnly, SameSite=Strict cookie for browsers.
        given = cred.credentials if cred is not None else request.cookies.get(COOKIE)
        if not token_ok(token, given):
            raise HTTPException(401, "missing or wrong bearer token", headers={"WWW-Authenticate": "Bearer"})

    async def off_loop(fn: Callable[..., T], /, *args, **kw) -> T:
        return await asyncio.get_running_loop().run_in_executor(pool, partial(fn, *args, **kw))

    @app.exception_handler(VigilError)
    async def _user_error(_request: Request, exc: VigilError) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=503 if isinstance(exc, QueryTimeout) else 400)

    api = APIRouter(prefix="/api", dependencies=[Depends(authorise)])

    @api.get("/counts", response_model=list[CountRow], responses=_CSV,
             description="Counts per camera, line/zone, class and direction, optionally per time bucket. "
                         f"At most {limits.max_rows:,} rows (and buckets spanned): beyond that a 400 says "
                         "to narrow the range or use a coarser bucket. When the counts include events of "
                         "runs that ended early (interrupted, failed, error), the X-Vigil-Partial-Runs "
                         "header lists those run ids.")
    async def counts(camera: str | None = None, line: str | None = None, zone: str | None = None,
                     class_: ClassQuery = None, direction: Direction | None = None,
                     since: str | None = Query(None, description=_TIME_HELP),
                     until: str | None = Query(None, description=_TIME_HELP + " (exclusive)"),
                     by: Bucket | None = None, tz: str = Query("UTC", description="IANA time zone for buckets"),
                     fmt: Annotated[Format, Query(alias="format")] = "json"):
        def run() -> tuple[list[dict], list[dict]]:
            name, kind = name_filter(line, zone)
            f = store.resolve_class(Filters.parse(camera, name, kind, class_, direction, since, until, tz), vocab)
            rows = store.counts(f, by=by, public=True, max_rows=limits.max_rows, timeout_s=limits.timeout_s)
            return rows, [r for r in store.incomplete_runs(camera, since, until, tz) if r["events"]]

        rows, partial = await off_loop(run)
        # Runs that ended early (interrupted, failed, error): their counts are partial.
        headers = {"X-Vigil-Partial-Runs": ",".join(str(r["id"]) for r in partial)} if partial else None
        return _answer(rows, fmt, headers)

    @api.get("/events", response_model=list[EventRow], responses=_CSV)
    async def events(camera: str | None = None, line: str | None = None, zone: str | None = None,
                     class_: ClassQuery = None, direction: Direction | None = None,
                     since: str | None = Query(None, description=_TIME_HELP),
                     until: str | None = Query(None, description=_TIME_HELP + " (exclusive)"),
                     tz: str = "UTC",
                     limit: int = Query(min(1000, limits.max_events), ge=1, le=limits.max_events),
                     after: str | None = Query(None, description="cursor: the X-Next-Cursor header of the "
                                                                 "previous page"),
                     fmt: Annotated[Format, Query(alias="format")] = "json"):
        """Counted events, oldest first, a page at a time: when more follow, the answer's
        X-Next-Cursor header is the `after` that fetches the next page."""
        def run() -> tuple[list[dict], str | None]:
            name, kind = name_filter(line, zone)
            f = store.resolve_class(Filters.parse(camera, name, kind, class_, direction, since, until, tz), vocab)
            rows = store.events(f, limit=limit + 1, after=None if after is None else parse_cursor(after),
                                timeout_s=limits.timeout_s)
            nxt = event_cursor(rows[limit - 1]) if len(rows) > limit else None
            return [event_row(r) for r in rows[:limit]], nxt

        rows, nxt = await off_loop(run)
        return _answer(rows, fmt, {"X-Next-Cursor": nxt} if nxt else None)

    @api.get("/events/{event_id}/snapshot", response_class=Response,
             responses={200: {"content": {"image/jpeg": {}}}, 404: {"description": "no snapshot kept"}})
    async def snapshot(event_id: int):
        """The JPEG crop kept for an event (site `snapshots: {enabled: true}`); 404 when none."""
        jpeg = await off_loop(store.snapshot, event_id)
        if jpeg is None:
            raise HTTPException(404, f"no snapshot for event {event_id}")
        # an event's crop never changes: let browsers keep it
        return Response(jpeg, media_type="image/jpeg", headers={"Cache-Control": "private, max-age=86400"})

    @api.get("/movements", response_model=list[MovementRow], responses=_CSV)
    async def movements(camera: str | None = None, class_: ClassQuery = None,
                        since: str | None = Query(None, description=_TIME_HELP),
                        until: str | None = Query(None, description=_TIME_HELP + " (exclusive)"),
                        by: Bucket | None = None, tz: str = "UTC",
                        fmt: Annotated[Format, Query(alias="format")] = "json"):
        """Turning movements (origin-destination counts): per track, its first line crossing or
        zone entry to its last, per class and (with `by`) bucket of the origin time."""
        def run() -> list[dict]:
            f = store.resolve_class(Filters.parse(camera, None, None, class_, None, since, until, tz), vocab)
            return store.od(f, by=by, max_rows=limits.max_rows, timeout_s=limits.timeout_s)

        return _answer(await off_loop(run), fmt)

    @api.get("/speeds", response_model=list[SpeedRow], responses=_CSV)
    async def speeds(camera: str | None = None, line: str | None = None,
                     class_: ClassQuery = None, direction: Direction | None = None,
                     since: str | None = Query(None, description=_TIME_HELP),
                     until: str | None = Query(None, description=_TIME_HELP + " (exclusive)"),
                     bin_kmh: float = Query(10.0, description="histogram bin width in km/h"),
                     by: Bucket | None = None, tz: str = "UTC",
                     fmt: Annotated[Format, Query(alias="format")] = "json"):
        """Speed histogram of line crossings (cameras with a `ground:` section), per line, class
        and direction."""
        def run() -> list[dict]:
            f = store.resolve_class(Filters.parse(camera, line, "line" if line else None, class_, direction,
                                                  since, until, tz), vocab)
            return store.speeds(f, bin_kmh=bin_kmh, by=by, timeout_s=limits.timeout_s)

        return _answer(await off_loop(run), fmt)

    @api.get("/cameras", response_model=list[CameraRow])
    async def cameras():
        """Cameras with their lines, zones, classes seen and number of runs, and under
        `vigil run --http` each watched camera's live health."""
        rows = await off_loop(store.cameras)
        health = frames.health()
        for r in rows:
            r["health"] = health.pop(r["id"], None)
        rows += [{"id": cid, "created": None, "lines": [], "zones": [], "classes": [], "runs": 0,
                  "last_run_started": None, "health": h} for cid, h in health.items()]
        return rows

    @app.get("/healthz", include_in_schema=False)
    async def healthz():
        """The process answers (liveness); touches no database."""
        return {"ok": True}

    def store_reachable() -> None:
        with reading(store.engine, timeout_s=2.0) as conn:
            conn.exec_driver_sql("SELECT 1")

    @app.get("/readyz", include_in_schema=False)
    async def readyz():
        """200 once the daemon's cameras are started (when there is a daemon) and the store
        answers; 503 with the reason otherwise (readiness)."""
        daemon = frames.daemon
        if daemon is not None and daemon.state != "running":
            return JSONResponse({"ready": False, "reason": f"daemon {daemon.state}"}, status_code=503)
        try:
            # Not on the query pool: a probe must not queue behind long queries.
            await asyncio.wait_for(asyncio.to_thread(store_reachable), 3.0)
        except Exception as exc:
            return JSONResponse({"ready": False, "reason": f"store unreachable: {type(exc).__name__}"},
                                status_code=503)
        return {"ready": True}

    mount(app, api, WebContext(store, frames, token, off_loop, limits.max_rows, limits.timeout_s,
                               site_path, allow_config_write, vocab))
    app.include_router(api)
    return app
