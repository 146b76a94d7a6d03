#!/usr/bin/env bash
# RQ5 (Silero VAD v4): how closely do quantized Silero VAD models follow the float model on a
# stream of real and synthesized speech, silence and noise? Writes OUT_DIR/results.csv,
# OUT_DIR/diagnostics.csv and OUT_DIR/results.md (the tables of docs/results/silero_vad/README.md).
#
#   scripts/silero_fidelity.sh [OUT_DIR]      (default build/silero_fidelity; about 4 minutes)
#
# Needs build/ocs, $OCS_CACHE/models/silero_vad.onnx (scripts/fetch_models.sh), python3 + numpy
# ($PYTHON, default /usr/bin/python3), espeak-ng and alsa-utils (scripts/make_vad_audio.py).
#
# Grid: weight bits 8 6 5 4, 8-bit activations, clip method max or mse (the same for weights and
# activations), weight OCS ratio 0 or 0.05. Each point:
#   1. ocs quantize with sr fixed to 16000 and 512-sample chunks (the Ifs are inlined, the two
#      LSTMs unrolled), calibrated on OUT_DIR/audio/calib.wav: 512 chunks, each with the state
#      the float model carries over that stream (the wav: calibration source);
#   2. ocs stream on OUT_DIR/audio/test.wav, each model carrying its own state, against the float
#      model: mean and max |p - p_float| and the agreement of the decision p >= 0.5.
# Diagnostics: weights only (abits 0), activations only (wbits 16), unsigned activations, and
# the activation quantizer of one layer at a time (wbits 16, abits 8, every other layer float).
set -euo pipefail

cd "$(dirname "$0")/.."
OUT="${1:-build/silero_fidelity}"
OCS_CACHE="${OCS_CACHE:-$HOME/.cache/ocs}"
MODEL="$OCS_CACHE/models/silero_vad.onnx"
OCS=build/ocs
# Debian's python3 (with python3-numpy) unless PYTHON says otherwise (a pyenv python3 may lack numpy).
PYTHON="${PYTHON:-$( [[ -x /usr/bin/python3 ]] && echo /usr/bin/python3 || echo python3 )}"
[[ -x "$OCS" ]] || { echo "silero_fidelity: build ocs first (cmake --build build --target ocs)" >&2; exit 1; }
[[ -f "$MODEL" ]] || { echo "silero_fidelity: $MODEL is missing: run scripts/fetch_models.sh" >&2; exit 1; }
mkdir -p "$OUT/models" "$OUT/streams"

"$PYTHON" scripts/make_vad_audio.py "$OUT/audio"
CALIB="wav:$OUT/audio/calib.wav,chunk=512,state=h:hn,state=c:cn,fix=sr:16000"
STREAM=(--audio "$OUT/audio/test.wav" --chunk 512 --state h=hn --state c=cn --fix sr=16000)
HEADER="name,wbits,abits,clip,ocs_ratio,flags,layers_quantized,size_overhead_percent,mean_abs_diff,max_abs_diff,decision_agreement,reference_positive,chunks"

# run_case CSV NAME WBITS ABITS CLIP RATIO [EXTRA QUANTIZE FLAGS...]: one quantize + stream, one CSV row.
run_case() {
  local csv="$1" name="$2" wbits="$3" abits="$4" clip="$5" ratio="$6"
  shift 6
  local calib=()
  [[ "$abits" == 0 ]] || calib=(--calib "$CALIB" --calib-samples 512)
  "$OCS" quantize "$MODEL" "$OUT/models/$name.onnx" --fix-input sr=16000 --fix-shape input=1x512 "${calib[@]}" \
      --wbits "$wbits" --abits "$abits" --wclip "$clip" --aclip "$clip" --ocs-ratio "$ratio" --force "$@" \
      >"$OUT/models/$name.log" 2>&1
  "$OCS" stream "$OUT/models/$name.onnx" "${STREAM[@]}" --reference "$MODEL" \
      --output "$OUT/streams/$name.csv" --json "$OUT/streams/$name.json" --force >/dev/null
  "$PYTHON" - "$OUT/models/$name.report.json" "$OUT/streams/$name.json" "$name" "$wbits" "$abits" "$clip" "$ratio" "$*" \
      >>"$csv" <<'PY'
import json, sys
report, stream = (json.load(open(p)) for p in sys.argv[1:3])
name, wbits, abits, clip, ratio, flags = sys.argv[3:9]
m = report["model"]
print(f"{name},{wbits},{abits},{clip},{ratio},{flags},{m['layers_quantized']},{m['size_overhead_percent']:.2f},"
      f"{stream['mean_abs_diff']:.6f},{stream['max_abs_diff']:.6f},{stream['decision_agreement']:.6f},"
      f"{stream['reference_positive']:.6f},{stream['chunks']}")
PY
  tail -n 1 "$csv"
}

# The float model on our engine, and (when onnxruntime-node is installed) against ONNX Runtime
# running the same chunk loop (scripts/ort_stream.js).
"$OCS" stream "$MODEL" "${STREAM[@]}" --output "$OUT/streams/float.csv" --force
if node scripts/ort_stream.js --state h=hn --state c=cn --fix sr=16000 "$MODEL" "$OUT/audio/test.wav" \
     "$OUT/streams/float_ort.npy" 2>/dev/null; then
  "$PYTHON" - "$OUT/streams/float.csv" "$OUT/streams/float_ort.npy" >"$OUT/float_vs_ort.txt" <<'PY'
