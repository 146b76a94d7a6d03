#!/usr/bin/env bash
# Issue #11's table: does the file `ocs quantize --format qdq` writes deploy in ONNX Runtime?
# For each model: quantize W8A8 with weight OCS r = 0.02 (per tensor, default clip methods),
# then count the int8 nodes in ORT's optimised graph (level 'all', bench/ort_int8.js count) and
# time the float and the quantized model in ORT (bench/ort_int8.js bench: alternating, same run,
# 2 threads) and in ocs (`ocs run --repeat`, alternating, same threads). Prints one markdown
# table. With --accuracy it also runs issue #11's accuracy checks: on the Fashion models, top-1 of
# the quantized file in ONNX Runtime ('all', scripts/fashion_vs_ort.sh) against `ocs eval`, all
# 10,000 test images; on PP-OCRv4 rec, the CER of the quantized file in ONNX Runtime against
# `ocs eval` on the 600 text lines of tests/data/text_lines (bench/ort_rec_cer.py).
#
# Models and calibration data (generated into $OCS_CACHE/bench/ort_qdq, never into the repo):
#   fashion_resnet, fashion_vgg  models/*.onnx, input 1x1x28x28 (test image 0);
#                                calibration fashion-mnist:train (512 images)
#   ppocr_det   PP-OCRv4 det, x 1x3x640x640 (golden input of scripts/make_golden.sh); calibration:
#               that text page with 8 different shifts and pixel noise
#   ppocr_rec   PP-OCRv4 rec, x 1x3x48x320 (golden input); calibration: 128 of 512
#               bench/make_rec_calib.py lines (the paper uses 512, which only costs time here)
#   resnet50_arch  scripts/make_resnet50.py (fetch_models.sh makes it), input 1x3x224x224 from
#               bench/make_input.py (as bench/bench.sh); calibration: 32 synthetic images
#               (scripts/make_resnet50.py --images)
#
# Usage: bench/ort_qdq_bench.sh [--runs N] [--rounds R] [--threads T] [--calib-samples S]
#                               [--accuracy] [--ocs PATH] [MODEL ...] [-- QUANTIZE_FLAGS ...]
#   defaults: 20 runs x 3 rounds (best round's median of each), 2 threads, all five models;
#   --calib-samples S overrides the calibration sample counts above for every model.
#   Flags after -- go to `ocs quantize` after the defaults (e.g. -- --format qdq-inputs).
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
OCS_CACHE="${OCS_CACHE:-$HOME/.cache/ocs}"
export OCS_CACHE
MODELS_DIR="$OCS_CACHE/models"
WORK="$OCS_CACHE/bench/ort_qdq"
PYTHON=/usr/bin/python3

runs=20
rounds=3
threads=2
calib_samples=""
accuracy=0
ocs="$REPO/build/ocs"
models=()
extra=()
while [[ $# -gt 0 ]]; do
  case "$1" in
    --runs) runs="$2"; shift 2 ;;
    --rounds) rounds="$2"; shift 2 ;;
    --threads) threads="$2"; shift 2 ;;
    --calib-samples) calib_samples="$2"; shift 2 ;;
    --accuracy) accuracy=1; shift ;;
    --ocs) ocs="$2"; shift 2 ;;
    --) shift; extra=("$@"); break ;;
    -h|--help) sed -n '2,27p' "${BASH_SOURCE[0]}"; exit 0 ;;
    -*) echo "ort_qdq_bench: unknown option $1" >&2; exit 2 ;;
    *) models+=("$1"); shift ;;
  esac
