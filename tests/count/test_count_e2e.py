"""End to end: `vigil replay` of shared clips (detector, tracker, counter, store) against counts
made by eye (tests/data/README.md, numbers in tests/data/expected_counts.yaml)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import Counter

import pytest
import yaml

from tests.support.data import REPO, VIDEO, YOLO_ONNX, need

EXPECTED = yaml.safe_load((REPO / "tests" / "data" / "expected_counts.yaml").read_text())


def vigil(*args: str, timeout: float = 1800) -> str:
    env = {**os.environ, "YOLO_OFFLINE": "1"}
    done = subprocess.run([sys.executable, "-m", "vigil", *args], cwd=REPO, env=env, capture_output=True,
                          text=True, timeout=timeout)
    assert done.returncode == 0, f"vigil {' '.join(args)} failed ({done.returncode}):\n{done.stderr[-3000:]}"
    return done.stdout


def within(got: int, expected: int, tol: dict) -> bool:
    return abs(got - expected) <= max(tol["abs"], tol["rel"] * expected)


@pytest.mark.slow
@pytest.mark.parametrize("config", sorted(EXPECTED["configs"]))
def test_replay_counts_match_counts_by_eye(config, tmp_path):
    need(YOLO_ONNX)
    spec = EXPECTED["configs"][config]
    need(VIDEO / spec["video"])
    db = f"sqlite:///{tmp_path / 'e2e.db'}"
    vigil("replay", f"configs/{config}", "--db", db, "--no-progress")
    rows = json.loads(vigil("counts", "--db", db, "--format", "json"))
    got = Counter()
    for r in rows:                          # every class together: the eye counted objects, not classes
        kind = "line" if "line" in r else "zone"
        got[(r["camera"], f"{kind} {r[kind]}", r["direction"])] += r["count"]
    report, failed = [], []
    for camera, names in spec["cameras"].items():
        for name, want in names.items():
            for direction in ("in", "out"):
                g, w = got[(camera, name, direction)], want[direction]
                report.append(f"{camera} {name} {direction}: vigil {g}, by eye {w}")
                if not within(g, w, EXPECTED["tolerance"]):
                    failed.append(report[-1])
            if "dwell_s" in want:
                kind, zone = name.split(" ", 1)
                events = json.loads(vigil("events", "--db", db, "--camera", camera, "--zone", zone,
                                          "--direction", "out", "--format", "json", "--limit", "0"))
                dwell = sorted(e["dwell_s"] for e in events)
                report.append(f"{camera} {name} dwell: vigil {[round(d, 1) for d in dwell]}, "
                              f"by eye {sorted(want['dwell_s'])}")
                tol = EXPECTED["tolerance"]["dwell_s"]
                if len(dwell) != len(want["dwell_s"]) or any(
                        abs(a - b) > tol for a, b in zip(dwell, sorted(want["dwell_s"]))):
                    failed.append(report[-1])
    print("\n".join(report))
    assert not failed, "counts outside the stated error:\n" + "\n".join(failed) + "\nall:\n" + "\n".join(report)
