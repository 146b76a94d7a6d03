#!/usr/bin/env bash
# Float top-1 of a Fashion-MNIST model in ONNX Runtime and in ocs on the 10,000 test images (10
# batches of 1000), and how many predictions differ: the engine-agreement check for a model that the
# AccuracyVsOrt test does not list. Needs a build and scripts/fetch_models.sh.
#   scripts/fashion_vs_ort.sh MODEL.onnx
set -euo pipefail
model=$(realpath "$1")
cd "$(dirname "$0")/.."
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
/usr/bin/python3 - "$work" <<'PY'
import gzip, sys, numpy as np
d, out = "/usr/share/datasets/fashion-mnist", sys.argv[1]
x = np.frombuffer(gzip.open(f"{d}/t10k-images-idx3-ubyte.gz").read(), np.uint8, offset=16)
x = (x.reshape(-1, 1, 28, 28).astype(np.float32) / 255.0 - 0.5) / 0.5
for k in range(10):
    np.save(f"{out}/x{k}.npy", x[k * 1000:(k + 1) * 1000])
np.save(f"{out}/y.npy", np.frombuffer(gzip.open(f"{d}/t10k-labels-idx1-ubyte.gz").read(), np.uint8, offset=8))
PY
for k in 0 1 2 3 4 5 6 7 8 9; do
  node scripts/ort_run.js "$model" "$work/ort$k" input="$work/x$k.npy" >/dev/null 2>&1
  build/ocs run "$model" -i input="$work/x$k.npy" -o "$work/ocs$k" >/dev/null
done
/usr/bin/python3 - "$work" <<'PY'
import glob, sys, numpy as np
w = sys.argv[1]
y = np.load(f"{w}/y.npy")
a = np.concatenate([np.load(glob.glob(f"{w}/ort{k}/*.npy")[0]) for k in range(10)]).argmax(1)
b = np.concatenate([np.load(glob.glob(f"{w}/ocs{k}/*.npy")[0]) for k in range(10)]).argmax(1)
print(f"ONNX Runtime top-1 {(a == y).mean():.4f}, ocs top-1 {(b == y).mean():.4f}, {(a != b).sum()} images differ")
PY
