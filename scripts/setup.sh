#!/usr/bin/env bash
# One command for a new user: install what is missing, build, and run the main job on the
# bundled default: the Fashion-MNIST ResNet we trained (models/fashion_resnet.onnx, made by
# scripts/train_fashion_mnist.py). It inspects the weights, measures float accuracy on the
# 10,000 test images, quantizes with OCS (6-bit weights, 8-bit activations, r = 0.02, 512
# calibration images from the training split) and measures the quantized model the same way.
# It also installs the Python module `ocs` for Debian's /usr/bin/python3 (README, "Python").
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install_deps.sh
scripts/build.sh build
echo "== the Python module ocs, for /usr/bin/python3"
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
$SUDO cmake --install build --component python
(cd / && /usr/bin/python3 -c 'import ocs; print("import ocs:", ocs.__file__, ocs.__version__)')
model=models/fashion_resnet.onnx
out=build/fashion_resnet_w6a8_ocs.onnx
echo "== ocs inspect $model"
build/ocs inspect "$model"
echo "== float accuracy"
build/ocs eval "$model" --data fashion-mnist:test
echo "== ocs quantize (OCS r=0.02, 6-bit weights, 8-bit activations)"
build/ocs quantize "$model" "$out" --calib fashion-mnist:train --wbits 6 --abits 8 --ocs-ratio 0.02 --force
echo "== quantized accuracy, and fidelity to the float model"
build/ocs eval "$out" --data fashion-mnist:test --reference "$model"
echo "quantized model: $out (report: ${out%.onnx}.report.json)"
