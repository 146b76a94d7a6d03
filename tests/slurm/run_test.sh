#!/usr/bin/env bash
# Runs a small sweep through a real single-node Slurm on localhost and checks that the merged
# result of scripts/slurm_sweep.sh equals the same sweep run in one piece:
#   tests/slurm/run_test.sh OCS_BINARY
# Starts munged, slurmctld and slurmd (Debian's packages, as root) from tests/slurm/slurm.conf.in
# in a scratch folder, and stops them on the way out whatever happened. Missing daemons fail.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
ocs=$(readlink -f "${1:?usage: run_test.sh OCS_BINARY}")
for tool in munged munge slurmctld slurmd sbatch sinfo; do
  command -v "$tool" >/dev/null || { echo "FAIL: $tool not installed (scripts/install_deps.sh installs it)"; exit 1; }
done
[ "$(id -u)" -eq 0 ] || { echo "FAIL: the Slurm test starts the daemons as root; run it as root (as CI does)"; exit 1; }

dir=$(mktemp -d /tmp/ocs_slurm.XXXXXX)
chmod 700 "$dir"
mkdir -p "$dir/munge" "$dir/state" "$dir/spool" "$dir/log"
pids=()
cleanup() {
  status=$?
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  if [ $status -ne 0 ]; then
    echo "== Slurm test failed (status $status); daemon and job logs:"
    tail -n 40 "$dir"/log/*.log "$dir"/slurm/logs/*.out 2>/dev/null || true
  fi
  rm -rf "$dir"
  exit $status
}
trap cleanup EXIT INT TERM

# munge: a fresh key and its own socket, so nothing of the machine's munge is touched.
head -c 1024 /dev/urandom > "$dir/munge/munge.key"
chmod 400 "$dir/munge/munge.key"
socket=$dir/munge/munge.socket
munged --foreground --force --key-file="$dir/munge/munge.key" --socket="$socket" \
  --pid-file="$dir/munge/munged.pid" --log-file="$dir/log/munged.log" --seed-file="$dir/munge/seed" 2>>"$dir/log/munged.stderr.log" &
pids+=($!)
for _ in $(seq 100); do [ -S "$socket" ] && break; sleep 0.1; done
munge -n -S "$socket" | unmunge -S "$socket" >/dev/null

free_port() { /usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
host=$(hostname -s)
export SLURM_CONF=$dir/slurm.conf
sed -e "s|@DIR@|$dir|g" -e "s|@HOST@|$host|g" -e "s|@CTLD_PORT@|$(free_port)|" \
    -e "s|@SLURMD_PORT@|$(free_port)|" -e "s|@CPUS@|2|" "$here/slurm.conf.in" > "$SLURM_CONF"
slurmctld -D -i -f "$SLURM_CONF" 2>>"$dir/log/slurmctld.stderr.log" &
pids+=($!)
slurmd -D -f "$SLURM_CONF" -N "$host" 2>>"$dir/log/slurmd.stderr.log" &
pids+=($!)
state=""
for _ in $(seq 300); do
  state=$(sinfo -h -n "$host" -o %T 2>/dev/null || true)
  [ "$state" = idle ] && break
  sleep 0.2
done
[ "$state" = idle ] || { echo "FAIL: the Slurm node never became idle (state '$state')"; exit 1; }
echo "Slurm is up: node $host idle"

# A small sweep: 8 configurations over 3 shards, on the Fashion-MNIST ResNet of models/.
cd "$root"
sweep_args=(models/fashion_resnet.onnx --calib fashion-mnist:train --calib-samples 64
  --data fashion-mnist:test --limit 200 --wbits 8,5 --ocs-ratio 0,0.05 --wclip max,mse --threads 1)
"$ocs" sweep "${sweep_args[@]}" --output-dir "$dir/whole" > "$dir/log/whole.out" 2>&1
scripts/slurm_sweep.sh --shards 3 --wait --ocs "$ocs" --output-dir "$dir/slurm" \
  --sbatch-arg --cpus-per-task=1 -- "${sweep_args[@]}"

for i in 1 2 3; do
  [ -s "$dir/slurm/shards/$i/results.csv" ] || { echo "FAIL: shard $i wrote no results.csv"; exit 1; }
done
# The same table, plots and page; the CSV differs only in its timing columns.
for file in results.md report.html accuracy_vs_bits.svg accuracy_vs_ratio.svg weight_histogram.svg; do
  cmp "$dir/whole/$file" "$dir/slurm/$file" || { echo "FAIL: merged $file differs from the unsharded run"; exit 1; }
done
drop_timing() { cut -d, -f1-14,17- "$1"; }
head -1 "$dir/whole/results.csv" | cut -d, -f15,16 | grep -qx 'quantize_s,eval_s' ||
  { echo "FAIL: results.csv columns 15-16 are no longer the timings; update this test"; exit 1; }
diff <(drop_timing "$dir/whole/results.csv") <(drop_timing "$dir/slurm/results.csv") ||
  { echo "FAIL: merged results.csv differs from the unsharded run"; exit 1; }
echo "PASS: $(($(wc -l < "$dir/slurm/results.csv") - 2)) configurations over 3 Slurm array tasks merge to the unsharded sweep"

# A failing shard (here: every shard, the model is missing) cancels the merge: the script says so
# through its exit status and no merged results appear.
if scripts/slurm_sweep.sh --shards 2 --wait --ocs "$ocs" --output-dir "$dir/failing" -- \
    "$dir/missing.onnx" --data fashion-mnist:test --abits 0 > "$dir/log/failing.out" 2>&1; then
  cat "$dir/log/failing.out"; echo "FAIL: slurm_sweep.sh --wait succeeded although its shards failed"; exit 1
fi
[ ! -e "$dir/failing/results.csv" ] || { echo "FAIL: merged results were written although the shards failed"; exit 1; }
grep -q "missing.onnx" "$dir/failing/logs/shard-1.out" ||
  { echo "FAIL: the failing shard's log does not name the missing model"; exit 1; }
echo "PASS: failing shards cancel the merge job; slurm_sweep.sh --wait exits with an error"
