"""Fixtures shared by every test folder."""

import faulthandler
import logging
import os

import pytest

from tests.pg_fixture import pg_server, pg_url  # noqa: F401  (PostgreSQL on loopback)
from tests.store.faultkit import restartable_pg  # noqa: F401  (a PostgreSQL a module may stop and start)

HARD_LIMIT_S = 900
"""A test still running after this is stuck where pytest-timeout's signal (600 s) cannot reach
it (a thread blocked in C: once a whole CI run hung silently until its 90 min ran out). Then
every thread's stack is printed and the run ends, so CI fails fast and says where."""


_REAL_STDERR: list[int] = []


def pytest_configure(config):
    _REAL_STDERR.append(os.dup(2))  # before capture: during a test fd 2 is pytest's temp file


@pytest.hookimpl(trylast=True)
def pytest_unconfigure(config):
    # Also bounds the interpreter's exit, which joins leftover threads and child processes.
    faulthandler.dump_traceback_later(120, exit=True, file=_REAL_STDERR[0])


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item, nextitem):
    faulthandler.dump_traceback_later(HARD_LIMIT_S, exit=True, file=_REAL_STDERR[0])
    try:
        yield
    finally:
        faulthandler.cancel_dump_traceback_later()


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
