#!/usr/bin/env bash
# strata quickstart: installs what is missing, builds strata, starts a local S3 server (s3rver) on
# 127.0.0.1 with a sample dataset, mounts it read-only and reads it.
#
#   scripts/quickstart.sh          start (or restart) everything and leave the mount up
#   scripts/quickstart.sh stop     unmount and stop the s3rver it started (by its PID file)
#   scripts/quickstart.sh status   show what is running
#
# Environment: STRATA_QUICKSTART_DIR (state: s3rver data, sample files, logs;
# default /tmp/strata-quickstart), STRATA_QUICKSTART_MOUNT (default /mnt/strata-sample),
# STRATA_QUICKSTART_PORT (default: a free port), STRATA_BUILD_DIR, STRATA_SKIP_INSTALL=1.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib/common.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"

STATE="${STRATA_QUICKSTART_DIR:-/tmp/strata-quickstart}"
MNT="${STRATA_QUICKSTART_MOUNT:-/mnt/strata-sample}"
BUCKET=sample
S3STATE="$STATE/s3"
STRATA="$(strata_binary)"
s3server() { "$STRATA_PYTHON" "$STRATA_ROOT/scripts/lib/s3server.py" "$@"; }

is_mounted() { findmnt -rn --target "$1" -o TARGET 2>/dev/null | grep -qxF "$1"; }

do_stop() {
  if is_mounted "$MNT"; then
    if [[ -x $STRATA ]] && "$STRATA" unmount "$MNT"; then
      echo "unmounted $MNT"
    else
      fusermount3 -u "$MNT" && echo "unmounted $MNT (fusermount3)"
    fi
  else
    echo "$MNT is not mounted"
  fi
  s3server stop --state-dir "$S3STATE"
}

do_status() {
  if is_mounted "$MNT"; then echo "$MNT: mounted"; else echo "$MNT: not mounted"; fi
  s3server status --state-dir "$S3STATE" || true
}

do_start() {
  local start=$SECONDS
  if is_mounted "$MNT" || [[ -f $S3STATE/s3rver.pid ]]; then
    strata_log "stopping the previous quickstart"
    do_stop
  fi
  if [[ ${STRATA_SKIP_INSTALL:-0} != 1 ]]; then
    strata_install_deps
    strata_setup_s3rver
  fi
  strata_log "building strata in $STRATA_BUILD_DIR"
  cmake -S "$STRATA_ROOT" -B "$STRATA_BUILD_DIR" -DSTRATA_WERROR=ON >/dev/null
  cmake --build "$STRATA_BUILD_DIR" --target strata -j"$STRATA_JOBS"

  strata_log "generating the sample dataset in $STATE/source (reused if present)"
  mkdir -p "$STATE"
  local big_path big_rel
  big_path="$("$STRATA_PYTHON" "$STRATA_ROOT/scripts/lib/datagen.py" sample "$STATE/source")"
  big_rel="${big_path#"$STATE/source/"}"

  strata_log "starting s3rver on 127.0.0.1 (data in $S3STATE/data)"
  local -a port_arg=()
  [[ -n ${STRATA_QUICKSTART_PORT:-} ]] && port_arg=(--port "$STRATA_QUICKSTART_PORT")
  rm -rf "$S3STATE/data"
  local endpoint
  endpoint="$(s3server start --state-dir "$S3STATE" --bucket "$BUCKET" "${port_arg[@]}")"
  echo "s3rver: $endpoint (pid $(cat "$S3STATE/s3rver.pid"))"
  s3server put-tree --endpoint "$endpoint" --bucket "$BUCKET" --dir "$STATE/source"

  strata_log "mounting s3://$BUCKET at $MNT"
  mkdir -p "$MNT"
  export AWS_ACCESS_KEY_ID=S3RVER AWS_SECRET_ACCESS_KEY=S3RVER AWS_REGION=us-east-1
  "$STRATA" mount "s3://$BUCKET" "$MNT" --endpoint "$endpoint" --log-file "$STATE/strata.log"
  printf '%s\n' "$endpoint" >"$STATE/endpoint"

  strata_log "ls -R $MNT | head -n 25"
  { ls -R "$MNT" || true; } | head -n 25
  strata_log "cat $MNT/docs/README.txt; head -n 4 $MNT/tables/iris-like.csv"
  cat "$MNT/docs/README.txt"
  head -n 4 "$MNT/tables/iris-like.csv"

  strata_log "cold sequential read of $big_rel through the mount, and with curl from s3rver"
  dd if="$MNT/$big_rel" of=/dev/null bs=1M 2>&1 | tail -n 1 | sed 's/^/strata mount: /'
  # s3rver wants x-amz-content-sha256; curl signs it (the hash of the empty body of a GET).
  curl --noproxy '*' -sS -f -o /dev/null --aws-sigv4 "aws:amz:us-east-1:s3" --user S3RVER:S3RVER \
    -H "x-amz-content-sha256: e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855" \
    -w 'curl (one GET): %{size_download} bytes in %{time_total} s, %{speed_download} bytes/s\n' \
    "$endpoint/$BUCKET/$big_rel"
  strata_log "sha256 of $big_rel: mount vs local copy"
  local a b
  a="$(sha256sum <"$MNT/$big_rel" | cut -d' ' -f1)"
  b="$(sha256sum <"$STATE/source/$big_rel" | cut -d' ' -f1)"
  echo "mount: $a"
  echo "local: $b"
  [[ $a == "$b" ]] || strata_die "sha256 mismatch for $big_rel"
  echo "sha256 matches"

  cat <<EOM

strata quickstart is up ($((SECONDS - start))s).
  mount:      $MNT  (s3://$BUCKET on $endpoint, read-only)
  try:        ls $MNT/images/class_03 | head;  cat $MNT/docs/nested/deeper/notes.txt
  python:     /usr/bin/python3 -c "import torchvision; print(len(torchvision.datasets.ImageFolder('$MNT/images')))"
  logs:       $STATE/strata.log (strata), $S3STATE/s3rver.log (s3rver)
  mount more: AWS_ACCESS_KEY_ID=S3RVER AWS_SECRET_ACCESS_KEY=S3RVER \\
                $STRATA mount s3://$BUCKET/images /some/empty/dir --endpoint $endpoint
  stop:       $STRATA_ROOT/scripts/quickstart.sh stop
EOM
}

case "${1:-start}" in
  start) do_start ;;
  stop) do_stop ;;
  status) do_status ;;
  -h | --help | help) sed -n '2,12p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//' ;;
  *) strata_die "unknown command '$1' (start, stop, status)" ;;
esac
