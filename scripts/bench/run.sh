#!/usr/bin/env bash
# strata's benchmark: one command. Starts s3rver and the shaping proxy, makes the datasets
# once (kept in --cache-dir), mounts strata, s3fs-fuse and rclone on the same bucket through
# the same proxy, runs every workload on each plus the limits, and writes
# results/<timestamp>/{results.json,results.md,chart.png}. See scripts/bench/README.md.
#
#   scripts/bench/run.sh                         # everything, 0 ms added latency
#   scripts/bench/run.sh --latency-ms 2          # emulate a nearby region
#   scripts/bench/run.sh --quick --only dd,loader --systems local,strata,rclone
#   scripts/bench/run.sh --endpoint https://s3.us-east-1.amazonaws.com --bucket B --prefix p/
#   scripts/bench/run.sh --help
#
# Whatever happens (Ctrl-C, a crash, kill -9 of the python), the exit trap unmounts every
# mount the run made and stops every process it started, by PID.
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/../lib/common.sh"

cache_dir="${STRATA_BENCH_CACHE:-/var/tmp/strata-bench}"
args=("$@")
for ((i = 0; i < ${#args[@]}; i++)); do
  case "${args[i]}" in
    --cache-dir) cache_dir="${args[i + 1]:-$cache_dir}" ;;
    --cache-dir=*) cache_dir="${args[i]#--cache-dir=}" ;;
    -h | --help) exec "$STRATA_PYTHON" "$STRATA_ROOT/scripts/bench/bench.py" --help ;;
  esac
done
export STRATA_BENCH_CACHE="$cache_dir"
mkdir -p "$cache_dir/work"
run_started="$(date +%s)"

cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  # bench.py cleans up itself; this is the backstop if it died without doing so.
  local state mp pid
  for state in "$cache_dir"/work/*/state; do
    [[ -d $state && $(stat -c %Y "$state") -ge $((run_started - 5)) ]] || continue
    if [[ -f $state/mounts ]]; then
      while read -r mp; do
        [[ -n $mp ]] || continue
        if grep -qs " $mp " /proc/self/mountinfo; then
          fusermount3 -u "$mp" 2>/dev/null || fusermount3 -uz "$mp" 2>/dev/null || true
        fi
      done <"$state/mounts"
    fi
    if [[ -f $state/pids ]]; then
      while read -r pid; do
        [[ -n $pid ]] && kill -TERM -- "-$pid" 2>/dev/null || true
      done <"$state/pids"
    fi
  done
  "$STRATA_PYTHON" "$STRATA_ROOT/scripts/lib/s3server.py" stop --state-dir "$cache_dir/s3rver" \
    >/dev/null 2>&1 || true
  exit "$rc"
}
trap cleanup EXIT

if [[ " ${args[*]} " != *" --endpoint"* ]]; then
  strata_setup_s3rver
fi
# In the background so that a TERM/INT to this script reaches bench.py (which then cleans up
# and writes partial results) instead of waiting behind it.
"$STRATA_PYTHON" "$STRATA_ROOT/scripts/bench/bench.py" "$@" &
child=$!
trap 'kill -TERM "$child" 2>/dev/null || true' INT TERM HUP
rc=0
while true; do
  wait "$child" && rc=0 || rc=$?
  kill -0 "$child" 2>/dev/null || break
done
exit "$rc"