import numpy as np, sys
ours = np.loadtxt(sys.argv[1], delimiter=",", skiprows=1)[:, 2]
ort = np.load(sys.argv[2]).astype(np.float64)
d = np.abs(ours - ort)
print(f"float model, ocs vs ONNX Runtime over {len(ours)} chunks: max |p - p_ort| {d.max():.3g}, "
      f"mean {d.mean():.3g}, decision agreement {100 * np.mean((ours >= 0.5) == (ort >= 0.5)):.2f}%")
PY
  cat "$OUT/float_vs_ort.txt"
fi

echo "$HEADER" >"$OUT/results.csv"
for wbits in 8 6 5 4; do
  for clip in max mse; do
    for ratio in 0 0.05; do
      run_case "$OUT/results.csv" "w${wbits}a8_${clip}_r${ratio}" "$wbits" 8 "$clip" "$ratio"
    done
  done
done

# The quantized models under ONNX Runtime (same chunk loop) against our engine's run of them, with
# ORT's graph optimizations off (the QDQ graph as written) and at its default level "all" (which
# rewrites QDQ placement and fuses integer kernels).
if [[ -f "$OUT/streams/float_ort.npy" ]]; then
  echo "name,optimization,max_abs_diff,mean_abs_diff,decision_agreement" >"$OUT/ort_agreement.csv"
  for csv in "$OUT"/streams/w*a8_*.csv; do
    name="$(basename "$csv" .csv)"
    for level in disabled all; do
      node scripts/ort_stream.js --optimization "$level" --state h=hn --state c=cn --fix sr=16000 \
          "$OUT/models/$name.onnx" "$OUT/audio/test.wav" "$OUT/streams/${name}_ort_$level.npy" 2>/dev/null
      "$PYTHON" - "$csv" "$OUT/streams/${name}_ort_$level.npy" "$name" "$level" >>"$OUT/ort_agreement.csv" <<'PY'
import numpy as np, sys
ours = np.loadtxt(sys.argv[1], delimiter=",", skiprows=1)[:, 2]
ort = np.load(sys.argv[2]).astype(np.float64)
d = np.abs(ours - ort)
print(f"{sys.argv[3]},{sys.argv[4]},{d.max():.6f},{d.mean():.6f},{np.mean((ours >= 0.5) == (ort >= 0.5)):.6f}")
PY
    done
  done
fi

echo "$HEADER" >"$OUT/diagnostics.csv"
for wbits in 16 8 6 4; do run_case "$OUT/diagnostics.csv" "w${wbits}_float_act" "$wbits" 0 max 0; done
run_case "$OUT/diagnostics.csv" "w16a8_max" 16 8 max 0
run_case "$OUT/diagnostics.csv" "w8a8_mse_unsigned" 8 8 mse 0 --unsigned-activations
run_case "$OUT/diagnostics.csv" "w4a8_mse_r0.05_unsigned" 4 8 mse 0.05 --unsigned-activations
# One layer's activation quantizer at a time (its weight at 16 bits, everything else float).
layers=$("$PYTHON" -c "import json,sys; print(' '.join(l['node'] for l in json.load(open(sys.argv[1]))['layers']))" \
         "$OUT/models/w16a8_max.report.json")
for only in $layers; do
  exclude=()
  for layer in $layers; do [[ "$layer" == "$only" ]] || exclude+=(--exclude "$layer"); done
  run_case "$OUT/diagnostics.csv" "only_$only" 16 8 max 0 --quantize-first-last "${exclude[@]}"
done

"$PYTHON" - "$OUT/results.csv" "$OUT/diagnostics.csv" "$OUT/ort_agreement.csv" >"$OUT/results.md" <<'PY'
import csv, os, sys
rows = list(csv.DictReader(open(sys.argv[1])))
diag = list(csv.DictReader(open(sys.argv[2])))
ort = list(csv.DictReader(open(sys.argv[3]))) if os.path.exists(sys.argv[3]) else []
def line(r, first):
    return (f"| {first} | {float(r['size_overhead_percent']):.2f}% | {float(r['mean_abs_diff']):.4f} | "
            f"{float(r['max_abs_diff']):.4f} | {100 * float(r['decision_agreement']):.2f}% |")
print("| W bits / A bits, clip, OCS r | weights added | mean abs(p - p_float) | max abs(p - p_float) | decision agreement |")
print("|---|---|---|---|---|")
for r in rows:
    print(line(r, f"{r['wbits']} / {r['abits']}, {r['clip']}, r = {r['ocs_ratio']}"))
print(f"\n{rows[0]['chunks']} chunks of 512 samples; the float model calls "
      f"{100 * float(rows[0]['reference_positive']):.1f}% of them speech (p >= 0.5).\n")
print("| diagnostic | weights added | mean abs(p - p_float) | max abs(p - p_float) | decision agreement |")
print("|---|---|---|---|---|")
for r in diag:
    what = r["name"]
    if what.startswith("only_"):
        what = f"only the input of {what[5:]} at 8 bits"
    else:
        what = f"{r['wbits']} / {r['abits'] if r['abits'] != '0' else 'float'}, {r['clip']}, r = {r['ocs_ratio']} {r['flags']}".strip()
    print(line(r, what))
if ort:
    print("\n| model (ONNX Runtime vs ocs, same QDQ file) | ORT optimization | max abs(p_ort - p_ocs) | mean | decision agreement |")
    print("|---|---|---|---|---|")
    for r in ort:
        print(f"| {r['name']} | {r['optimization']} | {float(r['max_abs_diff']):.4f} | {float(r['mean_abs_diff']):.6f} | "
              f"{100 * float(r['decision_agreement']):.2f}% |")
PY
cat "$OUT/results.md"
