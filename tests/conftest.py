"""Fixtures shared by every test folder."""

from tests.pg_fixture import pg_server, pg_url  # noqa: F401  (PostgreSQL on loopback)
from tests.store.faultkit import restartable_pg  # noqa: F401  (a PostgreSQL a module may stop and start)
