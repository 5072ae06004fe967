#!/usr/bin/env bash
# Runs the whole platform locally on the embedded backend: builds the dashboard if it is missing, then
# `webtrigger serve` (API, webhooks, workers, minute tick, dashboard) on http://127.0.0.1:8080.
# Extra arguments go to `serve` (e.g. --port 9000 --data-dir /var/lib/webtrigger).
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -f static-site/dist/index.html ]; then
  echo "==> building the dashboard (static-site/dist)"
  (cd static-site && { [ -d node_modules ] || npm ci --no-audit --no-fund --loglevel=error; } && npm run build)
fi
exec cargo run --quiet -p webtrigger-local --bin webtrigger -- serve "$@"
