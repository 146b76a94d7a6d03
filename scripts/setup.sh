#!/usr/bin/env bash
# One command for a new user: install what is missing, build, and run the main job on the
# bundled default model (inspect its weights, then run it on a bundled input).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install_deps.sh
scripts/build.sh build
model=tests/data/small_cnn.onnx
input=tests/data/small_cnn_input.npy   # the first Fashion-MNIST test image, scaled to [-1, 1]
echo "== ocs inspect $model"
build/ocs inspect "$model"
echo "== ocs run $model"
build/ocs run "$model" --input "input=$input" --output-dir build/setup_out
echo "outputs written to build/setup_out/"
