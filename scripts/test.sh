#!/usr/bin/env bash
# `npm test`: every check a change must pass, bounded in time.
#   dependencies (apt + npm) -> typecheck -> lint -> vitest (all projects)
# Extra arguments go to vitest (e.g. `npm test -- --project unit`).
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PATH:/usr/local/sbin:/usr/sbin:/sbin"

bash scripts/ensure-deps.sh all

# Nix in tests: flakes on, never wait for a binary cache (tests are offline), no sandbox so
# `builder = "/bin/sh"` derivations build; as root without the nixbld group, build as root.
if [ -z "${NIX_CONFIG:-}" ]; then
  NIX_CONFIG=$'experimental-features = nix-command flakes\nsubstituters =\nsandbox = false'
  if [ "$(id -u)" -eq 0 ] && ! getent group nixbld >/dev/null 2>&1; then
    NIX_CONFIG+=$'\nbuild-users-group ='
  fi
  export NIX_CONFIG
fi

step() {
  echo
  echo "== $* =="
}

step "typecheck"
timeout 600 npm run --silent typecheck

step "lint"
timeout 600 npm run --silent lint

step "tests"
# A hung test must not hang CI: vitest's own timeouts bound each test; this bounds the run.
timeout --kill-after=30 "${TEST_TIMEOUT_S:-3000}" npx vitest run "$@"
