"""Secrets outside the config file (${ENV}, ${file:...}) and which database a command uses."""

from __future__ import annotations

import pytest

from tests.core.test_cli_bad_input import one_error_line, vigil
from tests.core.test_config import SITE, write
from vigil.config import load_site
from vigil.config.database import DEFAULT_DB_URL, resolve_db_url
from vigil.config.site import SiteConfig
from vigil.errors import ConfigError


def test_env_and_file_references_are_substituted(tmp_path, monkeypatch):
    secret = tmp_path / "db_password"
    secret.write_text("p@ss#word\n")  # docker secrets end with a newline
    monkeypatch.setenv("GATE_HOST", "10.0.0.9")
    site = SITE.replace("database: sqlite:///x.db", f"database: postgresql://vigil:${{file:{secret}}}@db/vigil") \
               .replace("source: clip.mp4", "source: rtsp://${GATE_HOST}/live?tag=$${literal}")
    cfg = load_site(write(tmp_path, site))
    assert cfg.site.database == "postgresql://vigil:p@ss#word@db/vigil"
    assert cfg.site.cameras[0].source == "rtsp://10.0.0.9/live?tag=${literal}"
    # the raw '@' and '#' from the secret file are quoted before the URL is used
    assert resolve_db_url(None, cfg.site.database) == "postgresql://vigil:p%40ss%23word@db/vigil"


def test_relative_secret_file_is_relative_to_the_config(tmp_path):
    (tmp_path / "configs").mkdir()
    (tmp_path / "configs" / "pw").write_text("hunter2")
    cfg = load_site(write(tmp_path, SITE.replace("site: t", "site: ${file:pw}")))
    assert cfg.site.site == "hunter2"


@pytest.mark.parametrize("value, needle", [
    ("${VIGIL_TEST_UNSET_VAR}", "environment variable VIGIL_TEST_UNSET_VAR is not set"),
    ("${file:/nonexistent/secret}", "cannot read secret file '/nonexistent/secret'"),
    ("${not a name}", "is not a variable"),
])
def test_bad_references_are_one_line_errors_naming_the_key(tmp_path, monkeypatch, value, needle):
    monkeypatch.delenv("VIGIL_TEST_UNSET_VAR", raising=False)
    with pytest.raises(ConfigError) as err:
        load_site(write(tmp_path, SITE.replace("database: sqlite:///x.db", f"database: '{value}'")))
    assert needle in str(err.value) and ".database" in str(err.value)


def test_database_precedence_flag_env_config_default(monkeypatch):
    monkeypatch.delenv("VIGIL_DB", raising=False)
    assert SiteConfig.model_fields["database"].default == DEFAULT_DB_URL  # defined once
    assert resolve_db_url() == DEFAULT_DB_URL
    assert resolve_db_url(None, "sqlite:///site.db") == "sqlite:///site.db"
    monkeypatch.setenv("VIGIL_DB", "sqlite:///env.db")
    assert resolve_db_url(None, "sqlite:///site.db") == "sqlite:///env.db"
    assert resolve_db_url("sqlite:///flag.db", "sqlite:///site.db") == "sqlite:///flag.db"


def test_counts_and_events_read_vigil_db_before_the_config(tmp_path):
    site = write(tmp_path, SITE.replace("sqlite:///x.db", f"sqlite:///{tmp_path}/from_config.db"))
    env = {"VIGIL_DB": f"sqlite:///{tmp_path}/from_env.db"}
    for cmd in ("counts", "events"):
        one_error_line(vigil(cmd, "--config", str(site), env=env), "from_env.db")
        one_error_line(vigil(cmd, "--config", str(site), env={"VIGIL_DB": ""}), "from_config.db")
        one_error_line(vigil(cmd, "--config", str(site), "--db", f"sqlite:///{tmp_path}/flag.db", env=env),
                       "flag.db")


def test_vigil_db_may_reference_a_secret_file(tmp_path, monkeypatch):
    """How deploy/compose.yaml passes the database password: a docker secret, never argv or env."""
    (tmp_path / "db_password").write_text("s3cr@t\n")
    monkeypatch.setenv("VIGIL_DB", f"postgresql+psycopg://vigil:${{file:{tmp_path}/db_password}}@db/vigil")
    assert resolve_db_url(None, "sqlite:///site.db") == "postgresql+psycopg://vigil:s3cr%40t@db/vigil"
    monkeypatch.setenv("VIGIL_DB", "postgresql://vigil:${file:/nonexistent/pw}@db/vigil")
    with pytest.raises(ConfigError, match=r"\$VIGIL_DB: cannot read secret file '/nonexistent/pw'"):
        resolve_db_url()
