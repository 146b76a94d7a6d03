#!/usr/bin/env bash
# The C++ package as a consumer sees it: installs the build into a temporary prefix (component
# ocs: libocs.so, include/ocs/, lib/cmake/ocs), builds examples/consumer against it with
# find_package(ocs), runs it on tests/data/small_cnn.onnx, and checks the outputs it prints
# (float and OCS-quantized model, one all-0.5 input) against `ocs run` on the same input.
#   tests/package/run_test.sh BUILD_DIR
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
build=$(cd "${1:?usage: run_test.sh BUILD_DIR}" && pwd)
dir=$(mktemp -d /tmp/ocs_package.XXXXXX)
trap 'rm -rf "$dir"' EXIT
cmake --install "$build" --prefix "$dir/prefix" --component ocs > "$dir/install.log"
[ -f "$dir/prefix/include/ocs/ocs.h" ] && [ -f "$dir/prefix/lib/cmake/ocs/ocsConfig.cmake" ] ||
  { echo "FAIL: the install tree lacks include/ocs/ocs.h or lib/cmake/ocs/ocsConfig.cmake"; exit 1; }
# The consumer's tree is a copy outside the checkout: nothing of src/ can leak into its build.
cp -r "$root/examples/consumer" "$dir/consumer"
env -u CMAKE_CXX_COMPILER_LAUNCHER cmake -S "$dir/consumer" -B "$dir/consumer-build" \
  -DCMAKE_PREFIX_PATH="$dir/prefix" -DCMAKE_BUILD_TYPE=Release > "$dir/configure.log" ||
  { cat "$dir/configure.log"; exit 1; }
cmake --build "$dir/consumer-build" > "$dir/build.log" 2>&1 || { cat "$dir/build.log"; exit 1; }
mkdir -p "$dir/out"
"$dir/consumer-build/ocs_consumer" "$root/tests/data/small_cnn.onnx" "$dir/out" | tee "$dir/consumer.out"

# The same runs through the installed CLI.
/usr/bin/python3 -c "import numpy as np; np.save('$dir/half.npy', np.full((1, 1, 28, 28), 0.5, np.float32))"
"$dir/prefix/bin/ocs" run "$root/tests/data/small_cnn.onnx" --input input="$dir/half.npy" --threads 1 --output-dir "$dir/float" > /dev/null
"$dir/prefix/bin/ocs" run "$dir/out/quantized.onnx" --input input="$dir/half.npy" --threads 1 --output-dir "$dir/quantized" > /dev/null
/usr/bin/python3 - "$dir" <<'PY'
import sys, numpy as np
d = sys.argv[1]
printed = {line.split(':')[0]: np.array(line.split(':')[1].split(), np.float32)
           for line in open(f'{d}/consumer.out') if line.startswith(('float:', 'quantized:'))}
for name in ('float', 'quantized'):
    want = np.load(f'{d}/{name}/logits.npy').ravel()
    if not np.array_equal(printed[name], want):
        sys.exit(f'FAIL: the consumer\'s {name} output {printed[name]} differs from `ocs run`: {want}')
print('PASS: examples/consumer built with find_package(ocs) from the install tree; its outputs equal `ocs run`')
PY
