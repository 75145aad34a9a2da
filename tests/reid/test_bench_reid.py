"""`vigil bench reid` runs end to end and rejects bad options with one line."""

import json

from tests.support.data import MODELS, need
from vigil.cli import main


def test_bench_reports_every_cell_as_json(capsys):
    rc = main(["bench", "reid", "--models", "osnet_x0_25", "--batch-sizes", "1,3", "--seconds", "0",
               "--weights", str(need(MODELS / "osnet_x0_25_msmt17.pth")), "--device", "cpu", "--format", "json"])
    assert rc == 0
    rows = json.loads(capsys.readouterr().out)
    assert [(r["model"], r["batch_size"]) for r in rows] == [("osnet_x0_25", 1), ("osnet_x0_25", 3)]
    assert all(r["weights"] == "osnet_x0_25_msmt17.pth" and r["crops_per_second"] > 0 and r["crops_per_cpu_second"] > 0
               for r in rows)
    assert all(150_000 < r["params"] < 250_000 for r in rows)


def test_bench_rejects_unknown_model(capsys):
    assert main(["bench", "reid", "--models", "osnet_x9"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: unknown model 'osnet_x9'") and err.count("\n") == 1
