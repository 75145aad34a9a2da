"""`vigil bench count` runs the counter on a synthetic stream and reports time per frame."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from vigil.cli import _load_commands
from vigil.cli.app import app


def test_bench_count_reports_time_and_events():
    _load_commands()
    res = CliRunner().invoke(app, ["bench", "count", "--objects", "4", "--frames", "130", "--json"])
    assert res.exit_code == 0, res.output
    out = json.loads(res.output)["4"]
    assert out["wall_ms"] > 0 and out["cpu_ms"] >= 0
    # 4 slots x 130 frames at 60 frames a life: every finished life crosses line a once
    assert out["events"] >= 4 * 2


def test_bench_count_rejects_bad_sizes():
    _load_commands()
    res = CliRunner().invoke(app, ["bench", "count", "--frames", "0"])
    assert res.exit_code != 0
