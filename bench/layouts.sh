#!/usr/bin/env bash
# Accuracy of the two QDQ layouts of `ocs quantize` (docs/QUANTIZE.md, "Two layouts"): the
# deployable one (--format qdq) and the paper's (--format qdq-inputs), W8A8 and W6A8, weight OCS
# r = 0.02, max clipping (`--aclip max`, as docs/QUANTIZE.md quotes it); Fashion-MNIST models
# on the 10,000 test images, PP-OCRv4 rec CER on the 200 lines of tests/data/text_lines
# (calibrated on 64 rendered lines). For the deployable Fashion models also ONNX Runtime's top-1
# on the same file (scripts/fashion_vs_ort.sh).
#   bench/layouts.sh [OUT_DIR]      (needs a build, scripts/fetch_models.sh, Debian's python3-onnx)
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-$(mktemp -d)}
mkdir -p "$out"
cache=${OCS_CACHE:-$HOME/.cache/ocs}
top1() { build/ocs eval "$1" --data fashion-mnist:test 2>/dev/null | sed -n 's/^top-1 \([0-9.]*\)%.*/\1/p'; }
echo "| model | bits | qdq-inputs | qdq (ocs) | qdq (ONNX Runtime) |"
echo "|---|---|---|---|---|"
for m in fashion_resnet fashion_vgg; do
  for w in 8 6; do
    for f in qdq-inputs qdq; do
      build/ocs quantize models/$m.onnx "$out/$m.w$w.$f.onnx" --calib fashion-mnist:train --wbits $w --abits 8 \
        --ocs-ratio 0.02 --aclip max --format $f --force >/dev/null 2>&1
    done
    ort=$(scripts/fashion_vs_ort.sh "$out/$m.w$w.qdq.onnx" | sed -n 's/^ONNX Runtime top-1 \([0-9.]*\),.*/\1/p')
    echo "| $m | W${w}A8 | $(top1 "$out/$m.w$w.qdq-inputs.onnx") | $(top1 "$out/$m.w$w.qdq.onnx") | $(/usr/bin/python3 -c "print(f'{100*$ort:.2f}')") |"
  done
done
rec=$cache/models/ch_PP-OCRv4_rec_infer.onnx
[[ -d "$out/calib_lines" ]] || /usr/bin/python3 scripts/make_text_lines.py "$out/calib_lines" --count 64 \
    --chapters Exod20,Isa40,Luke2,Acts2,Rom8 >/dev/null
cer() { build/ocs eval "$1" --data text-lines:tests/data/text_lines --limit 200 --metric cer \
          --keys "$cache/models/ppocr_keys_v1.txt" 2>/dev/null | grep -i "cer" | tail -1; }
echo
echo "PP-OCRv4 rec, W8A8 OCS r=0.02, CER on 200 lines:"
echo "float: $(cer "$rec")"
for f in qdq-inputs qdq; do
  build/ocs quantize "$rec" "$out/rec.$f.onnx" --calib text-lines:"$out/calib_lines" --calib-samples 64 \
    --ocs-ratio 0.02 --aclip max --format $f --force >/dev/null 2>&1
  echo "$f: $(cer "$out/rec.$f.onnx")"
done
