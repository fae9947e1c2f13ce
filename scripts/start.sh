#!/usr/bin/env bash
# `npm start`: make sure nats-server and nix are there, build, and run the service.
# Arguments go to the service (e.g. `npm start -- --config prod.json`).
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PATH:/usr/local/sbin:/usr/sbin:/sbin"

bash scripts/ensure-deps.sh service
npm run --silent build
exec node dist/src/main.js "$@"
