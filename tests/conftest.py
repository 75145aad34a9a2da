"""Fixtures shared by every test folder."""

from tests.pg_fixture import pg_server, pg_url  # noqa: F401  (PostgreSQL on loopback)
