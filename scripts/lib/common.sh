# shellcheck shell=bash
# Shared shell helpers for scripts/quickstart.sh, scripts/test.sh and scripts/bench.
# Source it: . "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh". Needs bash and `set -euo pipefail`.

STRATA_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
STRATA_PYTHON="${STRATA_PYTHON:-/usr/bin/python3}"  # the interpreter with boto3/PIL/torch
STRATA_BUILD_DIR="${STRATA_BUILD_DIR:-$STRATA_ROOT/build}"
STRATA_JOBS="${STRATA_JOBS:-2}"
export STRATA_ROOT STRATA_PYTHON STRATA_BUILD_DIR

# Debian 12 packages needed to build strata and run every test.
STRATA_APT_PACKAGES=(
  build-essential cmake pkg-config patch ca-certificates curl
  libfuse3-dev fuse3 libcurl4-openssl-dev libssl-dev libxxhash-dev libcli11-dev
  libyaml-cpp-dev catch2 libpugixml-dev libspdlog-dev nlohmann-json3-dev
  awscli python3 python3-boto3 python3-pil python3-numpy python3-torch python3-torchvision
)

strata_log() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }
strata_die() { printf 'error: %s\n' "$*" >&2; exit 1; }

strata_as_root() {
  if [[ $(id -u) -eq 0 ]]; then "$@"; else sudo "$@"; fi
}

# Installs the apt packages that are missing; does nothing (no apt-get update) when all are there.
strata_install_deps() {
  local -a pkgs=("${STRATA_APT_PACKAGES[@]}") missing=()
  # Node from apt only when there is no node at all (a NodeSource node ships its own npm).
  if ! command -v node >/dev/null 2>&1; then
    pkgs+=(nodejs npm)
  elif ! command -v npm >/dev/null 2>&1; then
    strata_die "node is installed but npm is not; install npm for your node"
  fi
  local p
  for p in "${pkgs[@]}"; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
      missing+=("$p")
    fi
  done
  if [[ ${#missing[@]} -eq 0 ]]; then
    strata_log "apt: all ${#pkgs[@]} packages already installed, skipping apt-get"
    return 0
  fi
  strata_log "apt: installing ${missing[*]}"
  strata_as_root env DEBIAN_FRONTEND=noninteractive apt-get update -q
  strata_as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
    "${missing[@]}"
}

# npm ci of the pinned s3rver plus the delimiter patch (idempotent).
strata_setup_s3rver() {
  bash "$STRATA_ROOT/scripts/lib/setup-s3rver.sh"
}

# Configures and builds strata into $STRATA_BUILD_DIR. Extra args go to cmake at configure time.
strata_build() {
  strata_log "cmake configure: $STRATA_BUILD_DIR $*"
  cmake -S "$STRATA_ROOT" -B "$STRATA_BUILD_DIR" -DSTRATA_WERROR=ON "$@"
  strata_log "cmake build (-j$STRATA_JOBS)"
  cmake --build "$STRATA_BUILD_DIR" -j"$STRATA_JOBS"
}

strata_binary() { printf '%s\n' "$STRATA_BUILD_DIR/src/cli/strata"; }
