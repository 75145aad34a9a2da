"""Which database a command writes to or reads from, decided in one place.

Precedence: --db on the command line > $VIGIL_DB > the site config's `database` > DEFAULT_DB_URL.
"""

from __future__ import annotations

import os

from vigil.secrets import quote_credentials

DEFAULT_DB_URL = "sqlite:///vigil.db"
DB_ENV = "VIGIL_DB"


def resolve_db_url(cli: str | None = None, configured: str | None = None) -> str:
    """The database URL to open. `configured` is the site config's `database` (None without a
    config); credentials are URL-quoted, so a password typed with a raw '@' or '#' stays whole."""
    url = cli or os.environ.get(DB_ENV) or configured or DEFAULT_DB_URL
    return quote_credentials(url)
