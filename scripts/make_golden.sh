#!/usr/bin/env bash
# Makes golden input/output pairs for the real-model tests (tests/real_models_test.cpp):
#   $OCS_CACHE/golden/<case>/inputs/<input name>.npy     fixed pseudo-random inputs (numpy, seeded)
#   $OCS_CACHE/golden/<case>/expected/<output name>.npy  ONNX Runtime's outputs (scripts/ort_run.js)
#   $OCS_CACHE/golden/<case>/model                       one line: the model's path
# File names are the tensor names escaped like ocs' escape_file_name.
#
# Cases (inputs in the ranges the models see in use):
#   ppocr_det      PP-OCRv4 detection, x 1x3x640x640: rendered English text lines (python3-pil,
#                  DejaVu font if present) plus noise, normalised (x/255-0.5)/0.5 to [-1, 1]
#   ppocr_rec      PP-OCRv4 recognition, x 1x3x48x320: one rendered text line, same range
#   ppocr_cls      PP-OCR mobile v2 orientation, x 1x3x48x192: one rendered text line
#   ppocr_rec_lines PP-OCRv4 recognition, x 20x3x48x320: the first 20 lines of the committed
#                  set tests/data/text_lines, preprocessed here in NumPy the way PaddleOCR's
#                  resize_norm_img does (tests/ocr_end_to_end_test.cpp checks ocs' text-lines
#                  reader against these inputs and its decoded text against these outputs)
#   small_cnn      tests/data/small_cnn.onnx, input 1x1x28x28: smooth pattern + noise in [-1, 1]
#   silero_vad_16k Silero VAD v4, 512 samples at 16 kHz (tones + noise in [-1, 1]), h and c
#                  states of a running stream (small random values)
#   silero_vad_8k  the same model's 8 kHz branch, 256 samples
#
# Usage: scripts/make_golden.sh [--force] [CASE ...]      (default: all cases)
# Runs scripts/fetch_models.sh first (it skips what is present). A case whose stamp matches
# this script's version is skipped unless --force is given.
set -euo pipefail

GOLDEN_VERSION=1  # bump when inputs or cases change, so that old golden files are remade
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
OCS_CACHE="${OCS_CACHE:-$HOME/.cache/ocs}"
export OCS_CACHE
MODELS_DIR="$OCS_CACHE/models"
GOLDEN_DIR="$OCS_CACHE/golden"
PYTHON=/usr/bin/python3
ALL_CASES=(ppocr_det ppocr_rec ppocr_cls ppocr_rec_lines small_cnn silero_vad_16k silero_vad_8k)

log() { echo "make_golden: $*" >&2; }
fail() { echo "make_golden: error: $*" >&2; exit 1; }

force=0
cases=()
for arg in "$@"; do
  case "$arg" in
    --force) force=1 ;;
    -h|--help) sed -n '2,24p' "${BASH_SOURCE[0]}"; exit 0 ;;
    -*) fail "unknown option $arg" ;;
    *) cases+=("$arg") ;;
  esac
done
[[ ${#cases[@]} -gt 0 ]] || cases=("${ALL_CASES[@]}")

command -v node >/dev/null || fail "node is not on PATH"
"$PYTHON" -c 'import numpy, PIL' 2>/dev/null \
  || fail "$PYTHON cannot import numpy and PIL (apt-get install python3-numpy python3-pil)"
bash "$REPO/scripts/fetch_models.sh"

model_of() {
  case "$1" in
    ppocr_det) echo "$MODELS_DIR/ch_PP-OCRv4_det_infer.onnx" ;;
    ppocr_rec|ppocr_rec_lines) echo "$MODELS_DIR/ch_PP-OCRv4_rec_infer.onnx" ;;
    ppocr_cls) echo "$MODELS_DIR/ch_ppocr_mobile_v2.0_cls_infer.onnx" ;;
    small_cnn) echo "$REPO/tests/data/small_cnn.onnx" ;;
    silero_vad_16k|silero_vad_8k) echo "$MODELS_DIR/silero_vad.onnx" ;;
    *) return 1 ;;
  esac
}

