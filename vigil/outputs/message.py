"""What an output sends: the event as JSON (the public event row of `vigil events` and the
API, plus the site) and the MQTT topics it and the running states go to."""

from __future__ import annotations

import json
import re

from vigil.store.public import event_row

_LEVEL_BAD = re.compile(r"[/+#\x00]")
_SLUG_BAD = re.compile(r"[^A-Za-z0-9_\-]")


def payload(event: dict, site: str) -> dict:
    """{id, run, camera, line|zone, class, direction, track_id, time, [dwell_s], site, kind}."""
    return {**event_row(event), "kind": event["kind"], "site": site}


def body(p: dict) -> bytes:
    """The exact bytes sent (and signed): compact JSON, keys in a fixed order."""
    return json.dumps(p, separators=(",", ":"), sort_keys=True).encode()


def idempotency_key(p: dict) -> str:
    """Run and event id. The event id alone is not enough on SQLite: it reuses the ids of the
    last events when a replayed file replaces its earlier run; run ids are never reused."""
    return f"{p['run']}-{p['id']}"


def level(text: str) -> str:
    """One MQTT topic level: '/', '+' and '#' would change the topic's shape, so they become '_'."""
    return _LEVEL_BAD.sub("_", text) or "_"


def slug(text: str) -> str:
    """An id Home Assistant accepts in discovery topics and unique ids."""
    return _SLUG_BAD.sub("_", text)


class Topics:
    """Topic layout under `<prefix>/<site>`."""

    def __init__(self, prefix: str, site: str) -> None:
        self.base = f"{prefix}/{level(site)}"

    @property
    def availability(self) -> str:
        """The bridge (this process): 'online', or 'offline' via the broker's last will."""
        return f"{self.base}/availability"

    @property
    def claims(self) -> str:
        """Every process's claim (a subscription filter)."""
        return f"{self.base}/processes/+"

    def claim(self, process: str) -> str:
        """A process's retained claim on the cameras it speaks for, renewed every beat."""
        return f"{self.base}/processes/{level(process)}"

    def camera_availability(self, camera: str) -> str:
        return f"{self.base}/{level(camera)}/availability"

    def event(self, camera: str, name: str, class_name: str, direction: str) -> str:
        return f"{self.base}/{level(camera)}/{level(name)}/{level(class_name)}/{direction}"

    def count(self, camera: str, name: str, class_name: str, direction: str) -> str:
        """Retained running count of the series."""
        return self.event(camera, name, class_name, direction) + "/count"

    def occupancy(self, camera: str, zone: str, class_name: str) -> str:
        """Retained number of tracks of the class inside the zone."""
        return f"{self.base}/{level(camera)}/{level(zone)}/{level(class_name)}/occupancy"
