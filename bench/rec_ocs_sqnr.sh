#!/usr/bin/env bash
# Weight OCS on PP-OCRv4 rec (extreme weight outliers): per-layer weight SQNR and output
# fidelity against the float model, as the expand ratio r grows. Weights only (activations
# float), per-tensor scales, the reference's first/last-layer policy.
#   usage: bench/rec_ocs_sqnr.sh [WBITS]      (default 6; prints a markdown table)
# Needs scripts/fetch_models.sh and scripts/make_golden.sh ppocr_rec (one real text-line input,
# also used as the calibration sample).
set -euo pipefail
cd "$(dirname "$0")/.."
wbits=${1:-6}
cache=${OCS_CACHE:-$HOME/.cache/ocs}
model=$cache/models/ch_PP-OCRv4_rec_infer.onnx
x=$cache/golden/ppocr_rec/inputs/x.npy
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
echo "| r | weights added | SQNR p2o.Conv.32 (dB) | SQNR p2o.Conv.36 (dB) | mean layer SQNR (dB) | output SQNR vs float (dB) |"
echo "|---|---|---|---|---|---|"
for r in 0 0.01 0.02 0.05 0.1; do
  build/ocs quantize "$model" "$work/q.onnx" --calib "x=$x" --wbits "$wbits" --abits 0 --ocs-ratio "$r" \
    --report "$work/q.json" --force >/dev/null 2>&1
  fidelity=$(build/ocs eval "$work/q.onnx" --data "x=$x" --reference "$model" --json "$work/e.json" 2>/dev/null >/dev/null;
             /usr/bin/python3 -c "import json; print('%.2f' % json.load(open('$work/e.json'))['sqnr_db'])")
  /usr/bin/python3 - "$work/q.json" "$r" "$fidelity" <<'PY'
import json, sys
report = json.load(open(sys.argv[1]))
rows = {l["node"]: l for l in report["layers"] if l["quantized"]}
def sqnr(l): return l.get("weight_sqnr_db_ocs", l["weight_sqnr_db_no_ocs"])
mean = sum(sqnr(l) for l in rows.values()) / len(rows)
print("| %s | %+.2f%% | %.2f | %.2f | %.2f | %s |" % (sys.argv[2], report["model"]["size_overhead_percent"],
      sqnr(rows["p2o.Conv.32"]), sqnr(rows["p2o.Conv.36"]), mean, sys.argv[3]))
PY
done