done
[[ ${#models[@]} -gt 0 ]] || models=(fashion_resnet fashion_vgg ppocr_det ppocr_rec resnet50_arch)

log() { echo "ort_qdq_bench: $*" >&2; }
fail() { echo "ort_qdq_bench: error: $*" >&2; exit 1; }
[[ -x "$ocs" ]] || fail "$ocs is not built (scripts/build.sh build)"
command -v node >/dev/null || fail "node is not on PATH"
mkdir -p "$WORK"

# prepare MODEL: makes the inputs and calibration data; prints
# "FLOAT_MODEL INPUT_SPEC CALIB_ARG CALIB_SAMPLES".
prepare() {
  case "$1" in
    fashion_resnet|fashion_vgg)
      if [[ ! -s "$WORK/fashion_input.npy" ]]; then
        "$PYTHON" - "$WORK/fashion_input.npy" <<'PY'
import gzip, sys, numpy as np
x = np.frombuffer(gzip.open("/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz").read(),
                  np.uint8, offset=16)[:784]
np.save(sys.argv[1], ((x.reshape(1, 1, 28, 28).astype(np.float32) / 255.0 - 0.5) / 0.5))
PY
      fi
      echo "$REPO/models/$1.onnx input=$WORK/fashion_input.npy fashion-mnist:train 512" ;;
    ppocr_det|ppocr_rec)
      [[ -s "$OCS_CACHE/golden/$1/inputs/x.npy" ]] || bash "$REPO/scripts/make_golden.sh" "$1" >&2
      local input="$OCS_CACHE/golden/$1/inputs/x.npy" calib="$WORK/$1_calib.npz"
      if [[ "$1" == ppocr_rec && ! -s "$calib" ]]; then
        "$PYTHON" "$REPO/bench/make_rec_calib.py" "$calib" 512 >&2
      elif [[ "$1" == ppocr_det && ! -s "$calib" ]]; then
        "$PYTHON" - "$input" "$calib" <<'PY'
import sys, numpy as np
page = np.load(sys.argv[1])[0]
rng = np.random.default_rng(11)
pages = [np.roll(page, (int(rng.integers(-200, 200)), int(rng.integers(-200, 200))), axis=(1, 2))
         + rng.normal(0, 0.03, page.shape) for _ in range(8)]
np.savez(sys.argv[2], x=np.clip(np.stack(pages), -1, 1).astype(np.float32))
PY
      fi
      echo "$MODELS_DIR/$([[ $1 == ppocr_det ]] && echo ch_PP-OCRv4_det_infer || echo ch_PP-OCRv4_rec_infer).onnx x=$input $calib $([[ $1 == ppocr_det ]] && echo 8 || echo 128)" ;;
    resnet50_arch)
      [[ -s "$MODELS_DIR/resnet50_arch.onnx" ]] || bash "$REPO/scripts/fetch_models.sh" >&2
      [[ -s "$WORK/resnet50_input.npy" ]] || "$PYTHON" "$REPO/bench/make_input.py" "$WORK/resnet50_input.npy" 1 3 224 224
      [[ -s "$WORK/resnet50_calib.npz" ]] || "$PYTHON" "$REPO/scripts/make_resnet50.py" --images "$WORK/resnet50_calib.npz" 32
      echo "$MODELS_DIR/resnet50_arch.onnx input=$WORK/resnet50_input.npy $WORK/resnet50_calib.npz 32" ;;
    *) fail "unknown model '$1' (known: fashion_resnet fashion_vgg ppocr_det ppocr_rec resnet50_arch)" ;;
  esac
}

json_field() {  # FILE KEY: a number or string field of a one-line JSON file
  "$PYTHON" -c 'import json, sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])' "$1" "$2"
}

ocs_median() {  # MODEL INPUT_SPEC
  "$ocs" run "$1" --input "$2" --threads "$threads" --repeat "$runs" --warmup 3 \
    | sed -n 's/^median latency over [0-9]* runs: \([0-9.]*\) ms.*/\1/p'
}
min() { awk -v a="$1" -v b="$2" 'BEGIN { print (b == "" || a + 0 < b + 0) ? a : b }'; }

# The defaults, each unless the flags after -- set it (ocs quantize takes each flag once);
# --aclip max is the activation clip the figures in docs/PERFORMANCE.md were measured with.
defaults=()
for flag in --wbits 8 --abits 8 --ocs-ratio 0.02 --aclip max; do
  case $flag in --*) name=$flag; continue ;; esac
  [[ " ${extra[*]} " == *" $name "* || " ${extra[*]} " == *" $name="* ]] || defaults+=("$name" "$flag")
