#!/usr/bin/env bash
# Installs the pinned s3rver (scripts/s3rver/package.json, lock file) into scripts/s3rver/node_modules
# and applies scripts/s3rver/*.patch to it. Safe to rerun: it skips npm when the
# pinned version is already installed, and applies the patch only once.
set -euo pipefail
dir="$(cd "$(dirname "${BASH_SOURCE[0]}")/../s3rver" && pwd)"
pkg="$dir/node_modules/s3rver"
want="$(sed -n 's/.*"s3rver": *"\([^"]*\)".*/\1/p' "$dir/package.json")"

have=""
if [[ -f $pkg/package.json ]]; then
  have="$(node -p 'require(process.argv[1]).version' "$pkg/package.json")"
fi
if [[ $have != "$want" ]]; then
  echo "s3rver: npm ci (s3rver $want) in $dir" >&2
  (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error) >&2
else
  echo "s3rver: $want already installed in $dir/node_modules" >&2
fi

# Each patch fixes one s3rver bug that would otherwise make the tests test the server:
#   filesystem-delimiter.patch  delimiter listings drop prefixes that hold only deeper prefixes
#   continuation-token.patch    truncated listings fail on Node >= 17 (DES needs OpenSSL's legacy provider)
#   sigv4-verify.patch          V4 header signatures were not checked at all (any secret was accepted)
for patch_file in "$dir"/*.patch; do
  name="$(basename "$patch_file")"
  if patch -d "$pkg" -p1 -R --dry-run -s -f <"$patch_file" >/dev/null 2>&1; then
    echo "s3rver: patch $name already applied" >&2
  elif patch -d "$pkg" -p1 --dry-run -s -f <"$patch_file" >/dev/null 2>&1; then
    patch -d "$pkg" -p1 -s -f --no-backup-if-mismatch <"$patch_file"
    echo "s3rver: applied patch $name" >&2
  else
    echo "s3rver: error: $patch_file applies neither forward nor reverse to $pkg" >&2
    exit 1
  fi
done
