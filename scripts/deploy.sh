#!/usr/bin/env bash
# Deploys WebTrigger to the AWS account and region of the current credentials, in one command:
# checks prerequisites, installs cargo-lambda (PyPI, into .venv) if missing, builds every Lambda
# (release, arm64), builds the dashboard, then `cdk bootstrap` (idempotent) and `cdk deploy`.
#
#   scripts/deploy.sh [--dry-run] [--alarm-email ADDRESS] [--reserved-concurrency] [--skip-build]
#
# --dry-run prints the plan and runs the checks that need no AWS access, then stops.
# Synth refuses placeholder bootstraps, so a failed or skipped build can never deploy a stub.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
cd "$ROOT"

DRY_RUN=0; SKIP_BUILD=0; ALARM_EMAIL="${WEBTRIGGER_ALARM_EMAIL:-}"; RESERVED=false
while [ $# -gt 0 ]; do
  case "$1" in
    --dry-run) DRY_RUN=1 ;;
    --skip-build) SKIP_BUILD=1 ;;
    --reserved-concurrency) RESERVED=true ;;
    --alarm-email) [ $# -ge 2 ] || { echo "deploy: --alarm-email needs an address" >&2; exit 2; }; ALARM_EMAIL="$2"; shift ;;
    -h|--help) sed -n '2,9p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "deploy: unknown argument '$1' (see --help)" >&2; exit 2 ;;
  esac
  shift
done

STEPS=5; STEP=0
step() { STEP=$((STEP + 1)); echo; echo "==> [$STEP/$STEPS] $*"; }
fail() { echo "deploy: $*" >&2; exit 1; }
# A missing prerequisite stops a real deploy at once; a dry run reports it, shows the plan, then fails.
MISSING=0
need() { if [ "$DRY_RUN" = 1 ]; then echo "    MISSING: $*" >&2; MISSING=1; else fail "$*"; fi; }
run() { if [ "$DRY_RUN" = 1 ]; then echo "    would run: $*"; else echo "    \$ $*"; "$@"; fi; }

# Every Lambda has its own bootstrap: functions/lambda/src/bin/<function>.rs → target/lambda/<function>/bootstrap.
FUNCTIONS=$(ls functions/lambda/src/bin | sed -n 's/\.rs$//p')
CDK_ARGS=(--require-approval never --context "reservedConcurrency=$RESERVED" --parameters "AlarmEmail=$ALARM_EMAIL")

step "prerequisites: aarch64 Rust target, node, AWS credentials"
command -v cargo > /dev/null || fail "cargo not found: install Rust (https://rustup.rs)"
command -v npm > /dev/null || fail "npm not found: install Node.js 20+"
if command -v rustup > /dev/null; then
  rustup target list --installed | grep -qx aarch64-unknown-linux-gnu \
    || need "the aarch64 Rust target is missing: run 'rustup target add aarch64-unknown-linux-gnu'"
elif [ ! -d "$(rustc --print sysroot)/lib/rustlib/aarch64-unknown-linux-gnu" ]; then
  need "the aarch64 Rust target is missing from $(rustc --print sysroot): install aarch64-unknown-linux-gnu for this toolchain"
fi
[ "$MISSING" = 1 ] || echo "    aarch64-unknown-linux-gnu: installed"
if [ "$DRY_RUN" = 1 ]; then
  echo "    (dry run: AWS credentials not checked)"
elif command -v aws > /dev/null; then
  IDENTITY=$(aws sts get-caller-identity --query Arn --output text 2>&1) \
    || fail "no usable AWS credentials ($IDENTITY): configure them (aws configure, AWS_PROFILE or AWS_ACCESS_KEY_ID)"
  echo "    deploying as $IDENTITY"
elif [ -z "${AWS_ACCESS_KEY_ID:-}${AWS_PROFILE:-}${AWS_WEB_IDENTITY_TOKEN_FILE:-}${AWS_CONTAINER_CREDENTIALS_FULL_URI:-}" ] && [ ! -f "${AWS_SHARED_CREDENTIALS_FILE:-$HOME/.aws/credentials}" ] && [ ! -f "${AWS_CONFIG_FILE:-$HOME/.aws/config}" ]; then
  fail "no AWS credentials found: set AWS_PROFILE or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, or run 'aws configure'"
fi
[ -z "$ALARM_EMAIL" ] && echo "    no --alarm-email: alarms notify the SNS topic only (subscribe to it later)"

step "cargo-lambda"
if command -v cargo-lambda > /dev/null; then
  echo "    found $(command -v cargo-lambda)"
elif [ -x .venv/bin/cargo-lambda ]; then
  echo "    found .venv/bin/cargo-lambda"
else
  # The PyPI wheel ships a prebuilt cargo-lambda and zig (the cross linker); `cargo install` takes far longer.
  [ -x .venv/bin/pip ] || run python3 -m venv .venv
  run .venv/bin/pip install -q --disable-pip-version-check 'cargo-lambda>=1.6,<2'
fi
export PATH="$ROOT/.venv/bin:$PATH"

step "Lambda artifacts: cargo lambda build --profile lambda-release --arm64 ($(echo "$FUNCTIONS" | wc -l) bootstraps)"
if [ "$SKIP_BUILD" = 1 ]; then
  echo "    --skip-build: using target/lambda as it is (synth still rejects a missing or non-arm64 bootstrap)"
else
  # lambda-release (Cargo.toml): opt-level z, no cross-crate LTO, panic=abort; aarch64 flags in .cargo/config.toml.
  run cargo lambda build --profile lambda-release --arm64 --package webtrigger-lambda
fi
if [ "$DRY_RUN" != 1 ]; then
  for f in $FUNCTIONS; do
    [ -f "target/lambda/$f/bootstrap" ] || fail "target/lambda/$f/bootstrap was not built"
    echo "    $f: $(du -h "target/lambda/$f/bootstrap" | cut -f1)"
  done
fi

step "dashboard: static-site npm run build"
[ -d static-site/node_modules ] || run npm --prefix static-site ci --no-audit --no-fund --loglevel=error
[ -d infra-cdk/node_modules ] || run npm --prefix infra-cdk ci --no-audit --no-fund --loglevel=error
run npm --prefix static-site run build

step "cdk bootstrap (once per account and region) and cdk deploy"
export CDK_DISABLE_VERSION_CHECK=1
run bash -c "cd infra-cdk && npx cdk bootstrap --no-notices"
run bash -c "cd infra-cdk && npx cdk deploy --no-notices ${CDK_ARGS[*]@Q} --outputs-file cdk-outputs.json"
if [ "$DRY_RUN" = 1 ]; then
  echo; echo "dry run: nothing was built or deployed"
  [ "$MISSING" = 0 ] || fail "prerequisites are missing (see MISSING above)"
else
  echo; echo "deployed: outputs (DashboardUrl, ApiUrl, AlarmTopicArn, ...) are in infra-cdk/cdk-outputs.json"
fi