done
echo "load before: $(cut -d' ' -f1-3 /proc/loadavg)   ($(nproc) cores; $threads threads, $runs runs x $rounds rounds; quantize: ${defaults[*]} ${extra[*]})"
rows=()
for name in "${models[@]}"; do
  read -r float_model input calib samples <<<"$(prepare "$name")"
  quant="$WORK/${name}_w8a8_ocs.onnx"
  log "$name: ocs quantize"
  "$ocs" quantize "$float_model" "$quant" --calib "$calib" --calib-samples "${calib_samples:-$samples}" \
    "${defaults[@]}" --threads "$threads" --force "${extra[@]}" >"$WORK/$name.quantize.log" 2>&1 \
    || { cat "$WORK/$name.quantize.log" >&2; fail "ocs quantize $name failed"; }
  layers="$("$PYTHON" -c 'import json, sys; print(json.load(open(sys.argv[1]))["model"]["layers_quantized"])' "${quant%.onnx}.report.json")"
  node "$REPO/bench/ort_int8.js" count "$quant" >"$WORK/$name.count.json"
  int8="$(json_field "$WORK/$name.count.json" int8_layers)"
  float_left="$(json_field "$WORK/$name.count.json" float_layers)"
  log "$name: ORT ops of the quantized file: $("$PYTHON" -c 'import json, sys; print(json.load(open(sys.argv[1]))["ops"])' "$WORK/$name.count.json")"
  log "$name: ORT latency"
  node "$REPO/bench/ort_int8.js" bench --runs "$runs" --rounds "$rounds" --threads "$threads" \
    "$float_model" "$quant" "$input" >"$WORK/$name.ort.json"
  log "$name: ORT $(cat "$WORK/$name.ort.json")"
  best_f="" best_q="" per_round=""
  for ((r = 0; r < rounds; ++r)); do
    f="$(ocs_median "$float_model" "$input")"
    q="$(ocs_median "$quant" "$input")"
    [[ -n "$f" && -n "$q" ]] || fail "ocs run $name printed no median"
    best_f="$(min "$f" "$best_f")" best_q="$(min "$q" "$best_q")" per_round+="${per_round:+, }$f / $q"
  done
  log "$name: ocs run medians float / quantized per round: $per_round"
  rows+=("$(printf '| %s | %s | %s (%s float left) | %.2f | %.2f | %.2f | %.2f | %.2f | %.2f |' "$name" "$layers" \
    "$int8" "$float_left" "$(json_field "$WORK/$name.ort.json" float_ms)" \
    "$(json_field "$WORK/$name.ort.json" quantized_ms)" "$(json_field "$WORK/$name.ort.json" ratio)" \
    "$best_f" "$best_q" "$(awk -v a="$best_q" -v b="$best_f" 'BEGIN { print a / b }')")")
done
echo
echo "| model, W8A8 OCS r=0.02 | quantized layers | int8 layers in ORT's graph | ORT float ms | ORT quantized ms | ORT q/f | ocs float ms | ocs quantized ms | ocs q/f |"
echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|"
printf '%s\n' "${rows[@]}"
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"

if ((accuracy)); then
  echo
  echo "| model, W8A8 OCS r=0.02 | ocs eval top-1 | ONNX Runtime ('all') top-1 | ocs run top-1 | images where ORT and ocs differ |"
  echo "|---|---:|---:|---:|---:|"
  for name in fashion_resnet fashion_vgg; do
    quant="$WORK/${name}_w8a8_ocs.onnx"
    [[ -s "$quant" ]] || { log "$name: not quantized in this run, no accuracy row"; continue; }
    eval_top1="$("$ocs" eval "$quant" --data fashion-mnist:test --threads "$threads" 2>&1 \
      | sed -n 's/^top-1 \([0-9.]*\)%.*/\1/p')"
    line="$(bash "$REPO/scripts/fashion_vs_ort.sh" "$quant")"
    # "ONNX Runtime top-1 A, ocs top-1 B, N images differ"
    read -r ort_top1 run_top1 differ <<<"$(sed -n 's/ONNX Runtime top-1 \([0-9.]*\), ocs top-1 \([0-9.]*\), \([0-9]*\) images differ/\1 \2 \3/p' <<<"$line")"
    pct() { awk -v a="$1" 'BEGIN { printf "%.2f", 100 * a }'; }
    echo "| $name | $eval_top1% | $(pct "$ort_top1")% | $(pct "$run_top1")% | $differ |"
  done
  if [[ -s "$WORK/ppocr_rec_w8a8_ocs.onnx" && " ${models[*]} " == *" ppocr_rec "* ]]; then
    echo
    echo "ppocr_rec W8A8 OCS r=0.02 on the 600 lines of tests/data/text_lines (bench/ort_rec_cer.py):"
    "$PYTHON" "$REPO/bench/ort_rec_cer.py" "$WORK/ppocr_rec_w8a8_ocs.onnx" --ocs "$ocs" --threads "$threads"
  fi
fi
