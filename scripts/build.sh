#!/usr/bin/env bash
# Configures and builds ocs into build/ (or $1). Extra arguments go to cmake.
set -euo pipefail
cd "$(dirname "$0")/.."
dir=${1:-build}
shift || true
# A build folder configured with another compiler (build-asan moved from g++ to clang) is
# configured afresh: CMake cannot switch compilers in place.
for arg in "$@"; do
  case $arg in
    -DCMAKE_CXX_COMPILER=*)
      want=$(command -v "${arg#*=}" || echo "${arg#*=}")
      have=$(sed -n 's/^CMAKE_CXX_COMPILER:[A-Z]*=//p' "$dir/CMakeCache.txt" 2>/dev/null || true)
      if [ -n "$have" ] && [ "$(readlink -f "$have")" != "$(readlink -f "$want")" ]; then
        rm -rf "$dir/CMakeCache.txt" "$dir/CMakeFiles"
      fi ;;
  esac
done
cmake -S . -B "$dir" -DCMAKE_BUILD_TYPE=Release "$@" >/dev/null
cmake --build "$dir" -j "$(nproc)"