# Writes the inputs of case $1 into folder $2 and prints them as NAME=FILE arguments.
make_inputs() {
  "$PYTHON" - "$1" "$2" "$REPO" <<'PY'
import os, sys
import numpy as np

case, out = sys.argv[1], sys.argv[2]
# One seed per case, fixed forever (changing one means bumping GOLDEN_VERSION).
seeds = {"ppocr_det": 101, "ppocr_rec": 102, "ppocr_cls": 103, "ppocr_rec_lines": 107, "small_cnn": 104,
         "silero_vad_16k": 105, "silero_vad_8k": 106}
rng = np.random.default_rng(seeds[case])

def image(shape):
    # Normalised like the models' preprocessing, (x/255 - 0.5) / 0.5, so in [-1, 1]. A smooth
    # pattern plus noise, so that activations look more like a picture than pure noise does.
    n, c, h, w = shape
    y, x = np.meshgrid(np.linspace(0, 1, h), np.linspace(0, 1, w), indexing="ij")
    base = np.stack([np.sin(6.0 * x + 2.0 * k) * np.cos(4.0 * y - k) for k in range(c)])
    noisy = 0.7 * base[None] + 0.3 * rng.uniform(-1, 1, size=shape)
    return np.clip(noisy, -1, 1).astype(np.float32)

def text_image(shape, lines):
    """Dark text on a light, slightly noisy background, as the OCR models see it: a random
    image makes the detector answer 0 everywhere, which would test little."""
    from PIL import Image, ImageDraw, ImageFont
    n, c, h, w = shape
    page = Image.new("RGB", (w, h), (235, 232, 225))
    draw = ImageDraw.Draw(page)
    for text, x, y, size in lines:
        try:
            font = ImageFont.truetype("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf", size)
        except OSError:  # fonts-dejavu-core missing: PIL's built-in bitmap font
            font = ImageFont.load_default()
        draw.text((x, y), text, fill=(20, 20, 30), font=font)
    pixels = np.asarray(page, dtype=np.float32)  # h x w x 3 in [0, 255]
    pixels = np.clip(pixels + rng.normal(0.0, 4.0, size=pixels.shape), 0, 255)
    chw = ((pixels / 255.0 - 0.5) / 0.5).transpose(2, 0, 1)[None]
    return np.ascontiguousarray(chw, dtype=np.float32)

def audio(samples, rate):
    t = np.arange(samples) / rate
    tones = 0.3 * np.sin(2 * np.pi * 220 * t) + 0.2 * np.sin(2 * np.pi * 660 * t + 1.0)
    signal = tones + 0.05 * rng.standard_normal(samples)
    return np.clip(signal, -1, 1).astype(np.float32)[None, :]

inputs = {}
if case == "ppocr_det":
    inputs["x"] = text_image((1, 3, 640, 640), [
        ("In the beginning God created", 40, 60, 36),
        ("the heaven and the earth.", 40, 120, 36),
        ("And the earth was without form, and void;", 30, 260, 24),
        ("and darkness was upon the face of the deep.", 30, 300, 24),
        ("Genesis 1:1-2  KJV", 200, 480, 48),
    ])
elif case == "ppocr_rec":
    inputs["x"] = text_image((1, 3, 48, 320), [("the heaven and the earth", 6, 10, 22)])
elif case == "ppocr_cls":
    inputs["x"] = text_image((1, 3, 48, 192), [("upside up 1:2", 6, 8, 26)])
elif case == "ppocr_rec_lines":
    # PaddleOCR's resize_norm_img: OpenCV reads BGR (a gray PNG gives three equal channels);
    # the set is drawn at height 48 and at most 320 wide, so no resize happens; normalise to
    # [-1, 1]; pad with 0 on the right to width 320.
    from PIL import Image
    lines_dir = os.path.join(sys.argv[3], "tests", "data", "text_lines")
    with open(os.path.join(lines_dir, "labels.tsv"), encoding="utf-8") as labels:
        files = [line.split("\t", 1)[0] for line in labels if line.strip()][:20]
    batch = np.zeros((len(files), 3, 48, 320), dtype=np.float32)
    for i, name in enumerate(files):
        gray = np.asarray(Image.open(os.path.join(lines_dir, name)).convert("L"), dtype=np.float32)
        assert gray.shape[0] == 48 and gray.shape[1] <= 320, (name, gray.shape)
        batch[i, :, :, :gray.shape[1]] = (gray / 255.0 - 0.5) / 0.5
    inputs["x"] = batch
elif case == "small_cnn":
    inputs["input"] = image((1, 1, 28, 28))
elif case in ("silero_vad_16k", "silero_vad_8k"):
    rate = 16000 if case.endswith("16k") else 8000
    inputs["input"] = audio(512 if rate == 16000 else 256, rate)
    inputs["sr"] = np.array(rate, dtype=np.int64)
    # LSTM states as a running stream carries them: small, bounded values.
    inputs["h"] = (0.1 * rng.standard_normal((2, 1, 64))).astype(np.float32)
    inputs["c"] = (0.1 * rng.standard_normal((2, 1, 64))).astype(np.float32)
else:
    sys.exit(f"make_golden: no inputs defined for case {case}")

for name, value in inputs.items():
    path = os.path.join(out, name + ".npy")  # names here need no escaping
    np.save(path, value)
    print(f"{name}={path}")
PY
}

for case in "${cases[@]}"; do
  model="$(model_of "$case")" || fail "unknown case '$case' (known: ${ALL_CASES[*]})"
  [[ -s "$model" ]] || fail "$case: model $model is missing"
  dir="$GOLDEN_DIR/$case"
  stamp="$dir/.stamp"
  want_stamp="version=$GOLDEN_VERSION model=$model size=$(stat -c %s "$model")"
  if [[ $force -eq 0 && -f "$stamp" && "$(cat "$stamp")" == "$want_stamp" ]]; then
    log "$case: up to date in $dir, skipped"
    continue
  fi
  log "$case: making inputs and ONNX Runtime outputs in $dir"
  rm -rf "$dir"
  mkdir -p "$dir/inputs" "$dir/expected"
  mapfile -t feeds < <(make_inputs "$case" "$dir/inputs")
  [[ ${#feeds[@]} -gt 0 ]] || fail "$case: no inputs were made"
  node "$REPO/scripts/ort_run.js" "$model" "$dir/expected" "${feeds[@]}" \
    || fail "$case: ONNX Runtime failed on $model"
  echo "$model" >"$dir/model"
  echo "$want_stamp" >"$stamp"
done
log "done: golden files in $GOLDEN_DIR"
