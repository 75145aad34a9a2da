"""FastAPI app: /api/counts, /api/events, /api/cameras with the same rows as the CLI's JSON,
OpenAPI docs at /docs, optional bearer token on every /api route."""

from __future__ import annotations

import secrets
from datetime import datetime
from typing import Literal

from fastapi import APIRouter, Depends, FastAPI, HTTPException, Query, Request
from fastapi.responses import JSONResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, ConfigDict, Field

from vigil import __version__
from vigil.errors import VigilError
from vigil.store import Store
from vigil.store.public import event_row, name_filter

Bucket = Literal["minute", "15min", "hour", "day", "week"]
Direction = Literal["in", "out"]

_TIME_HELP = "ISO 8601 date or date-time; without an offset it is local time in `tz`"


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


class CameraRow(BaseModel):
    id: str
    created: datetime
    lines: list[str]
    zones: list[str]
    classes: list[str]
    runs: int
    last_run_started: datetime | None


def create_app(store: Store, token: str | None = None) -> FastAPI:
    app = FastAPI(title="Vigil", version=__version__,
                  description="Vehicle and pedestrian counts from Vigil's store. "
                              + ("Every /api route needs `Authorization: Bearer <token>`." if token else ""))
    bearer = HTTPBearer(auto_error=False)

    def authorise(cred: HTTPAuthorizationCredentials | None = Depends(bearer)) -> None:
        if token and (cred is None or not secrets.compare_digest(cred.credentials.encode(), token.encode())):
            raise HTTPException(401, "missing or wrong bearer token", headers={"WWW-Authenticate": "Bearer"})

    @app.exception_handler(VigilError)
    async def _user_error(_request: Request, exc: VigilError) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=400)

    api = APIRouter(prefix="/api", dependencies=[Depends(authorise)])

    @api.get("/counts", response_model=list[CountRow], response_model_exclude_none=True, response_model_by_alias=True)
    def counts(camera: str | None = None, line: str | None = None, zone: str | None = None,
               class_: str | None = Query(None, alias="class"), direction: Direction | None = None,
               since: str | None = Query(None, description=_TIME_HELP),
               until: str | None = Query(None, description=_TIME_HELP + " (exclusive)"),
               by: Bucket | None = None, tz: str = Query("UTC", description="IANA time zone for buckets")):
        """Counts per camera, line/zone, class and direction, optionally per time bucket."""
        name, kind = name_filter(line, zone)
        return store.counts(camera, name, kind, class_, direction, since, until, by, tz, public=True)

    @api.get("/events", response_model=list[EventRow], response_model_exclude_none=True, response_model_by_alias=True)
    def events(camera: str | None = None, line: str | None = None, zone: str | None = None,
               class_: str | None = Query(None, alias="class"), direction: Direction | None = None,
               since: str | None = Query(None, description=_TIME_HELP),
               until: str | None = Query(None, description=_TIME_HELP + " (exclusive)"),
               tz: str = "UTC", limit: int = Query(1000, ge=1, le=100_000)):
        """Counted events, oldest first."""
        name, kind = name_filter(line, zone)
        return [event_row(r) for r in store.events(camera, name, kind, class_, direction, since, until, tz, limit)]

    @api.get("/cameras", response_model=list[CameraRow])
    def cameras():
        """Cameras with their lines, zones, classes seen and number of runs."""
        return store.cameras()

    @app.get("/healthz", include_in_schema=False)
    def healthz():
        return {"ok": True}

    app.include_router(api)
    return app
