"""Load site and pipeline YAML into validated models; every failure is one ConfigError line.

String values may reference secrets kept out of the file, ${NAME} and ${file:PATH} (see
vigil.config.refs), substituted after YAML parsing, so a secret can never change the file's structure.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from vigil.config.pipeline import PipelineConfig
from vigil.config.refs import resolve_file, substitute
from vigil.config.site import CameraConfig, SiteConfig
from vigil.errors import ConfigError

M = TypeVar("M", bound=BaseModel)


_BOUND_ERRORS = {"greater_than", "greater_than_equal", "less_than", "less_than_equal", "finite_number"}


def _shown(value) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:30] + f"... ({len(text)} characters)"


def _describe(err: ValidationError, model: type[BaseModel]) -> str:
    """The first validation error as 'where: what' with the fix where we know it."""
    errors = err.errors()
    # An unknown key first: `camras:` is then also a missing `cameras`, but the typo is the news.
    e = next((x for x in errors if x["type"] == "extra_forbidden"), errors[0])
    loc = ".".join(str(p) for p in e["loc"])
    if e["type"] == "extra_forbidden":
        parent = ".".join(str(p) for p in e["loc"][:-1]) or "top level"
        return f"unknown key '{e['loc'][-1]}' at {parent}; check its spelling or remove it"
    if e["type"] == "missing":
        return f"missing required key '{loc}'"
    msg = e["msg"].removeprefix("Value error, ")
    if e["type"] in _BOUND_ERRORS:
        msg += f" (got {_shown(e.get('input'))})"
    more = f" (+{len(err.errors()) - 1} more)" if len(err.errors()) > 1 else ""
    return f"{loc or 'top level'}: {msg}{more}"


class _UniqueKeyLoader(yaml.SafeLoader):
    """SafeLoader that rejects a key given twice in one mapping (PyYAML keeps the last silently)."""

    def construct_mapping(self, node, deep=False):
        if not isinstance(node, yaml.MappingNode):  # e.g. `!!set [a, b]`: SafeLoader would crash on it
            raise yaml.constructor.ConstructorError(None, None, f"expected a mapping, found {node.id}",
                                                    node.start_mark)
        seen = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            if not isinstance(key, (str, int, float, bool)) and key is not None:
                raise yaml.constructor.ConstructorError(None, None, "a key must be a plain name (text or a "
                                                        "number), not a list, mapping or date", key_node.start_mark)
            if key in seen:
                raise yaml.constructor.ConstructorError(None, None, f"key '{key}' is given twice",
                                                        key_node.start_mark)
            seen.add(key)
        return super().construct_mapping(node, deep)


MAX_DEPTH = 32  # Vigil's configs nest 5 levels; deeper input is a mistake (or an attack on the parser)
MAX_NODES = 100_000


def _resolve_values(data, where: str, base: Path):
    """`data` with ${...} substituted in every string value, as a tree: checked for depth and size
    on the way (YAML aliases can make a few lines expand to billions of nodes)."""
    budget = [MAX_NODES]

    def walk(node, at: str, depth: int):
        budget[0] -= 1
        if budget[0] < 0:
            raise ConfigError(f"{where}: more than {MAX_NODES} values (after expanding YAML aliases); "
                              "a Vigil config has a few hundred")
        if depth > MAX_DEPTH:
            raise ConfigError(f"{at}: nested more than {MAX_DEPTH} levels deep; a Vigil config is a few levels")
        if isinstance(node, str):
            return substitute(node, at, base)
        if isinstance(node, dict):
            return {k: walk(v, f"{at}.{k}", depth + 1) for k, v in node.items()}
        if isinstance(node, list):
            return [walk(v, f"{at}.{i}", depth + 1) for i, v in enumerate(node)]
        return node

    return walk(data, where, 0)


def parse_yaml(text: str, path: Path):
    """The YAML document as Python data; every parser failure is one ConfigError line."""
    try:
        return yaml.load(text, Loader=_UniqueKeyLoader)  # a SafeLoader subclass
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise ConfigError(f"{path}:{where}: invalid YAML: {problem}") from None
    except RecursionError:
        raise ConfigError(f"{path}: nested too deeply for a config; a Vigil config is a few levels") from None
    except (ValueError, TypeError, OverflowError) as exc:  # e.g. a 5000-digit integer, a bad timestamp
        why = " ".join(str(exc).split())[:120] or type(exc).__name__
        raise ConfigError(f"{path}: invalid value in the YAML ({why}); fix or remove it") from None


def read_yaml_model(path: Path, model: type[M]) -> M:
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise ConfigError(f"{path}: not a text file; give a YAML config") from None
    except (OSError, ValueError) as exc:  # missing, a folder, unreadable, a name too long, a NUL byte
        missing = isinstance(exc, (FileNotFoundError, NotADirectoryError))
        why = "does not exist" if missing else f"cannot be read ({getattr(exc, 'strerror', None) or exc})"
        shown = str(path) if len(str(path)) <= 200 else str(path)[:120] + f"... ({len(str(path))} characters)"
        raise ConfigError(f"config file '{shown}' {why}; give the path of a YAML file") from None
    data = parse_yaml(text, path)
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping of keys at the top level, got {type(data).__name__}")
    data = _resolve_values(data, str(path), path.parent)
    try:
        return model.model_validate(data)
    except ValidationError as err:
        raise ConfigError(f"{path}: {_describe(err, model)}") from None
    except RecursionError:
        raise ConfigError(f"{path}: nested too deeply for a config") from None


def find_pipeline(name: str, site_dir: Path) -> Path:
    """A pipeline is a path (relative to the site config), or a name looked up in
    ../pipelines, ./pipelines next to the site config, $VIGIL_PIPELINES and ./pipelines."""
    try:
        p = Path(name).expanduser()
    except RuntimeError:  # "~user" that does not exist
        p = Path(name)
    if p.suffix in (".yaml", ".yml") or "/" in name:
        cands = [p] if p.is_absolute() else [site_dir / p, Path.cwd() / p]
    else:
        dirs = [site_dir.parent / "pipelines", site_dir / "pipelines", Path.cwd() / "pipelines"]
        if os.environ.get("VIGIL_PIPELINES"):
            dirs.insert(0, Path(os.environ["VIGIL_PIPELINES"]))
        cands = [d / f"{name}.yaml" for d in dirs]
    cands = list(dict.fromkeys(cands))  # the site's folder may be the working folder: list it once
    for c in cands:
        try:
            if c.is_file():
                return c.resolve()
        except (OSError, ValueError):  # a name longer than the file system allows, a NUL byte
            continue
    shown = name if len(name) <= 80 else name[:60] + f"... ({len(name)} characters)"
    looked = ", ".join(str(c) if len(str(c)) <= 200 else str(c)[:120] + "..." for c in cands)
    raise ConfigError(f"pipeline '{shown}' not found; looked in: {looked}. Name a file in pipelines/ or give a path")


def load_pipeline(path: Path) -> PipelineConfig:
    cfg = read_yaml_model(Path(path), PipelineConfig)
    if not cfg.name:
        cfg.name = Path(path).stem
    return cfg


@dataclass
class LoadedConfig:
    site: SiteConfig
    pipeline: PipelineConfig
    site_path: Path
    pipeline_path: Path

    @property
    def site_dir(self) -> Path:
        return self.site_path.parent

    def source_of(self, camera: CameraConfig) -> str:
        """The camera's source: URLs as given, files resolved against the site config."""
        src = camera.source
        if src is None:
            raise ConfigError(f"{self.site_path}: camera '{camera.id}' has no source; set cameras[].source "
                              "or pass video files on the command line")
        if "://" in src:
            return src
        return str(resolve_file(src, self.site_dir))

    def weights_base(self) -> Path:
        return self.pipeline_path.parent


def load_site(path: str | os.PathLike) -> LoadedConfig:
    try:
        site_path = Path(path).resolve() if Path(path).exists() else Path(path)
    except (OSError, ValueError):  # reading it below names the problem
        site_path = Path(path)
    site = read_yaml_model(site_path, SiteConfig)
    pipe_path = find_pipeline(site.pipeline, site_path.parent)
    pipeline = load_pipeline(pipe_path)
    try:
        det = pipeline.detector
        site.check_detector(det.confidence, det.kept_classes, det.vocabulary)
    except ValueError as exc:
        raise ConfigError(f"{site_path}: {exc}") from None
    return LoadedConfig(site=site, pipeline=pipeline, site_path=site_path, pipeline_path=pipe_path)
