#!/usr/bin/env bash
# The sweep's report.html in a real browser: runs a small sweep (with the weight histogram, so
# all three plots are there) and opens its page in Debian's headless Chromium through
# tests/browser/check_report.js: no console errors, every plot drawn.
#   tests/browser/run_test.sh OCS_BINARY
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
ocs=$(readlink -f "${1:?usage: run_test.sh OCS_BINARY}")
chromium=$(command -v chromium || true)
[ -n "$chromium" ] || { echo "FAIL: chromium not installed (scripts/install_deps.sh installs it)"; exit 1; }
command -v node >/dev/null || { echo "FAIL: node not installed (scripts/install_deps.sh installs it)"; exit 1; }
dir=$(mktemp -d /tmp/ocs_browser.XXXXXX)
trap 'rm -rf "$dir"' EXIT
cd "$root"
"$ocs" sweep models/fashion_resnet.onnx --calib fashion-mnist:train --calib-samples 64 \
  --data fashion-mnist:test --limit 100 --wbits 8,5 --ocs-ratio 0,0.05 --wclip max,mse --threads 1 \
  --output-dir "$dir/sweep" > "$dir/sweep.log" 2>&1 || { cat "$dir/sweep.log"; exit 1; }
node tests/browser/check_report.js "$chromium" "$dir/sweep/report.html"
