#!/usr/bin/env bash
# Issue #13 point 5: which activation clip method should `ocs quantize` use by default? Every
# method (and our variants) on every model we can measure, in the layout `ocs quantize` writes by
# default (--format qdq: the deployable QDQ graph, unsigned grid after ReLU-like ops), at 8-bit
# activations and at one lower width. One `ocs sweep` per model into OUT_DIR/<model>/.
#
#   bench/aclip_survey.sh [OUT_DIR] [MODEL...]   (default docs/results/activation_clip_survey, all)
#
# Models: resnet vgg densenet (Fashion-MNIST top-1; weights W8 per tensor, max), rec (PP-OCRv4 rec,
# CER on 200 KJV lines), det and cls (PP-OCRv4 det, PP-OCR mobile direction classifier: output
# SQNR and top-1 agreement against the float model on rendered text, bench/make_ocr_fidelity_data.py),
# lm (KJV LSTM, perplexity), silero (Silero VAD v4 streamed over the audio of
# scripts/make_vad_audio.py: agreement of the speech decision with the float model, and mean
# |p - p_float|; one `ocs quantize` + `ocs stream` per point, as scripts/silero_fidelity.sh), wide (bench/make_wide_activation_model.py: one activation ~60x wider
# than the rest). The PP-OCR models get per-channel W8 weights: with one weight scale per tensor
# their 8-bit weights alone already lose most of the accuracy (docs/RESULTS.md), which would hide
# the activations' effect. Needs build/ocs, the models of scripts/fetch_models.sh, /usr/bin/python3
# with numpy, onnx and PIL.
set -euo pipefail
cd "$(dirname "$0")/.."
OUT="${1:-docs/results/activation_clip_survey}"
shift || true
MODELS=("$@")
[[ ${#MODELS[@]} -gt 0 ]] || MODELS=(resnet vgg densenet rec det cls lm silero wide)
OCS_CACHE="${OCS_CACHE:-$HOME/.cache/ocs}"
M="$OCS_CACHE/models"
PY=/usr/bin/python3
DATA="${DATA:-build/aclip_survey_data}"
CLIPS=max,mse,aciq,kl,percentile,mse-fine,aciq-std,kl-nonzero
mkdir -p "$OUT" "$DATA"

sweep() {  # NAME MODEL ARGS...: one sweep over every activation clip method
  local name="$1" model="$2"
  shift 2
  echo "== $name: $(date -u +%H:%M:%S), load $(cut -d' ' -f1-3 /proc/loadavg)"
  /usr/bin/time -f "$name: %e s wall, %U s user, %S s sys" \
    nice -n 19 build/ocs sweep "$model" --format qdq --wbits 8 --wclip max --ocs-ratio 0 --aclip "$CLIPS" \
      --threads 2 --force --output-dir "$OUT/$name" "$@" >"$OUT/$name.log" 2>&1
  tail -n 1 "$OUT/$name.log"
}

silero() {  # no sweep over streams: quantize and stream each point, one CSV row each
  local dir="$DATA/silero" csv="$OUT/silero_vad.csv"
  [[ -s "$dir/audio/test.wav" ]] || $PY scripts/make_vad_audio.py "$dir/audio" >/dev/null
  echo "== silero_vad: $(date -u +%H:%M:%S), load $(cut -d' ' -f1-3 /proc/loadavg)"
  echo "abits,aclip,decision_agreement,mean_abs_diff,max_abs_diff,chunks" >"$csv"
  for abits in 8 6; do
    for clip in ${CLIPS//,/ }; do
      nice -n 19 build/ocs quantize "$OCS_CACHE/models/silero_vad.onnx" "$dir/q.onnx" --fix-input sr=16000 \
        --fix-shape input=1x512 --calib "wav:$dir/audio/calib.wav,chunk=512,state=h:hn,state=c:cn,fix=sr:16000" \
        --wbits 8 --wclip max --abits "$abits" --aclip "$clip" --threads 2 --force >"$dir/q.log" 2>&1
      nice -n 19 build/ocs stream "$dir/q.onnx" --audio "$dir/audio/test.wav" --chunk 512 --state h=hn \
        --state c=cn --fix sr=16000 --reference "$OCS_CACHE/models/silero_vad.onnx" --json "$dir/s.json" --force >/dev/null
      $PY -c 'import json, sys; s = json.load(open(sys.argv[1])); print(",".join(sys.argv[2:4] + [str(s[k]) for k in
              ("decision_agreement", "mean_abs_diff", "max_abs_diff", "chunks")]))' "$dir/s.json" "$abits" "$clip" >>"$csv"
    done
  done
  tail -n 1 "$csv"
}

for model in "${MODELS[@]}"; do
  case $model in
    resnet|vgg)
      sweep "fashion_$model" "models/fashion_$model.onnx" --calib fashion-mnist:train \
        --data fashion-mnist:test --abits 8,4 ;;
    densenet)
      sweep fashion_densenet models/fashion_densenet.onnx --calib fashion-mnist:train \
        --data fashion-mnist:test --limit 2000 --abits 8,4 ;;
    rec)
      [[ -s "$DATA/rec_calib.npz" ]] || $PY bench/make_rec_calib.py "$DATA/rec_calib.npz" 128
      sweep ppocr_rec "$M/ch_PP-OCRv4_rec_infer.onnx" --per-channel --calib "$DATA/rec_calib.npz" \
        --calib-samples 128 --data text-lines:tests/data/text_lines --limit 200 --metric cer \
        --keys "$M/ppocr_keys_v1.txt" --abits 8,6 ;;
    det|cls)
      [[ -s "$DATA/cls_eval.npz" ]] || $PY bench/make_ocr_fidelity_data.py "$DATA"
      local_model=$([[ $model == det ]] && echo ch_PP-OCRv4_det_infer || echo ch_ppocr_mobile_v2.0_cls_infer)
      sweep "ppocr_$model" "$M/$local_model.onnx" --per-channel --calib "$DATA/${model}_calib.npz" \
        --calib-samples 128 --data "$DATA/${model}_eval.npz" --metric fidelity --abits 8,6 ;;
    lm)
      sweep kjv_lstm models/kjv_lstm.onnx --calib kjv:train --calib-samples 128 --data kjv:test \
        --limit 512 --metric perplexity --abits 8,6,4 ;;
    silero) silero ;;
    wide)
      $PY bench/make_wide_activation_model.py "$DATA/wide" >/dev/null
      sweep wide_activation "$DATA/wide/wide_activation.onnx" --calib "$DATA/wide/calib.npz" \
        --calib-samples 128 --data "$DATA/wide/eval.npz" --metric fidelity --abits 8,6 ;;
    *) echo "aclip_survey: unknown model '$model'" >&2; exit 1 ;;
  esac
done
