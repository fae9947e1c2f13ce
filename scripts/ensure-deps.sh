#!/usr/bin/env bash
# Installs what cim-domain-nix needs on a Debian machine that has only Node and npm.
#
#   scripts/ensure-deps.sh service   nats-server, nix-bin, git (what `npm start` needs)
#   scripts/ensure-deps.sh all       the above plus chromium and openssl (what `npm test` needs)
#
# Missing Debian packages are installed with apt-get when run as root; otherwise the exact
# command to run is printed and the script exits 1. node_modules is installed with `npm ci`
# when it is missing or older than package-lock.json.
set -euo pipefail
cd "$(dirname "$0")/.."

profile="${1:-all}"
case "$profile" in
  service | all) ;;
  *)
    echo "usage: $0 [service|all]" >&2
    exit 2
    ;;
esac

# Debian puts nats-server in /usr/sbin, which a normal user's PATH may lack.
export PATH="$PATH:/usr/local/sbin:/usr/sbin:/sbin"

node_major="$(node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0)"
if [ "$node_major" -lt 20 ]; then
  echo "cim-domain-nix needs Node.js 20 or newer (found: $(node --version 2>/dev/null || echo none))." >&2
  exit 1
fi

missing=()
need() { # need <command> <debian package>
  command -v "$1" >/dev/null 2>&1 || missing+=("$2")
}
need nats-server nats-server
need nix nix-bin
need git git
if [ "$profile" = all ]; then
  need chromium chromium
  need openssl openssl
fi

if [ "${#missing[@]}" -gt 0 ]; then
  if [ "$(id -u)" -eq 0 ]; then
    echo "ensure-deps: installing ${missing[*]} with apt-get" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get update
    apt-get install -y "${missing[@]}"
  else
    echo "ensure-deps: missing ${missing[*]}. Install them as root, then run this again:" >&2
    echo "  sudo apt-get update && sudo apt-get install -y ${missing[*]}" >&2
    exit 1
  fi
fi

if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "ensure-deps: installing node modules (npm ci)" >&2
  if [ -f package-lock.json ]; then npm ci --no-audit --no-fund; else npm install --no-audit --no-fund; fi
fi
