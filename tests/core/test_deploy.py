"""deploy/compose.yaml keeps the database password off command lines and out of the environment."""

from pathlib import Path

import yaml

from vigil.config.database import resolve_db_url

COMPOSE = Path(__file__).resolve().parents[2] / "deploy" / "compose.yaml"


def test_compose_reads_the_db_password_from_a_secret(tmp_path, monkeypatch):
    compose = yaml.safe_load(COMPOSE.read_text())
    db, vigil = compose["services"]["db"], compose["services"]["vigil"]
    assert "POSTGRES_PASSWORD" not in db["environment"]
    assert db["environment"]["POSTGRES_PASSWORD_FILE"] == "/run/secrets/db_password"
    assert not any("://" in arg or "PASSWORD" in arg for arg in vigil["command"])
    assert "db_password" in vigil["secrets"] and "db_password" in compose["secrets"]
    # What the container sees after compose unescapes `$$`, resolved as `vigil run` resolves it.
    secret = tmp_path / "db_password"
    secret.write_text("pw@1\n")
    env = vigil["environment"]["VIGIL_DB"].replace("$$", "$").replace("/run/secrets/db_password", str(secret))
    monkeypatch.setenv("VIGIL_DB", env)
    assert resolve_db_url(None, "sqlite:///ignored.db") == "postgresql+psycopg://vigil:pw%401@db/vigil"
