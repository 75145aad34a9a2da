#!/usr/bin/env bash
# Set up everything the tests need (Python environment, PostgreSQL, GStreamer RTSP server),
# run the linters (ruff, mypy: settings in pyproject.toml; a new finding fails the run) and
# then the whole test suite, slow end-to-end cases included. Extra arguments go to pytest
# (e.g. `bash scripts/test.sh -m "not slow"` for the quick subset).
set -euo pipefail
HERE="$(dirname "$0")"
bash "$HERE/system-deps.sh"
source "$HERE/env.sh"
cd "$ROOT"
echo "== ruff check vigil tests bench"
ruff check vigil tests bench
echo "== mypy (core packages, pyproject.toml [tool.mypy])"
mypy
export VIGIL_TEST_EXIT_WATCHDOG=1  # tests/conftest.py: a stuck exit fails the run, with stacks
exec python -m pytest --durations=25 "$@"
