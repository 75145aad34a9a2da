"""Fixtures shared by every test folder."""

import faulthandler
import logging
import os

import pytest

from tests.pg_fixture import pg_server, pg_url  # noqa: F401  (PostgreSQL on loopback)
from tests.store.faultkit import restartable_pg  # noqa: F401  (a PostgreSQL a module may stop and start)

HARD_LIMIT_S = 900
"""A test phase (setup, call, teardown) still running after this is stuck where pytest-timeout's
signal (600 s) cannot reach it (a thread blocked in C: once a whole CI run hung silently until its
90 min ran out). Then every thread's stack is printed and the run ends, so CI fails fast and says
where. Armed per phase: pytest's faulthandler plugin cancels the timer when a phase fails, and
the teardown after a failure must be bounded too."""


_REAL_STDERR = pytest.StashKey[int]()


def pytest_configure(config):
    config.stash[_REAL_STDERR] = os.dup(2)  # before capture: during a test fd 2 is pytest's temp file


def _arm(config, seconds: float) -> None:
    faulthandler.dump_traceback_later(seconds, exit=True, file=config.stash[_REAL_STDERR])


@pytest.hookimpl(wrapper=True)
def pytest_runtest_setup(item):
    _arm(item.config, HARD_LIMIT_S)
    return (yield)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item):
    _arm(item.config, HARD_LIMIT_S)
    return (yield)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_teardown(item, nextitem):
    _arm(item.config, HARD_LIMIT_S)
    try:
        return (yield)
    finally:
        faulthandler.cancel_dump_traceback_later()


@pytest.hookimpl(trylast=True)
def pytest_unconfigure(config):
    # In CI (scripts/test.sh sets VIGIL_TEST_EXIT_WATCHDOG) the interpreter's exit, which joins
    # leftover threads and child processes, is bounded too; not in a process that goes on
    # after pytest.main() (an IDE's runner).
    if os.environ.get("VIGIL_TEST_EXIT_WATCHDOG"):
        _arm(config, 120)
    else:  # a run stopped by Ctrl-C or pytest.exit() skipped the teardown that cancels it
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
