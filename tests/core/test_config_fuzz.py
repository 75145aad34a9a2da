"""Config fuzzing: thousands of mutated site and pipeline YAMLs, built from configs/*.yaml,
pipelines/*.yaml and the test configs by a seeded generator, go through the real loader
(`load_site`). Each must load, or raise ConfigError with a one-line message: never any other
exception. A failure prints the seed and writes the case to the test's tmp dir to replay it."""

from __future__ import annotations

import copy
import math
import random
import time
from pathlib import Path

import pytest
import yaml

from tests.core.test_config import PIPELINE, SITE
from vigil.config import load_site
from vigil.errors import ConfigError

REPO = Path(__file__).resolve().parents[2]
CASES = 3000
BUDGET_S = 45.0  # a slow machine runs fewer cases rather than a slow test

WEIRD_SCALARS = [None, True, False, 0, -1, 1, 2**63, 10**4400, -(10**30), 1e308, -1e308, float("nan"), float("inf"),
                 float("-inf"), -0.0, 1e-320, "", " ", "x" * 5000, "üñí©ødé ✓ 🚗", "\u202etxet", "a\nb", "\t",
                 "${VIGIL_FUZZ_UNSET}", "${file:/nonexistent/x}", "$${x}", "${", "}", "../../etc", "~nobody/x",
                 "rtsp://u:p@ss#w@h/x", "postgresql://u:pw@[::1/db", "2026-13-45T99:99:99", "9999-12-31T23:59:59",
                 [], {}, [1, 2], [[1, 2]], [[0, 0], [1, 1]], {"a": 1}, "default", "reid", "left", "right"]


def _bases() -> tuple[list[dict], list[dict]]:
    sites = [yaml.safe_load(p.read_text()) for p in sorted((REPO / "configs").glob("*.yaml"))]
    sites.append(yaml.safe_load(SITE))
    pipes = [yaml.safe_load(p.read_text()) for p in sorted((REPO / "pipelines").glob("*.yaml"))]
    pipes.append(yaml.safe_load(PIPELINE))
    return sites, pipes


def _paths(node, prefix=()):
    """Every (path to a container, key) pair in the document."""
    if isinstance(node, dict):
        for k, v in node.items():
            yield prefix, k
            yield from _paths(v, (*prefix, k))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield prefix, i
            yield from _paths(v, (*prefix, i))


def _get(doc, path):
    for p in path:
        doc = doc[p]
    return doc


def _mutate(doc, rng: random.Random):
    places = list(_paths(doc))
    if not places:
        return {"cameras": rng.choice(WEIRD_SCALARS)}
    parent_path, key = rng.choice(places)
    parent = _get(doc, parent_path)
    value = parent[key]
    op = rng.randrange(9)
    if op == 0 and isinstance(parent, dict):
        del parent[key]  # drop a key
    elif op == 1:
        parent[key] = rng.choice(WEIRD_SCALARS)  # change the type / value
    elif op == 2 and isinstance(value, (int, float)) and not isinstance(value, bool):
        try:
            parent[key] = rng.choice([value * 1e300, -value, value + 0.5, math.nan, 10**rng.randrange(1, 400), 0])
        except OverflowError:  # value is already a huge int
            parent[key] = math.nan
    elif op == 3:
        nested = value
        for _ in range(rng.choice([2, 10, 40, 60])):
            nested = [nested] if rng.random() < 0.5 else {"k": nested}
        parent[key] = nested  # deep nesting
    elif op == 4 and isinstance(parent, list):
        parent.append(copy.deepcopy(value))  # duplicate an entry (camera, line, zone)
    elif op == 5 and isinstance(parent, dict):
        parent[rng.choice(["extra", "ñame", "id", "source", "lines", "zones", "thermal", "nvr", "live", "1"])] = \
            rng.choice(WEIRD_SCALARS)  # an unknown or misplaced key
    elif op == 6 and isinstance(value, str):
        cut = rng.randrange(len(value) + 1)
        parent[key] = value[:cut] + rng.choice(["${HOME}", "\x00", "'", '"', "é", "${file:", "@", "#"]) + value[cut:]
    elif op == 7 and isinstance(value, list) and value:
        value.pop(rng.randrange(len(value)))
    else:
        parent[key] = copy.deepcopy(rng.choice(WEIRD_SCALARS))
    return doc


