#!/usr/bin/env bash
# Runs the whole platform locally on the embedded backend: builds the dashboard, then
# `webtrigger serve` (API, webhooks, workers, minute tick, dashboard) on http://127.0.0.1:8080.
# Extra arguments go to `serve` (e.g. --port 9000 --data-dir /var/lib/webtrigger).
set -euo pipefail
cd "$(dirname "$0")/.."
# The binary embeds static-site/dist at compile time, so the dashboard is built first, every time (a few
# seconds; a stale build would be compiled in).
echo "==> building the dashboard (static-site/dist)"
(cd static-site && { [ -d node_modules ] || npm ci --no-audit --no-fund --loglevel=error; } && npm run build)
exec cargo run --quiet -p webtrigger-local --bin webtrigger -- serve "$@"
