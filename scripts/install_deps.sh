#!/usr/bin/env bash
# Installs the Debian packages ocs needs, only those that are missing. Needs root (or sudo).
set -euo pipefail
packages=(
  build-essential cmake pkg-config
  libonnx-dev libprotobuf-dev protobuf-compiler libdnnl-dev zlib1g-dev
  libgtest-dev libcli11-dev nlohmann-json3-dev libfmt-dev
  libonnx-testdata python3-onnx python3-numpy
  nodejs npm
)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "install_deps: all Debian packages present"
  exit 0
fi
echo "install_deps: installing ${missing[*]}"
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y --no-install-recommends "${missing[@]}"
