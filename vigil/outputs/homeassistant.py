"""Home Assistant MQTT discovery: one sensor per counted series (line or zone, class,
direction: a running count) and per zone and class (occupancy), grouped in one HA device per
camera, so counts appear in HA with no YAML there. Reference for the keys:
https://www.home-assistant.io/integrations/mqtt/#mqtt-discovery and
https://www.home-assistant.io/integrations/sensor.mqtt/ (tests/outputs checks them)."""

from __future__ import annotations

from dataclasses import dataclass

from vigil import __version__
from vigil.config.outputs import OutputFilter
from vigil.config.site import SiteConfig
from vigil.outputs.message import Topics, slug


@dataclass(frozen=True)
class Sensor:
    camera: str
    kind: str          # line | zone
    name: str
    class_name: str
    direction: str     # in | out | "" for occupancy

    @property
    def is_occupancy(self) -> bool:
        return not self.direction


def sensors(site: SiteConfig, classes: list[str], flt: OutputFilter) -> list[Sensor]:
    """Every state an output publishes for this site: counts of each line and zone per class
    and direction, occupancy of each zone per class; only what the output's filter lets through."""
    out = []
    for cam in site.cameras:
        for kind, shapes in (("line", cam.lines), ("zone", cam.zones)):
            for shape in shapes:
                for cls in classes:
                    if kind == "zone" and flt.match(cam.id, kind, shape.name, cls, "in"):
                        out.append(Sensor(cam.id, kind, shape.name, cls, ""))
                    out += [Sensor(cam.id, kind, shape.name, cls, d) for d in ("in", "out")
                            if flt.match(cam.id, kind, shape.name, cls, d)]
    return out


def state_topic(topics: Topics, s: Sensor) -> str:
    if s.is_occupancy:
        return topics.occupancy(s.camera, s.name, s.class_name)
    return topics.count(s.camera, s.name, s.class_name, s.direction)


def discovery(topics: Topics, prefix: str, site: str, s: Sensor) -> tuple[str, dict]:
    """(config topic, config payload) of one sensor."""
    node = slug(f"vigil_{site}_{s.camera}")
    what = "occupancy" if s.is_occupancy else f"{s.direction}_count"
    obj = slug(f"{s.name}_{s.class_name}_{what}")
    label = (f"{s.name} {s.class_name} occupancy" if s.is_occupancy
             else f"{s.name} {s.class_name} {s.direction}")
    config = {
        "name": label,
        "unique_id": f"{node}_{obj}",
        "state_topic": state_topic(topics, s),
        "state_class": "measurement" if s.is_occupancy else "total_increasing",
        "unit_of_measurement": s.class_name,
        "icon": "mdi:account-group" if s.is_occupancy else "mdi:counter",
        "availability": [{"topic": topics.availability}, {"topic": topics.camera_availability(s.camera)}],
        "availability_mode": "all",
        "payload_available": "online",
        "payload_not_available": "offline",
        "device": {"identifiers": [node], "name": f"Vigil {site} {s.camera}", "manufacturer": "Vigil",
                   "model": "people and vehicle counter", "sw_version": __version__},
        "origin": {"name": "Vigil", "sw_version": __version__},
    }
    return f"{prefix}/sensor/{node}/{obj}/config", config
