#!/usr/bin/env bash
# RQ5 (Silero VAD v4): how closely do quantized Silero VAD models follow the float model on a
# stream of real and synthesized speech, silence and noise? Writes OUT_DIR/results.csv and
# OUT_DIR/results.md (the table in docs/results/silero_vad/README.md).
#
#   scripts/silero_fidelity.sh [OUT_DIR]      (default build/silero_fidelity)
#
# Needs build/ocs, $OCS_CACHE/models/silero_vad.onnx (scripts/fetch_models.sh), python3 + numpy
# ($PYTHON, default /usr/bin/python3),
# espeak-ng and alsa-utils (scripts/make_vad_audio.py). For each weight width (8 6 5 4), clip
# method (max, mse: the same for weights and activations) and weight OCS ratio (0, 0.05), with
# 8-bit activations:
#   1. ocs quantize with sr fixed to 16000 and 512-sample chunks (the Ifs are inlined, the two
#      LSTMs unrolled), calibrated on OUT_DIR/audio/calib.wav: 512 chunks, each with the state
#      the float model carries over that stream;
#   2. ocs stream on OUT_DIR/audio/test.wav, each model carrying its own state, against the float
#      model: mean and max |p - p_float| and the agreement of the decision p >= 0.5.
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

# The float model itself, for the share of speech chunks.
"$OCS" stream "$MODEL" "${STREAM[@]}" --output "$OUT/streams/float.csv" --force

echo "wbits,abits,clip,ocs_ratio,size_overhead_percent,mean_abs_diff,max_abs_diff,decision_agreement,reference_positive,chunks" >"$OUT/results.csv"
for wbits in 8 6 5 4; do
  for clip in max mse; do
    for ratio in 0 0.05; do
      name="w${wbits}a8_${clip}_r${ratio}"
      "$OCS" quantize "$MODEL" "$OUT/models/$name.onnx" --fix-input sr=16000 --fix-shape input=1x512 \
          --calib "$CALIB" --calib-samples 512 --wbits "$wbits" --abits 8 --wclip "$clip" --aclip "$clip" \
          --ocs-ratio "$ratio" --force >"$OUT/models/$name.log"
      "$OCS" stream "$OUT/models/$name.onnx" "${STREAM[@]}" --reference "$MODEL" \
          --output "$OUT/streams/$name.csv" --json "$OUT/streams/$name.json" --force
      "$PYTHON" - "$OUT/models/$name.report.json" "$OUT/streams/$name.json" "$wbits" "$clip" "$ratio" >>"$OUT/results.csv" <<'PY'
import json, sys
report, stream = (json.load(open(p)) for p in sys.argv[1:3])
wbits, clip, ratio = sys.argv[3:6]
print(f"{wbits},8,{clip},{ratio},{report['model']['size_overhead_percent']:.2f},{stream['mean_abs_diff']:.6f},"
      f"{stream['max_abs_diff']:.6f},{stream['decision_agreement']:.6f},{stream['reference_positive']:.6f},{stream['chunks']}")
PY
    done
  done
done

"$PYTHON" - "$OUT/results.csv" >"$OUT/results.md" <<'PY'
import csv, sys
rows = list(csv.DictReader(open(sys.argv[1])))
print("| W bits | A bits | clip | OCS r | weights added | mean abs(p - p_float) | max abs(p - p_float) | decision agreement |")
print("|---|---|---|---|---|---|---|---|")
for r in rows:
    print(f"| {r['wbits']} | {r['abits']} | {r['clip']} | {r['ocs_ratio']} | {float(r['size_overhead_percent']):.2f}% | "
          f"{float(r['mean_abs_diff']):.4f} | {float(r['max_abs_diff']):.4f} | {100 * float(r['decision_agreement']):.2f}% |")
print(f"\n{rows[0]['chunks']} chunks of 512 samples; the float model calls {100 * float(rows[0]['reference_positive']):.1f}% of them speech (p >= 0.5).")
PY
cat "$OUT/results.md"
