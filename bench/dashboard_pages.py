"""Dashboard page load times on a store of N synthetic events (vigil/bench/count_queries.py, the
`vigil bench counts` store), served by the real app (uvicorn in a thread, as `vigil run --http`
does) and loaded in Debian's Chromium through Playwright.

    python bench/dashboard_pages.py --events 1000000 --rounds 5

Per page: the server's answer time (httpx, whole HTML) and the browser's load time (navigation
start to the load event, assets included), median and worst of --rounds after one warm-up.
Prints one JSON object. Outside the package: Playwright is a dev dependency.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.support.rtsp_harness import free_port  # noqa: E402
from vigil.api.app import create_app  # noqa: E402
from vigil.bench import count_queries  # noqa: E402
from vigil.web.server import HttpThread  # noqa: E402

ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--no-first-run"]
# The bench store spans 2026-01-05 .. +days; cam1 has 36 series.
PAGES = [
    ("counts, 30 days by day", "/counts?since=2026-01-05&until=2026-02-04&by=day"),
    ("counts, 7 days by hour", "/counts?since=2026-01-28&until=2026-02-04&by=hour&tz=Europe/Berlin"),
    ("counts, 7 days by hour, per class", "/counts?since=2026-01-28&until=2026-02-04&by=hour&split=class"),
    ("counts, 1 day by 15min, one camera", "/counts?camera=cam1&since=2026-01-20&until=2026-01-21&by=15min"),
    ("events, first page", "/events"),
    ("events, filtered (cam2, car, in, a day)",
     "/events?camera=cam2&class=car&direction=in&since=2026-01-20&until=2026-01-21"),
    ("cameras", "/cameras"),
    ("editor", "/editor"),
]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--events", type=int, default=1_000_000)
    ap.add_argument("--days", type=int, default=30)
    ap.add_argument("--cameras", type=int, default=2)
    ap.add_argument("--rounds", type=int, default=5)
    args = ap.parse_args()

    import httpx
    from playwright.sync_api import sync_playwright

    path = count_queries.default_path(args.events, args.days, args.cameras)
    store = count_queries.generate(path, args.events, args.days, args.cameras, log=lambda m: print(m, file=sys.stderr))
    port = free_port()
    web = HttpThread(create_app(store), "127.0.0.1", port).start()
    base = f"http://127.0.0.1:{port}"
    # a deep page of events: the cursor from half-way through
    mid = store.events(limit=1, after=None, since="2026-01-20")[0]
    from vigil.store.public import event_cursor

    pages = PAGES + [("events, a page half-way (cursor)", f"/events?after={event_cursor(mid)}")]
    out: dict = {"events": args.events, "db": str(path), "rounds": args.rounds, "pages": []}
    try:
        with sync_playwright() as pw, httpx.Client(base_url=base, timeout=60) as client:
            browser = pw.chromium.launch(executable_path="/usr/bin/chromium", headless=True, args=ARGS)
            page = browser.new_page(base_url=base)
            for label, url in pages:
                server, loaded = [], []
                for i in range(args.rounds + 1):
                    t = time.perf_counter()
                    r = client.get(url)
                    dt = 1000 * (time.perf_counter() - t)
                    assert r.status_code == 200, (url, r.status_code, r.text[:300])
                    page.goto(url, wait_until="load")
                    nav = page.evaluate("JSON.stringify(performance.getEntriesByType('navigation')[0])")
                    if i:  # the first round warms caches (SQLite pages, Jinja templates)
                        server.append(dt)
                        loaded.append(json.loads(nav)["loadEventEnd"])
                out["pages"].append({"page": label, "url": url, "html_kb": round(len(r.content) / 1024, 1),
                                     "server_ms_median": round(statistics.median(server), 1),
                                     "server_ms_max": round(max(server), 1),
                                     "browser_load_ms_median": round(statistics.median(loaded), 1),
                                     "browser_load_ms_max": round(max(loaded), 1)})
            browser.close()
    finally:
        web.stop()
        store.close()
    out["loadavg"] = open("/proc/loadavg").read().split()[:3]
    out["cpus"] = os.cpu_count()
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
