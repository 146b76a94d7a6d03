#!/usr/bin/env bash
# Latency per inference of ocs against ONNX Runtime (onnxruntime-node), same machine, same run,
# same inputs, same thread count. Prints one table: median ms of each engine and the ratio
# ocs / ONNX Runtime (below 1 means ocs is faster).
#
# Models (fetched or exported into $OCS_CACHE, never into the repo):
#   ppocr_det  PP-OCRv4 detection, 1x3x640x640  (golden input of scripts/make_golden.sh)
#   ppocr_rec  PP-OCRv4 recognition, 1x3x48x320 (golden input of scripts/make_golden.sh)
#   resnet50   torchvision resnet50, random weights, 1x3x224x224 (scripts/make_torch_models.py;
#              input: bench/make_input.py, fixed seed)
#
# Usage: bench/bench.sh [--runs N] [--rounds R] [--threads T] [--ocs PATH] [MODEL ...]
#   --runs N     timed runs per engine per round, after warm-up (default 30)
#   --rounds R   alternate the two engines R times and keep the best median of each (default 3);
#                on a shared machine the best round is the one least disturbed by other work
#   --threads T  threads for both engines (default 2)
#   --ocs PATH   the ocs binary (default build/ocs)
#   --unfused    also time `ocs run --no-fuse` (one kernel per node on plain tensors: the engine
#                before fusion and blocked layouts)
# The load average is printed before and after: numbers taken under load are not comparable.
# OMP_WAIT_POLICY (printed too) matters for ocs on a shared machine: libgomp's default spinning
# makes 2-thread runs bimodal under load; OMP_WAIT_POLICY=passive avoids that (docs/PERFORMANCE.md).
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
OCS_CACHE="${OCS_CACHE:-$HOME/.cache/ocs}"
export OCS_CACHE
MODELS_DIR="$OCS_CACHE/models"
GOLDEN_DIR="$OCS_CACHE/golden"
BENCH_DIR="$OCS_CACHE/bench"
PYTHON=/usr/bin/python3

runs=30
rounds=3
threads=2
ocs="$REPO/build/ocs"
unfused=0
models=()
while [[ $# -gt 0 ]]; do
  case "$1" in
    --runs) runs="$2"; shift 2 ;;
    --rounds) rounds="$2"; shift 2 ;;
    --threads) threads="$2"; shift 2 ;;
    --ocs) ocs="$2"; shift 2 ;;
    --unfused) unfused=1; shift ;;
    -h|--help) sed -n '2,22p' "${BASH_SOURCE[0]}"; exit 0 ;;
    -*) echo "bench: unknown option $1" >&2; exit 2 ;;
    *) models+=("$1"); shift ;;
  esac
done
[[ ${#models[@]} -gt 0 ]] || models=(ppocr_det ppocr_rec resnet50)

log() { echo "bench: $*" >&2; }
fail() { echo "bench: error: $*" >&2; exit 1; }

[[ -x "$ocs" ]] || fail "$ocs is not built (cmake -S . -B build -DCMAKE_BUILD_TYPE=Release && make -C build ocs)"
command -v node >/dev/null || fail "node is not on PATH"

# Prepares model $1; prints "MODEL_PATH NAME=FILE ..." on stdout.
prepare() {
  case "$1" in
    ppocr_det|ppocr_rec)
      if [[ ! -s "$GOLDEN_DIR/$1/inputs/x.npy" ]]; then
        bash "$REPO/scripts/make_golden.sh" "$1" >&2
      fi
      echo "$(cat "$GOLDEN_DIR/$1/model") x=$GOLDEN_DIR/$1/inputs/x.npy" ;;
    resnet50)
      bash "$REPO/scripts/fetch_models.sh" >&2  # onnxruntime-node
      if [[ ! -s "$MODELS_DIR/resnet50.onnx" ]]; then
        "$PYTHON" "$REPO/scripts/make_torch_models.py" "$MODELS_DIR" --only resnet50 >&2
      fi
      mkdir -p "$BENCH_DIR"
      if [[ ! -s "$BENCH_DIR/resnet50_input.npy" ]]; then
        "$PYTHON" "$REPO/bench/make_input.py" "$BENCH_DIR/resnet50_input.npy" 1 3 224 224 >&2
      fi
      echo "$MODELS_DIR/resnet50.onnx input=$BENCH_DIR/resnet50_input.npy" ;;
    *) fail "unknown model '$1' (known: ppocr_det ppocr_rec resnet50)" ;;
  esac
}

ocs_median() {  # [--no-fuse] MODEL INPUT...
  local args=()
  if [[ "$1" == --no-fuse ]]; then args+=(--no-fuse); shift; fi
  local model="$1"; shift
  # Older builds have no --warmup; their first (untimed) run is the only warm-up.
  if "$ocs" run --help 2>/dev/null | grep -q -- --warmup; then args+=(--warmup 3); fi
  for spec in "$@"; do args+=(--input "$spec"); done
  "$ocs" run "$model" "${args[@]}" --threads "$threads" --repeat "$runs" \
    | sed -n 's/^median latency over [0-9]* runs: \([0-9.]*\) ms.*/\1/p'
}

ort_median() {  # MODEL INPUT...
  local model="$1"; shift
  node "$REPO/scripts/ort_run.js" --bench "$runs" --threads "$threads" "$model" - "$@" \
    | sed -n 's/.*"median_ms":\([0-9.]*\).*/\1/p'
}

min() { awk -v a="$1" -v b="$2" 'BEGIN { print (b == "" || a + 0 < b + 0) ? a : b }'; }

echo "load before: $(cut -d' ' -f1-3 /proc/loadavg)   ($(nproc) cores; threads $threads, $runs runs x $rounds rounds; OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-unset})"
if ((unfused)); then
  printf '%-10s %12s %12s %8s %14s %10s\n' model "ocs ms" "ORT ms" "ocs/ORT" "unfused ms" "unf/ORT"
else
  printf '%-10s %12s %12s %8s\n' model "ocs ms" "ORT ms" "ocs/ORT"
fi
for name in "${models[@]}"; do
  read -r -a spec <<<"$(prepare "$name")"
  best_ocs=""
  best_ort=""
  best_unf=""
  for ((r = 0; r < rounds; ++r)); do
    o="$(ocs_median "${spec[@]}")"
    [[ -n "$o" ]] || fail "ocs run ${spec[0]} printed no median"
    t="$(ort_median "${spec[@]}")"
    [[ -n "$t" ]] || fail "ort_run.js ${spec[0]} printed no median"
    u=""
    if ((unfused)); then
      u="$(ocs_median --no-fuse "${spec[@]}")"
      best_unf="$(min "$u" "$best_unf")"
    fi
    log "$name round $((r + 1)): ocs $o ms, ORT $t ms${u:+, unfused $u ms} (load $(cut -d' ' -f1 /proc/loadavg))"
    best_ocs="$(min "$o" "$best_ocs")"
    best_ort="$(min "$t" "$best_ort")"
  done
  ratio="$(awk -v a="$best_ocs" -v b="$best_ort" 'BEGIN { print a / b }')"
  if ((unfused)); then
    printf '%-10s %12.2f %12.2f %8.2f %14.2f %10.2f\n' "$name" "$best_ocs" "$best_ort" "$ratio" "$best_unf" \
      "$(awk -v a="$best_unf" -v b="$best_ort" 'BEGIN { print a / b }')"
  else
    printf '%-10s %12.2f %12.2f %8.2f\n' "$name" "$best_ocs" "$best_ort" "$ratio"
  fi
done
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
