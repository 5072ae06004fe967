#!/usr/bin/env bash
# The one test command: every Rust test (port conformance on SQLite AND on moto, event samples, HTTP layer,
# workers, the local binary end to end), the PWA build and its browser test in headless Chromium against
# the real local binary, and the CDK assertion tests, synth and cfn-lint.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
TARGET_DIR=${CARGO_TARGET_DIR:-$ROOT/target}
started=$(date +%s)

scripts/setup-tools.sh

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; }
trap cleanup EXIT

mkdir -p "$TARGET_DIR"
echo "==> moto_server (AWS-protocol server for the AWS adapters)"
MOTO_PORT=$(free_port)
.venv/bin/moto_server -H 127.0.0.1 -p "$MOTO_PORT" > "$TARGET_DIR/moto.log" 2>&1 &
pids+=($!)
for _ in $(seq 1 100); do curl -fs "http://127.0.0.1:$MOTO_PORT/moto-api/" > /dev/null 2>&1 && break; sleep 0.2; done
export WEBTRIGGER_TEST_AWS_ENDPOINT="http://127.0.0.1:$MOTO_PORT"

echo "==> PWA build"
(cd static-site && npm run build)

echo "==> cargo test (workspace)"
cargo build --workspace --quiet
# The Lambda bootstraps (one-line mains) hold no tests: built above, not linked again as test harnesses.
cargo test --workspace --exclude webtrigger-lambda 2>&1 | tee "$TARGET_DIR/cargo-test.log"
echo "==> cargo test: the shared crate as the Lambda bootstraps build it (no embedded backend, no OpenAPI docs)"
cargo test -p webtrigger --lib --no-default-features 2>&1 | tee -a "$TARGET_DIR/cargo-test.log"

echo "==> browser test: the dashboard served by the local binary in headless Chromium"
WEB_PORT=$(free_port)
PUSH_FAKE_PORT=$(free_port)
DATA_DIR=$(mktemp -d)
# Provider APIs point at loopback: Meta at the port the inbox browser test serves its fake on, the others
# at a closed port. The browser tests never reach the internet.
PROVIDER_FAKE_PORT=$(free_port)
# Event webhooks may reach only this loopback receiver (the triggers browser test listens there).
EVENT_SINK_PORT=$(free_port)
FEED_FAKE_PORT=$(free_port)
WEBTRIGGER_OUTBOUND_ALLOW_HOSTS="127.0.0.1:$EVENT_SINK_PORT,127.0.0.1:$FEED_FAKE_PORT" \
WEBTRIGGER_TWILIO_API_URL=http://127.0.0.1:9 WEBTRIGGER_META_GRAPH_URL="http://127.0.0.1:$PROVIDER_FAKE_PORT/v23.0" WEBTRIGGER_WHAPI_API_URL=http://127.0.0.1:9 \
"$TARGET_DIR/debug/webtrigger" serve --data-dir "$DATA_DIR" --port "$WEB_PORT" --static-dir static-site/dist \
  --allow-push-host "127.0.0.1:$PUSH_FAKE_PORT" > "$TARGET_DIR/serve-e2e.log" 2>&1 &
pids+=($!)
for _ in $(seq 1 100); do curl -fs "http://127.0.0.1:$WEB_PORT/v1/health" > /dev/null 2>&1 && break; sleep 0.2; done
(cd static-site && WEBTRIGGER_BIN="$TARGET_DIR/debug/webtrigger" BASE_URL="http://127.0.0.1:$WEB_PORT" EXPECT_API=1 PUSH_FAKE_HOST="127.0.0.1:$PUSH_FAKE_PORT" PROVIDER_FAKE_PORT="$PROVIDER_FAKE_PORT" EVENT_SINK_PORT="$EVENT_SINK_PORT" FEED_FAKE_PORT="$FEED_FAKE_PORT" npm run test:e2e) 2>&1 | tee "$TARGET_DIR/e2e.log"

echo "==> OpenAPI document validates (openapi-spec-validator)"
curl -fs "http://127.0.0.1:$WEB_PORT/v1/openapi.json" > "$TARGET_DIR/openapi.json"
.venv/bin/openapi-spec-validator "$TARGET_DIR/openapi.json"

echo "==> CDK: assertion tests, synth, cfn-lint"
(cd infra-cdk && npm test && PATH="$ROOT/.venv/bin:$PATH" npm run lint) 2>&1 | tee "$TARGET_DIR/cdk.log"

# One closing line over every runner: cargo's "test result" lines and node's "pass N" / "fail N" counts.
read -r passed failed < <(awk '
  /^test result:/ { for (i = 1; i <= NF; i++) { if ($(i+1) ~ /^passed/) p += $i; if ($(i+1) ~ /^failed/) f += $i } }
  /^(ℹ|#) pass [0-9]+$/ { p += $3 }
  /^(ℹ|#) fail [0-9]+$/ { f += $3 }
  END { print p + 0, f + 0 }' "$TARGET_DIR/cargo-test.log" "$TARGET_DIR/e2e.log" "$TARGET_DIR/cdk.log")
echo "==> all tests passed in $(( $(date +%s) - started )) s"
echo "$passed passed, $failed failed"
