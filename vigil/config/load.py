"""Load site and pipeline YAML into validated models; every failure is one ConfigError line."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from vigil.config.pipeline import PipelineConfig
from vigil.config.site import CameraConfig, SiteConfig
from vigil.errors import ConfigError

M = TypeVar("M", bound=BaseModel)


def _describe(err: ValidationError, model: type[BaseModel]) -> str:
    """The first validation error as 'where: what' with the fix where we know it."""
    e = err.errors()[0]
    loc = ".".join(str(p) for p in e["loc"])
    if e["type"] == "extra_forbidden":
        parent = ".".join(str(p) for p in e["loc"][:-1]) or "top level"
        return f"unknown key '{e['loc'][-1]}' at {parent}; check its spelling or remove it"
    if e["type"] == "missing":
        return f"missing required key '{loc}'"
    msg = e["msg"].removeprefix("Value error, ")
    more = f" (+{len(err.errors()) - 1} more)" if len(err.errors()) > 1 else ""
    return f"{loc or 'top level'}: {msg}{more}"


class _UniqueKeyLoader(yaml.SafeLoader):
    """SafeLoader that rejects a key given twice in one mapping (PyYAML keeps the last silently)."""

    def construct_mapping(self, node, deep=False):
        seen = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            if key in seen:
                raise yaml.constructor.ConstructorError(None, None, f"key '{key}' is given twice",
                                                        key_node.start_mark)
            seen.add(key)
        return super().construct_mapping(node, deep)


def read_yaml_model(path: Path, model: type[M]) -> M:
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"config file '{path}' does not exist; give the path of a YAML file")
    try:
        data = yaml.load(path.read_text(encoding="utf-8"), Loader=_UniqueKeyLoader)  # noqa: S506
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise ConfigError(f"{path}:{where}: invalid YAML: {problem}") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{path}: not a text file; give a YAML config") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping of keys at the top level, got {type(data).__name__}")
    try:
        return model.model_validate(data)
    except ValidationError as err:
        raise ConfigError(f"{path}: {_describe(err, model)}") from None


def find_pipeline(name: str, site_dir: Path) -> Path:
    """A pipeline is a path (relative to the site config), or a name looked up in
    ../pipelines, ./pipelines next to the site config, $VIGIL_PIPELINES and ./pipelines."""
    p = Path(name).expanduser()
    if p.suffix in (".yaml", ".yml") or "/" in name:
        cands = [p] if p.is_absolute() else [site_dir / p, Path.cwd() / p]
    else:
        dirs = [site_dir.parent / "pipelines", site_dir / "pipelines", Path.cwd() / "pipelines"]
        if os.environ.get("VIGIL_PIPELINES"):
            dirs.insert(0, Path(os.environ["VIGIL_PIPELINES"]))
        cands = [d / f"{name}.yaml" for d in dirs]
    for c in cands:
        if c.is_file():
            return c.resolve()
    raise ConfigError(f"pipeline '{name}' not found; looked in: {', '.join(map(str, cands))}. "
                      "Name a file in pipelines/ or give a path")


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


def resolve_file(name: str, base: Path) -> Path:
    p = Path(name).expanduser()
    return p if p.is_absolute() else (base / p).resolve()


def load_site(path: str | os.PathLike) -> LoadedConfig:
    site_path = Path(path).resolve() if Path(path).exists() else Path(path)
    site = read_yaml_model(site_path, SiteConfig)
    pipe_path = find_pipeline(site.pipeline, site_path.parent)
    return LoadedConfig(site=site, pipeline=load_pipeline(pipe_path), site_path=site_path, pipeline_path=pipe_path)
