#!/usr/bin/env bash
# The issue-4 sweep benchmark: the full default grid (5 weight bit widths x 4 clip methods x
# 5 OCS ratios = 100 configurations, 8-bit activations, 512 calibration images, all 10,000 test
# images) on the bundled Fashion-MNIST ResNet, once with reuse (calibration statistics, data and
# float outputs computed once) and once with --no-reuse (each configuration from the files, as
# separate `ocs quantize` + `ocs eval` runs would). Prints wall time, CPU time and peak memory.
#
# Usage: bench/sweep_bench.sh [THREADS] [LIMIT] [MODES]   (default 2 threads, all 10,000 test
# images, MODES "reuse no-reuse"; LIMIT evaluates the first LIMIT test images only, "" for all;
# MODES=reuse times only the sweep as users run it, issue #12's acceptance). Run from the
# repository root after a build.
set -euo pipefail
cd "$(dirname "$0")/.."
threads=${1:-2}
limit=()
[ -n "${2:-}" ] && limit=(--limit "$2")
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
echo "load before: $(cut -d' ' -f1-3 /proc/loadavg)"
modes=${3:-reuse no-reuse}
for mode in $modes; do
  flag=""
  [ "$mode" = no-reuse ] && flag="--no-reuse"
  /usr/bin/time -f "$mode: %e s wall, %U s user, %M KB peak RSS" \
    build/ocs sweep models/fashion_resnet.onnx --calib fashion-mnist:train --data fashion-mnist:test \
    --threads "$threads" "${limit[@]}" --output-dir "$out/$mode" $flag >/dev/null 2>"$out/$mode.err" || { cat "$out/$mode.err"; exit 1; }
  tail -1 "$out/$mode.err"
  grep "^sweep: 100 configurations" "$out/$mode.err"
done
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
# Both modes must give the same table.
[ "$modes" = reuse ] && exit 0
diff <(cut -d, -f1-11 "$out/reuse/results.csv") <(cut -d, -f1-11 "$out/no-reuse/results.csv") >/dev/null \
  && echo "results identical with and without reuse" || { echo "results differ"; exit 1; }
