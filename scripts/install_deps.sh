#!/usr/bin/env bash
# Installs the Debian packages ocs needs, only those that are missing. Needs root (or sudo).
set -euo pipefail
packages=(
  build-essential cmake pkg-config clang libclang-rt-14-dev libomp-dev
  libonnx-dev libprotobuf-dev protobuf-compiler libdnnl-dev zlib1g-dev libpng-dev libjpeg-dev
  libgtest-dev libcli11-dev nlohmann-json3-dev libfmt-dev
  libonnx-testdata python3-onnx python3-numpy python3-pil fonts-dejavu-core
  dataset-fashion-mnist bible-kjv
  python3-dev python3-pybind11 pybind11-dev python3-pytest
  slurmctld slurmd munge chromium
)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
# Node.js runs ONNX Runtime (the reference engine, from npm). Machines may carry a Node.js that
# does not come from Debian; only ask apt for it when there is none.
command -v npm >/dev/null 2>&1 || missing+=(nodejs npm)
if [ ${#missing[@]} -eq 0 ]; then
  echo "install_deps: all Debian packages present"
  exit 0
fi
echo "install_deps: installing ${missing[*]}"
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
$SUDO apt-get update -qq
# Other apt runs (another checkout installing at the same time) hold the lock for a while.
DEBIAN_FRONTEND=noninteractive $SUDO apt-get -o DPkg::Lock::Timeout=600 install -y --no-install-recommends "${missing[@]}"
