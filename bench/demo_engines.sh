#!/usr/bin/env bash
# Demo replay fps, today's engine (int8 ONNX on onnxruntime, square 640x640) against the engine
# `engine: auto` picks for the float .pt (OpenVINO bf16 on a CPU) and against an NNCF int8 IR of
# the same .pt, calibrated on another road's video (ozlu_input_video.mp4, so not on the frames it
# is measured on), all alternating so load from other processes hits each alike.
# Usage: bench/demo_engines.sh [ROUNDS] > results.txt
# Prints one line per run: round, pipeline, fps, counts; and the load average before each run.
set -euo pipefail
ROUNDS=${1:-3}
cd "$(dirname "$0")/.."
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$tmp/pipelines"
# "today": pipelines/default.yaml as it was before the engine change (int8 ONNX).
sed -e 's#^  weights: .*#  weights: '"$PWD"'/../shared/data/models/yolov8n_int8.onnx#' -e '/^  engine:/d' \
    pipelines/default.yaml > "$tmp/pipelines/today.yaml"
sed -e "s#^pipeline: .*#pipeline: $tmp/pipelines/today.yaml#" -e "s#source: ../../shared#source: $PWD/../shared#" \
    configs/demo.yaml > "$tmp/demo_today.yaml"
# "int8": the same .pt quantised by `vigil export openvino --int8` (cached after the first run).
ir=$(python -m vigil export openvino ../shared/data/models/yolov8n_dequant.pt --int8 \
       --calibrate ../shared/data/video/ozlu_input_video.mp4 --frames 300 2>/dev/null | tail -1)
sed -e 's#^  weights: .*#  weights: '"$ir"'#' pipelines/default.yaml > "$tmp/pipelines/int8.yaml"
sed -e "s#^pipeline: .*#pipeline: $tmp/pipelines/int8.yaml#" -e "s#source: ../../shared#source: $PWD/../shared#" \
    configs/demo.yaml > "$tmp/demo_int8.yaml"
for r in $(seq 1 "$ROUNDS"); do
  for side in today auto int8; do
    cfg=configs/demo.yaml; [ "$side" != auto ] && cfg="$tmp/demo_$side.yaml"
    load=$(cut -d' ' -f1-3 /proc/loadavg)
    out=$(python -m vigil replay "$cfg" --db "sqlite:///$tmp/$side-$r.db" --no-progress 2>&1)
    fps=$(grep -o '([0-9.]* fps)' <<<"$out" | tr -d '()' | cut -d' ' -f1)
    counts=$(grep -E '│ (car|truck|bus|motorcycle) ' <<<"$out" | awk -F'│' '{gsub(/ /,"",$8); gsub(/ /,"",$9); printf "%s=%s ", $8, $9}')
    echo "round $r $side fps $fps counts_in $counts load_before $load"
  done
done
