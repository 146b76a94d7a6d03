#!/usr/bin/env bash
# The whole test suite: what .ci/run runs. Installs what is missing, builds, fetches the real
# models and ONNX Runtime from npm into a cache outside the repo, generates golden outputs, then
# runs every test (unit, conformance, real models, CLI acceptance) in a Release build and the
# unit tests again under AddressSanitizer + UndefinedBehaviorSanitizer (clang), then runs the
# libFuzzer targets briefly.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
export OCS_CACHE=${OCS_CACHE:-$HOME/.cache/ocs}
# The golden outputs are generated below, so a missing real model is a failure, not a skip.
export OCS_REQUIRE_REAL_MODELS=1

scripts/install_deps.sh
scripts/build.sh build
if [ -x scripts/fetch_models.sh ]; then
  scripts/fetch_models.sh
fi
if [ -x scripts/make_golden.sh ]; then
  scripts/make_golden.sh
fi

echo "== tests (Release)"
(cd build && ctest --output-on-failure -j 2)

# Acceptance checks written outside this repository, when a folder of them is given:
# OCS_EXTRA_CHECKS=DIR runs DIR/bad_inputs.py and DIR/onnx_node_tests.py against build/ocs.
if [ -n "${OCS_EXTRA_CHECKS:-}" ]; then
  echo "== acceptance checks from $OCS_EXTRA_CHECKS"
  /usr/bin/python3 "$OCS_EXTRA_CHECKS/bad_inputs.py" build/ocs
  /usr/bin/python3 "$OCS_EXTRA_CHECKS/onnx_node_tests.py" build/ocs 0.95
fi

echo "== unit tests under AddressSanitizer + UBSan (clang, with the fuzz targets)"
# One clang build serves both the sanitized unit tests and the libFuzzer targets
# (docs/FUZZING.md explains why there is no third build).
scripts/build.sh build-asan -DCMAKE_CXX_COMPILER=clang++ -DOCS_FUZZ=ON
(cd build-asan && ASAN_OPTIONS=detect_leaks=0 ctest --output-on-failure -j 2 -E "conformance|Int8Exactness")

echo "== fuzz targets, a fixed number of executions each on the seed corpora"
tests/fuzz/run_fuzz.sh build-asan 10000 500
echo "all test stages passed"
