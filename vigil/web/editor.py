"""The line/zone editor's server side: what the browser drew, checked by the same pydantic
models a site config is loaded with, back as a YAML snippet; and, only when `vigil run/serve`
were started with --allow-config-write, written into the site config."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import yaml
from pydantic import BaseModel, Field, ValidationError

from vigil.config.base import first_duplicate
from vigil.config.geometry import LineConfig, ZoneConfig
from vigil.config.load import _describe, load_site, parse_yaml
from vigil.errors import ConfigError


class Drawing(BaseModel):
    """What the editor posts: one camera's lines and zones (raw; validated into Geometry)."""

    camera: str = Field(min_length=1)
    lines: list[dict] = Field(default_factory=list)
    zones: list[dict] = Field(default_factory=list)


class Geometry(BaseModel):
    lines: list[LineConfig] = Field(default_factory=list)
    zones: list[ZoneConfig] = Field(default_factory=list)


def _plain(v: float) -> float | int:
    return int(v) if float(v).is_integer() else round(float(v), 1)


def validate(drawing: Drawing) -> Geometry:
    """The drawing as config models, or one ConfigError line naming the bad part."""
    try:
        geo = Geometry.model_validate({"lines": drawing.lines, "zones": drawing.zones})
    except ValidationError as err:
        raise ConfigError(_describe(err, Geometry)) from None
    if not geo.lines and not geo.zones:
        raise ConfigError("nothing drawn: place two points for a line or three or more for a zone")
    dup = first_duplicate([x.name for x in geo.lines] + [z.name for z in geo.zones])
    if dup is not None:
        raise ConfigError(f"the name '{dup}' is used twice; give each line and zone its own name")
    return geo


def as_data(geo: Geometry) -> dict:
    """Only what differs from the defaults, plus in_side (the one a reader must see)."""
    lines = []
    for ln in geo.lines:
        d = ln.model_dump(exclude_defaults=True)
        d["points"] = [[_plain(x), _plain(y)] for x, y in ln.points]
        d["in_side"] = ln.in_side
        lines.append(d)
    zones = []
    for z in geo.zones:
        d = z.model_dump(exclude_defaults=True)
        d["polygon"] = [[_plain(x), _plain(y)] for x, y in z.polygon]
        zones.append(d)
    return {k: v for k, v in (("lines", lines), ("zones", zones)) if v}


def as_config(geo: Geometry) -> dict:
    """as_data as a config writes it: a line given by in_direction without the in_side derived
    from it (the editor shows in_side; a file with both breaks when one is edited by hand)."""
    data = as_data(geo)
    for line in data.get("lines", []):
        if "in_direction" in line:
            line.pop("in_side")
    return data


def to_yaml(camera: str, geo: Geometry) -> str:
    """A snippet to paste under the camera's entry in the site config (cameras: - id: ...)."""
    data = as_config(geo)
    body = "".join(f"{key}:\n" + "".join(f"  - {yaml.safe_dump(item, default_flow_style=True, sort_keys=False)}"
                                          for item in items) for key, items in data.items())
    snippet = f"# camera {camera}: paste under its entry in the site config\n{body}"
    parse_yaml(snippet, Path("<editor>"))  # never hand out a snippet that does not parse
    return snippet


def write_site(site_path: Path, camera: str, geo: Geometry) -> Path:
    """Replace the camera's lines and zones in the site config; the old file is kept as
    SITE.bak. The new file is validated as a whole before it replaces the old one. Comments and
    key order of the YAML are not kept (PyYAML does not round-trip them)."""
    site_path = Path(site_path)
    raw = parse_yaml(site_path.read_text(encoding="utf-8"), site_path)
    cams = raw.get("cameras") if isinstance(raw, dict) else None
    entry = next((c for c in cams or [] if isinstance(c, dict) and c.get("id") == camera), None)
    if entry is None:
        raise ConfigError(f"camera '{camera}' is not in {site_path}")
    data = as_config(geo)
    entry["lines"], entry["zones"] = data.get("lines", []), data.get("zones", [])
    fd, tmp = tempfile.mkstemp(dir=site_path.parent, prefix=f".{site_path.name}.", suffix=".yaml")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            yaml.safe_dump(raw, f, sort_keys=False)
        try:  # the whole config must still load, its filter classes among its pipeline's
            load_site(tmp)
        except ConfigError as exc:  # name the site file, not the temporary copy checked
            raise ConfigError(str(exc).replace(str(Path(tmp).resolve()), str(site_path))
                              .replace(tmp, str(site_path))) from None
        shutil.copy2(site_path, site_path.with_name(site_path.name + ".bak"))
        os.replace(tmp, site_path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return site_path
