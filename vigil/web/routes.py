"""Dashboard routes: the pages (/cameras, /counts, /events, /editor, /login) and the live API
(/api/cameras/{id}/frame.jpg, /tracks, /api/editor/*). The pages read the store with the same
calls as the JSON API, on the API's query threads, so a page shows what /api and the CLI show."""

from __future__ import annotations

import json
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, FastAPI, HTTPException, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates

from vigil.classes import ClassVocab
from vigil.errors import VigilError
from vigil.store import Store
from vigil.store.public import event_cursor, event_row, name_filter, parse_cursor
from vigil.store.queries import Filters
from vigil.store.timebuckets import parse_tz
from vigil.web import charts, editor
from vigil.web.frames import FrameSource, geometry_json, tracks_json

HERE = Path(__file__).parent
COOKIE = "vigil_token"
CHART_BUCKETS = ("15min", "hour", "day")
EVENTS_PAGE = 50
OffLoop = Callable[..., Awaitable[Any]]


@dataclass
class WebContext:
    store: Store
    frames: FrameSource
    token: str | None
    off_loop: OffLoop
    max_rows: int
    timeout_s: float
    site_path: Path | None = None  # the site config the editor may write (with allow_config_write)
    allow_config_write: bool = False
    vocab: ClassVocab | None = None  # the site pipeline's classes, which the class filter may name


def token_ok(token: str | None, given: str | None) -> bool:
    return not token or (given is not None and secrets.compare_digest(given.encode(), token.encode()))


