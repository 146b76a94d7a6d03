#!/usr/bin/env bash
# Runs `ocs sweep` on a Slurm cluster: a job array of N shards, each running
# `ocs sweep ... --shard $SLURM_ARRAY_TASK_ID/$SLURM_ARRAY_TASK_COUNT`, and a merge job that starts
# once every shard succeeded (`--dependency=afterok`) and runs `ocs sweep --merge`.
#
#   scripts/slurm_sweep.sh --shards 8 --output-dir runs/w_sweep [--ocs PATH] [--wait] \
#       [--sbatch-arg ARG]... -- MODEL --calib ... --data ... [other `ocs sweep` options]
#
# Everything after `--` goes to `ocs sweep` unchanged (not --output-dir, --shard or --merge: this
# script sets those). The output directory must be on a file system every node sees.
# Layout of --output-dir (see README, "Sweeps on a Slurm cluster"):
#   shards/<i>/      the results of shard i of N (results.csv, results.md, report.html, plots, sweep.json)
#   logs/shard-<i>.out, logs/merge.out   the jobs' stdout and stderr (logs/submitted: a time mark)
#   results.csv, results.md, report.html, *.svg, histogram.json   the merged sweep (merge job)
# Prints the array job's and the merge job's ids; with --wait it returns once the merge job has
# ended: 0 when it wrote the merged results, 1 when a shard failed (the merge never ran) or the
# merge itself failed.
set -euo pipefail
usage() { sed -n '2,17p' "$0" | sed 's/^# \{0,1\}//'; exit 2; }

shards=""
out=""
ocs="${OCS:-$(cd "$(dirname "$0")/.." && pwd)/build/ocs}"
wait_for_merge=0
sbatch_args=()
while [ $# -gt 0 ]; do
  case $1 in
    --shards) shards=$2; shift 2 ;;
    --output-dir) out=$2; shift 2 ;;
    --ocs) ocs=$2; shift 2 ;;
    --wait) wait_for_merge=1; shift ;;
    --sbatch-arg) sbatch_args+=("$2"); shift 2 ;;
    --) shift; break ;;
    -h|--help) usage ;;
    *) echo "slurm_sweep.sh: unknown option '$1' (the ocs sweep options go after --)" >&2; usage ;;
  esac
done
[ -n "$shards" ] && [ -n "$out" ] && [ $# -gt 0 ] || usage
if ! [[ $shards =~ ^[1-9][0-9]*$ ]]; then
  echo "slurm_sweep.sh: --shards must be a positive integer, not '$shards'" >&2; exit 2
fi
for arg in "$@"; do
  case $arg in
    --output-dir|--output-dir=*|--shard|--shard=*|--merge|--merge=*)
      echo "slurm_sweep.sh: do not pass $arg after --; the script sets it" >&2; exit 2 ;;
  esac
done
if [ ! -x "$ocs" ]; then
  echo "slurm_sweep.sh: no ocs binary at '$ocs'; build it (scripts/build.sh) or pass --ocs PATH" >&2; exit 2
fi
command -v sbatch >/dev/null || { echo "slurm_sweep.sh: sbatch not found; is this a Slurm login node?" >&2; exit 2; }

mkdir -p "$out/logs" "$out/shards"
out=$(cd "$out" && pwd)
ocs=$(cd "$(dirname "$ocs")" && pwd)/$(basename "$ocs")

# The shard job: the sweep arguments quoted once for the shell that runs the job; the shard's
# number is expanded there, from the array task's environment.
sweep_cmd=$(printf '%q ' "$ocs" sweep "$@")
shard_cmd="$sweep_cmd --shard \$SLURM_ARRAY_TASK_ID/\$SLURM_ARRAY_TASK_COUNT --output-dir $(printf '%q' "$out")/shards/\$SLURM_ARRAY_TASK_ID --force"
array_id=$(sbatch --parsable --job-name=ocs-sweep --array="1-$shards" \
  --output="$out/logs/shard-%a.out" "${sbatch_args[@]}" --wrap="$shard_cmd")
array_id=${array_id%%;*}

# The merge job: every shard's CSV named explicitly, so a missing shard is an error, not a
# smaller table.
merge_inputs=()
for i in $(seq 1 "$shards"); do merge_inputs+=("$out/shards/$i/results.csv"); done
merge_cmd=$(printf '%q ' "$ocs" sweep --merge "${merge_inputs[@]}" --output-dir "$out" --force)
wait_flag=()
[ $wait_for_merge -eq 1 ] && wait_flag=(--wait)
echo "array job $array_id: $shards shards of: $sweep_cmd"
echo "merge job after it; results in $out"
# Marks the submission, so that --wait can tell a fresh merge from results of an earlier run.
touch "$out/logs/submitted"
set +e
merge_id=$(sbatch --parsable --job-name=ocs-sweep-merge --dependency="afterok:$array_id" --kill-on-invalid-dep=yes \
  --output="$out/logs/merge.out" "${sbatch_args[@]}" "${wait_flag[@]}" --wrap="$merge_cmd")
status=$?
set -e
echo "merge job ${merge_id%%;*}"
[ $wait_for_merge -eq 1 ] || exit $status
# sbatch --wait returns 0 for a merge job cancelled before it started (a shard failed, so its
# dependency can never be satisfied): success is the merged results written after submission.
if [ $status -ne 0 ] || ! [ "$out/results.csv" -nt "$out/logs/submitted" ]; then
  echo "slurm_sweep.sh: the merge did not run or failed; see $out/logs/shard-*.out and merge.out" >&2
  exit 1
fi
echo "merged results: $out/results.csv, results.md, report.html"
