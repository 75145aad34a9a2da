"""Which database a command writes to or reads from, decided in one place.

Precedence: --db on the command line > $VIGIL_DB > the site config's `database` > DEFAULT_DB_URL.
"""

from __future__ import annotations

import os

from vigil.config.refs import substitute
from vigil.secrets import quote_credentials

DEFAULT_DB_URL = "sqlite:///vigil.db"
DB_ENV = "VIGIL_DB"


def resolve_db_url(cli: str | None = None, configured: str | None = None) -> str:
    """The database URL to open. `configured` is the site config's `database` (None without a
    config, references already substituted). --db and $VIGIL_DB may reference secrets too, e.g.
    VIGIL_DB='postgresql+psycopg://vigil:${file:/run/secrets/db_password}@db/vigil', so no password
    sits on a command line or in the environment. Credentials are URL-quoted, so a password with a
    raw '@' or '#' stays whole."""
    if cli:
        url = substitute(cli, "--db")
    elif os.environ.get(DB_ENV):
        url = substitute(os.environ[DB_ENV], f"${DB_ENV}")
    else:
        url = configured or DEFAULT_DB_URL
    return quote_credentials(url)