def mount(app: FastAPI, api: APIRouter, ctx: WebContext) -> None:
    templates = Jinja2Templates(directory=str(HERE / "templates"))
    # to the second, offset kept: the viewer reads the time zone the page was asked in
    templates.env.filters["when"] = lambda iso: datetime.fromisoformat(iso).isoformat(sep=" ", timespec="seconds")
    app.mount("/static", StaticFiles(directory=str(HERE / "static")), name="static")

    def page(request: Request, name: str, status: int = 200, **values) -> Response:
        if not token_ok(ctx.token, request.cookies.get(COOKIE)):
            return RedirectResponse("/login?" + urlencode({"next": request.url.path}), status_code=303)
        values.setdefault("error", None)
        return templates.TemplateResponse(request, name, {"live": ctx.frames.live, "page": name[:-5], **values},
                                          status_code=status)

    # ------------------------------------------------------------------ auth
    @app.get("/login", include_in_schema=False, response_class=HTMLResponse)
    async def login_page(request: Request, next: str = "/cameras"):
        # only a path of this server: "//host" and "/\\host" would leave it (an open redirect)
        local = next.startswith("/") and not next.startswith(("//", "/\\"))
        return templates.TemplateResponse(request, "login.html", {"next": next if local else "/",
                                                                  "page": "login", "live": ctx.frames.live})

    @app.post("/login", include_in_schema=False)
    async def login(request: Request):
        body = await request.json()
        given = body.get("token") if isinstance(body, dict) else None
        if not isinstance(given, str) or not token_ok(ctx.token, given):
            raise HTTPException(401, "wrong token")
        resp = JSONResponse({"ok": True})
        # HttpOnly: page scripts never see it; Strict: no other site's page can send it along.
        resp.set_cookie(COOKIE, given, httponly=True, samesite="strict")
        return resp

    # ------------------------------------------------------------------ pages
    @app.get("/", include_in_schema=False)
    async def index():
        return RedirectResponse("/cameras", status_code=303)

    @app.get("/cameras", include_in_schema=False, response_class=HTMLResponse)
    async def cameras_page(request: Request):
        ids = ctx.frames.camera_ids()
        if not ids:
            ids = [c["id"] for c in await ctx.off_loop(ctx.store.cameras)]
        geometry = {cid: geometry_json(cfg) for cid in ids if (cfg := ctx.frames.camera_config(cid))}
        return page(request, "cameras.html", cameras=ids, health=ctx.frames.health(), geometry=geometry)

    @app.get("/counts", include_in_schema=False, response_class=HTMLResponse)
    async def counts_page(request: Request, camera: str | None = None, class_: str | None = None,
                          since: str | None = None, until: str | None = None, by: str = "hour",
                          tz: str = "UTC", split: str = "direction"):
        q = request.query_params
        class_ = q.get("class") or class_
        error, series, rows = None, [], []
        if by not in CHART_BUCKETS:
            by, error = "hour", f"bucket '{by}' is not one of {', '.join(CHART_BUCKETS)}"
        split = split if split in charts.SPLITS else "direction"
        if since is None and until is None:  # the last 7 days, in the viewer's zone
            try:
                since = (datetime.now(parse_tz(tz)) - timedelta(days=6)).date().isoformat()
            except VigilError as exc:
                error, tz = str(exc), "UTC"
        if error is None:
            try:
                f = Filters.parse(camera or None, None, None, class_ or None, None, since or None, until or None, tz)
                f = await ctx.off_loop(ctx.store.resolve_class, f, ctx.vocab)
                rows = await ctx.off_loop(ctx.store.counts, f, by=by, public=True, max_rows=ctx.max_rows,
                                          timeout_s=ctx.timeout_s)
                series = charts.group(rows, split)
            except VigilError as exc:
                error = str(exc)
        params = {k: v for k, v in (("camera", camera), ("class", class_), ("since", since), ("until", until),
                                    ("by", by), ("tz", tz)) if v}
        return page(request, "counts.html", status=400 if error else 200, error=error,
                    chart=charts.svg(series, by), legend=charts.legend_colors(series),
                    form={"camera": camera or "", "class": class_ or "", "since": since or "", "until": until or "",
                          "by": by, "tz": tz, "split": split}, buckets=CHART_BUCKETS, splits=charts.SPLITS,
                    csv_url="/api/counts?" + urlencode({**params, "format": "csv"}), rows=len(rows))

    @app.get("/events", include_in_schema=False, response_class=HTMLResponse)
    async def events_page(request: Request, camera: str | None = None, line: str | None = None,
                          zone: str | None = None, direction: str | None = None, since: str | None = None,
                          until: str | None = None, tz: str = "UTC", after: str | None = None):
        q = request.query_params
        class_ = q.get("class")
        error, rows, nxt = None, [], None
        try:
            name, kind = name_filter(line or None, zone or None)
            f = Filters.parse(camera or None, name, kind, class_ or None, direction or None, since or None,
                              until or None, tz)
            f = await ctx.off_loop(ctx.store.resolve_class, f, ctx.vocab)
            got = await ctx.off_loop(ctx.store.events, f, limit=EVENTS_PAGE + 1,
                                     after=parse_cursor(after) if after else None, timeout_s=ctx.timeout_s)
            if len(got) > EVENTS_PAGE:
                nxt = event_cursor(got[EVENTS_PAGE - 1])
            rows = [event_row(r) for r in got[:EVENTS_PAGE]]
        except VigilError as exc:
            error = str(exc)
        form = {k: q.get(k, "") for k in ("camera", "line", "zone", "class", "direction", "since", "until")}
        form["tz"] = tz
        base = {k: v for k, v in form.items() if v}
        # only the events that kept a crop ask GET /api/events/{id}/snapshot (not 50 404s a page)
        snapshots = await ctx.off_loop(ctx.store.with_snapshots, [r["id"] for r in rows]) if rows else set()
        return page(request, "events.html", status=400 if error else 200, error=error, rows=rows, form=form,
                    snapshots=snapshots,
                    next_url="/events?" + urlencode({**base, "after": nxt}) if nxt else None,
                    first_url="/events?" + urlencode(base) if after else None)

    @app.get("/editor", include_in_schema=False, response_class=HTMLResponse)
    async def editor_page(request: Request, camera: str | None = None):
        ids = ctx.frames.camera_ids()
        chosen = camera if camera in ids else (ids[0] if ids else None)
        cfg = ctx.frames.camera_config(chosen) if chosen else None
        return page(request, "editor.html", cameras=ids, camera=chosen,
                    # inside <script>: "<" escaped so a name cannot close the element
                    geometry=json.dumps(geometry_json(cfg) if cfg else {"lines": [], "zones": []})
                    .replace("<", "\\u003c"),
                    can_write=ctx.allow_config_write and ctx.site_path is not None)

    # ------------------------------------------------------------------ live API (token-checked by `api`)
    def known(camera_id: str) -> None:
        if camera_id not in ctx.frames.camera_ids():
            raise HTTPException(404, f"no camera '{camera_id}' here; cameras: "
                                     f"{', '.join(ctx.frames.camera_ids()) or 'none (no site config given)'}")

    @api.get("/cameras/{camera_id}/frame.jpg", response_class=Response,
             responses={200: {"content": {"image/jpeg": {}}}})
    async def frame_jpg(camera_id: str):
        """The camera's newest analysed frame as JPEG (encoded now, not per frame); without a
        running daemon, frame 0 of the camera's file source."""
        known(camera_id)
        jpeg = await ctx.off_loop(ctx.frames.frame_jpeg, camera_id)
        if jpeg is None:
            raise HTTPException(404, f"camera '{camera_id}' has no frame yet (not analysed, or not a file source)")
        return Response(jpeg, media_type="image/jpeg", headers={"Cache-Control": "no-store"})

    @api.get("/cameras/{camera_id}/tracks")
    async def tracks(camera_id: str):
        """The newest analysed frame's detections and tracks (boxes in that frame's pixels,
        class, track id), and the camera's lines and zones."""
        known(camera_id)
        cfg = ctx.frames.camera_config(camera_id)
        got = ctx.frames.latest(camera_id)
        body = ({"detections": [], "tracks": [], "frame": None} if got is None
                else tracks_json(*got, vocab=ctx.frames.vocab(camera_id)))
        return {**body, **(geometry_json(cfg) if cfg else {})}

    @api.post("/editor/yaml")
    async def editor_yaml(drawing: editor.Drawing):
        """Validate lines/zones drawn in the editor with the site config's models; the YAML
        snippet for the camera's entry, or a 400 with the one line that says what is wrong."""
        return {"yaml": editor.to_yaml(drawing.camera, editor.validate(drawing))}

    @api.post("/editor/save")
    async def editor_save(drawing: editor.Drawing):
        """Write the drawing into the site config (only with --allow-config-write)."""
        if not ctx.allow_config_write or ctx.site_path is None:
            raise HTTPException(403, "writing the site config is off; start with --allow-config-write "
                                     "(and a site config) to allow it, or paste the YAML yourself")
        known(drawing.camera)
        geo = editor.validate(drawing)
        path = await ctx.off_loop(editor.write_site, ctx.site_path, drawing.camera, geo)
        return {"written": str(path), "yaml": editor.to_yaml(drawing.camera, geo)}
