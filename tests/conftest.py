"""Fixtures shared by every test folder."""

import logging

import pytest

from tests.pg_fixture import pg_server, pg_url  # noqa: F401  (PostgreSQL on loopback)
from tests.store.faultkit import restartable_pg  # noqa: F401  (a PostgreSQL a module may stop and start)


@pytest.fixture(autouse=True)
def _vigil_logging_reset():
    """`vigil run` / `vigil outputs run` in a test configure the 'vigil' logger (a handler on that
    test's captured stderr, propagation off). Undone after each test: a later test's reader
    thread would log into the closed stream ('--- Logging error ---' on stderr) and caplog
    would miss Vigil's records."""
    yield
    logger = logging.getLogger("vigil")
    for h in list(logger.handlers):
        if getattr(h, "_vigil_live", False):
            logger.removeHandler(h)
    logger.propagate = True
    logger.setLevel(logging.NOTSET)
