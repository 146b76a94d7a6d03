#!/usr/bin/env bash
# Issue #12's latency acceptance: `ocs run --repeat` of the W8A8 OCS r = 0.02 export against the
# float model, and ONNX Runtime on the very same files, 2 threads, same run, alternating rounds
# (best median of each kept, as bench/bench.sh does). Also times the export with the int8 path
# off (OCS_NO_LAYOUT=int8: dequantize, float conv, quantize; the engine before issue #12).
#
# Exports are written once into $OCS_CACHE/bench/int8 (never into the repo): `ocs quantize
# --wbits 8 --abits 8 --ocs-ratio 0.02 --aclip max` (the configuration docs/INT8.md quotes),
# calibrated on the golden input (det) or on 64 rendered text lines (rec, bench/make_rec_calib.py);
# latency does not depend on the thresholds.
#
# Usage: bench/int8_latency.sh [--runs N] [--rounds R] [--threads T] [MODEL ...]
#   MODEL: ppocr_det ppocr_rec (default both)
set -euo pipefail
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
OCS_CACHE="${OCS_CACHE:-$HOME/.cache/ocs}"
export OCS_CACHE
GOLDEN_DIR="$OCS_CACHE/golden"
OUT="$OCS_CACHE/bench/int8"
runs=20
rounds=2
threads=2
models=()
while [[ $# -gt 0 ]]; do
  case "$1" in
    --runs) runs="$2"; shift 2 ;;
    --rounds) rounds="$2"; shift 2 ;;
    --threads) threads="$2"; shift 2 ;;
    -h|--help) sed -n '2,13p' "${BASH_SOURCE[0]}"; exit 0 ;;
    *) models+=("$1"); shift ;;
  esac
done
[[ ${#models[@]} -gt 0 ]] || models=(ppocr_det ppocr_rec)
ocs="$REPO/build/ocs"
mkdir -p "$OUT"

export_w8a8() {  # NAME FLOAT_MODEL -> path of the export
  local name="$1" model="$2" file="$OUT/$1_w8a8_ocs.onnx" calib
  if [[ ! -s "$file" ]]; then
    if [[ "$name" == ppocr_rec ]]; then
      /usr/bin/python3 "$REPO/bench/make_rec_calib.py" "$OUT/rec_calib.npz" 64 >&2
      calib="$OUT/rec_calib.npz"
    else
      calib="x=$GOLDEN_DIR/$name/inputs/x.npy"
    fi
    "$ocs" quantize "$model" "$file" --calib "$calib" --wbits 8 --abits 8 --ocs-ratio 0.02 --aclip max --force >&2
  fi
  echo "$file"
}

ocs_median() {  # MODEL INPUT [ENV...]
  local model="$1" input="$2"; shift 2
  env "$@" "$ocs" run "$model" --input "$input" --threads "$threads" --repeat "$runs" --warmup 3 \
    --output-dir "$OUT/out" | sed -n 's/^median latency over [0-9]* runs: \([0-9.]*\) ms.*/\1/p'
}
ort_median() {  # MODEL INPUT
  node "$REPO/scripts/ort_run.js" --bench "$runs" --threads "$threads" "$1" - "$2" |
    sed -n 's/.*"median_ms":\([0-9.]*\).*/\1/p'
}
min() { awk -v a="$1" -v b="$2" 'BEGIN { print (b == "" || a + 0 < b + 0) ? a : b }'; }

echo "load before: $(cut -d' ' -f1-3 /proc/loadavg)  (threads $threads, $runs runs x $rounds rounds, OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-unset})"
printf '%-10s %10s %10s %10s %10s %10s %9s %9s\n' model "float ms" "int8 ms" "no-int8" "ORT fl." "ORT q." "int8/fl" "int8/ORTq"
for name in "${models[@]}"; do
  [[ -s "$GOLDEN_DIR/$name/inputs/x.npy" ]] || bash "$REPO/scripts/make_golden.sh" "$name" >&2
  float_model="$(cat "$GOLDEN_DIR/$name/model")"
  input="x=$GOLDEN_DIR/$name/inputs/x.npy"
  q_model="$(export_w8a8 "$name" "$float_model")"
  f="" q="" n="" of="" oq=""
  for ((r = 0; r < rounds; ++r)); do
    f="$(min "$(ocs_median "$float_model" "$input")" "$f")"
    q="$(min "$(ocs_median "$q_model" "$input")" "$q")"
    n="$(min "$(ocs_median "$q_model" "$input" OCS_NO_LAYOUT=int8)" "$n")"
    of="$(min "$(ort_median "$float_model" "$input")" "$of")"
    oq="$(min "$(ort_median "$q_model" "$input")" "$oq")"
    echo "bench: $name round $((r + 1)) done (load $(cut -d' ' -f1 /proc/loadavg))" >&2
  done
  printf '%-10s %10.2f %10.2f %10.2f %10.2f %10.2f %9.2f %9.2f\n' "$name" "$f" "$q" "$n" "$of" "$oq" \
    "$(awk -v a="$q" -v b="$f" 'BEGIN { print a / b }')" "$(awk -v a="$q" -v b="$oq" 'BEGIN { print a / b }')"
done
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
