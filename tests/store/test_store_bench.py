"""`vigil bench counts` on a small synthetic store: it runs, and the store it builds is sound."""

from __future__ import annotations

import sqlalchemy as sa

from vigil.cli import main
from vigil.store import Store


def test_bench_counts_small(tmp_path, capsys):
    db = tmp_path / "bench.db"
    assert main(["bench", "counts", "--events", "20000", "--days", "2", "--cameras", "1", "--repeat", "1",
                 "--db", str(db)]) == 0
    out = capsys.readouterr().out
    assert "--by hour" in out and "generated 20,000 events" in out
    s = Store(f"sqlite:///{db}")
    assert sum(r["count"] for r in s.counts()) == 20000
    assert len({r["bucket"] for r in s.counts(by="hour")}) == 48
    with s.engine.connect() as conn:
        before = conn.execute(sa.text("SELECT * FROM counts_60s ORDER BY 1, 2")).all()
        assert conn.execute(sa.text("PRAGMA journal_mode")).scalar() == "wal"
    s.rebuild_aggregates()
    with s.engine.connect() as conn:
        assert conn.execute(sa.text("SELECT * FROM counts_60s ORDER BY 1, 2")).all() == before
    s.close()
    # a second run reuses the complete store instead of generating it again
    assert main(["bench", "counts", "--events", "20000", "--days", "2", "--cameras", "1", "--repeat", "1",
                 "--db", str(db)]) == 0
    assert "reusing" in capsys.readouterr().out
