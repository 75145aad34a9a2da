#!/usr/bin/env bash
# Set up Vigil and run the demo: replay ../shared/data/video/saoyan_test.mp4, then query the counts.
set -euo pipefail
source "$(dirname "$0")/env.sh"
cd "$ROOT"
DB="${VIGIL_DEMO_DB:-sqlite:///vigil-demo.db}"
echo "== vigil replay configs/demo.yaml --db $DB"
vigil replay configs/demo.yaml --db "$DB"
echo "== vigil counts --db $DB --by hour --format table"
vigil counts --db "$DB" --by hour --format table
