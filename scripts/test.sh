#!/usr/bin/env bash
# Set up everything the tests need (Python environment, PostgreSQL, GStreamer RTSP server)
# and run the whole test suite, slow end-to-end cases included. Extra arguments go to pytest
# (e.g. `bash scripts/test.sh -m "not slow"` for the quick subset).
set -euo pipefail
HERE="$(dirname "$0")"
bash "$HERE/system-deps.sh"
source "$HERE/env.sh"
cd "$ROOT"
exec python -m pytest "$@"