def _text_mutate(text: str, rng: random.Random) -> str:
    """Damage the YAML text itself: truncate, duplicate a line, break indentation, odd characters."""
    lines = text.splitlines()
    op = rng.randrange(6)
    if op == 0:
        return text[:rng.randrange(len(text) + 1)]
    if op == 1 and lines:
        i = rng.randrange(len(lines))
        lines.insert(i, lines[i])
    elif op == 2 and lines:
        i = rng.randrange(len(lines))
        lines[i] = " " * rng.randrange(1, 5) + lines[i]
    elif op == 3:
        i = rng.randrange(len(text) + 1)
        return text[:i] + rng.choice(["\t", ": ", "- ", "&a ", "*a", "!!set ", "!!python/object:os.system ",
                                      "? ", "{", "[", "%", "\ufeff", "\x85", "!!binary ", "<<: "]) + text[i:]
    elif op == 4:
        return "a: &a [" + "*a, " * 5 + "]\n" + text
    else:
        return text + rng.choice(["\n? [a, b]\n: 1\n", "\nsite: again\n", "\n" + "[" * 2000 + "\n",
                                  "\n---\nsecond: doc\n"])
    return "\n".join(lines) + "\n"


def _dump(doc) -> str:
    try:
        return yaml.safe_dump(doc, allow_unicode=True, sort_keys=False, width=10**6)
    except (ValueError, yaml.YAMLError):  # e.g. ints beyond Python's str() limit: write them by hand
        return yaml.safe_dump({"site": "x"}) + "huge: " + "9" * 5000 + "\n"


@pytest.mark.slow
def test_mutated_configs_load_or_fail_with_one_config_error_line(tmp_path, monkeypatch):
    monkeypatch.delenv("VIGIL_FUZZ_UNSET", raising=False)
    rng = random.Random(19)
    sites, pipes = _bases()
    (tmp_path / "pipelines").mkdir()
    site_path, pipe_path = tmp_path / "site.yaml", tmp_path / "pipelines" / "p.yaml"
    outcomes = {"loaded": 0, "ConfigError": 0}
    deadline = time.monotonic() + BUDGET_S
    for case in range(CASES):
        if time.monotonic() > deadline:
            break
        site = copy.deepcopy(rng.choice(sites))
        site["pipeline"] = "p"
        pipe = copy.deepcopy(rng.choice(pipes))
        for _ in range(rng.choice([1, 1, 2, 3, 6])):
            if rng.random() < 0.75:
                site = _mutate(site, rng)
            else:
                pipe = _mutate(pipe, rng)
        site_text, pipe_text = _dump(site), _dump(pipe)
        if rng.random() < 0.25:
            site_text = _text_mutate(site_text, rng)
        elif rng.random() < 0.1:
            pipe_text = _text_mutate(pipe_text, rng)
        site_path.write_text(site_text, encoding="utf-8")
        pipe_path.write_text(pipe_text, encoding="utf-8")
        try:
            load_site(site_path)
            outcomes["loaded"] += 1
        except ConfigError as exc:
            msg = str(exc)
            assert msg and "\n" not in msg and "\r" not in msg, f"case {case}: multi-line message {msg!r}"
            outcomes["ConfigError"] += 1
        except Exception as exc:  # noqa: BLE001 - the point of the test
            (tmp_path / "failing_site.yaml").write_text(site_text, encoding="utf-8")
            (tmp_path / "failing_pipeline.yaml").write_text(pipe_text, encoding="utf-8")
            pytest.fail(f"case {case} (seed 19) raised {type(exc).__name__}: {str(exc)[:300]}; "
                        f"the inputs are in {tmp_path}")
    ran = outcomes["loaded"] + outcomes["ConfigError"]
    print(f"fuzzed {ran} configs: {outcomes}")
    assert ran >= min(CASES, 500) and outcomes["loaded"] > 0 and outcomes["ConfigError"] > 0
