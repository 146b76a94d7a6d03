#!/usr/bin/env bash
# Runs every libFuzzer target of a build (OCS_FUZZ=ON) for a fixed number of executions, starting
# from its seed corpus in tests/fuzz/corpus/<target>/ (docs/FUZZING.md). New inputs go to a
# scratch folder, never into the repository. Any finding (crash, sanitizer report, uncaught
# exception, disagreement in fuzz_graph, timeout, out-of-memory) fails the script and prints the
# log and the file that reproduces it.
#   usage: tests/fuzz/run_fuzz.sh BUILD_DIR [RUNS [GRAPH_RUNS]]
set -euo pipefail
build=${1:?usage: run_fuzz.sh BUILD_DIR [RUNS [GRAPH_RUNS]]}
runs=${2:-2000}
graph_runs=${3:-300}
corpus=$(cd "$(dirname "$0")" && pwd)/corpus
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
shopt -s nullglob
targets=("$build"/tests/fuzz/fuzz_*)
[ ${#targets[@]} -gt 0 ] || { echo "run_fuzz: no fuzz targets in $build/tests/fuzz (configure with -DOCS_FUZZ=ON)"; exit 1; }
for exe in "${targets[@]}"; do
  name=${exe##*/fuzz_}
  n=$runs
  [ "$name" = graph ] && n=$graph_runs
  mkdir -p "$work/$name"
  start=$SECONDS
  if ! "$exe" -runs="$n" -seed=1 -timeout=60 -artifact_prefix="$work/$name-" \
      "$work/$name" "$corpus/$name" >"$work/$name.log" 2>&1; then
    tail -n 60 "$work/$name.log"
    echo "run_fuzz: fuzz_$name found a problem; reproduce with: $exe <file>; inputs:"
    for f in "$work/$name"-*; do echo "  $f: $(od -An -tx1 "$f" | head -c 600)"; done
    exit 1
  fi
  echo "fuzz_$name: $n executions in $((SECONDS - start)) s, $(grep -o 'cov: [0-9]* ft: [0-9]*' "$work/$name.log" | tail -n 1)"
done
