#!/usr/bin/env bash
# The long fuzzing campaign of docs/FUZZING.md: the given targets one after another, each for
# RUNS executions from a copy of its seed corpus, at the lowest priority. Logs (with libFuzzer's
# final statistics), the grown corpora and any crash files go to OUT.
#   usage: nice -n 19 tests/fuzz/campaign.sh BUILD_DIR OUT RUNS TARGET...
# FUZZ_ARGS adds libFuzzer flags, e.g. "-fork=1 -ignore_crashes=1" to go on past a crash.
set -uo pipefail
build=${1:?usage: campaign.sh BUILD_DIR OUT RUNS TARGET...}
out=${2:?}
runs=${3:?}
shift 3
# read_npz takes a path only: fuzz_npz writes each input to a file, in RAM when possible.
[ -d /dev/shm ] && export TMPDIR=${TMPDIR:-/dev/shm}
corpus=$(cd "$(dirname "$0")" && pwd)/corpus
mkdir -p "$out"
for name in "$@"; do
  mkdir -p "$out/corpus/$name"
  cp -n "$corpus/$name"/* "$out/corpus/$name/"
  start=$(date +%s)
  # fuzz_graph is slow (a session per kernel set, a quantization, an export): the plain scheduler
  # and a lighter ASan bookkeeping make it about twice as fast, without losing any check.
  extra=() asan=${ASAN_OPTIONS:-}
  [ "$name" = graph ] && extra=(-entropic=0) asan=quarantine_size_mb=16:malloc_context_size=8
  ASAN_OPTIONS=$asan "$build/tests/fuzz/fuzz_$name" -runs="$runs" -seed=1 -timeout=60 -print_final_stats=1 \
    "${extra[@]}" ${FUZZ_ARGS:-} -artifact_prefix="$out/$name-" "$out/corpus/$name" >"$out/$name.log" 2>&1
  echo "fuzz_$name: exit $? after $(($(date +%s) - start)) s" >>"$out/summary.txt"
done
