#!/usr/bin/env bash
# Installs what is missing, builds strata with warnings as errors, and runs every test (unit and
# integration) through CTest. Works from any directory; exits non-zero on any failure.
#
#   scripts/test.sh            # everything
#   scripts/test.sh -L unit    # extra arguments go to ctest (e.g. -R, -L, -j)
#
# Environment: STRATA_BUILD_DIR (default <repo>/build), STRATA_JOBS (default 2),
# STRATA_SKIP_INSTALL=1 to skip apt/npm (e.g. on a machine that is not Debian).
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib/common.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"

start=$SECONDS
if [[ ${STRATA_SKIP_INSTALL:-0} != 1 ]]; then
  strata_install_deps
  strata_log "s3rver (npm, pinned and patched)"
  strata_setup_s3rver
fi
# shellcheck disable=SC2119  # no extra cmake arguments here
strata_build
strata_log "ctest (unit + integration)"
# Unit tests first and fast; the integration label needs the strata binary and s3rver.
if [[ $(ctest --test-dir "$STRATA_BUILD_DIR" -N -L integration | sed -n 's/^Total Tests: //p') == 0 ]]; then
  strata_die "no integration tests registered (is src/cli building the 'strata' target?)"
fi
status=0
ctest --test-dir "$STRATA_BUILD_DIR" --output-on-failure --timeout 900 "$@" || status=$?
elapsed=$((SECONDS - start))
if [[ $status -eq 0 ]]; then
  strata_log "scripts/test.sh: all tests passed in $((elapsed / 60))m$((elapsed % 60))s"
else
  strata_log "scripts/test.sh: FAILED (ctest exit $status) after $((elapsed / 60))m$((elapsed % 60))s"
fi
exit "$status"
