#!/usr/bin/env bash
# Installs what the tests need on a fresh machine, idempotently: a Python venv with moto (the AWS-protocol
# server), cfn-lint and openapi-spec-validator, Debian's Chromium for the browser test, and the npm packages of the PWA and CDK app.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ ! -x .venv/bin/moto_server ] || [ ! -x .venv/bin/cfn-lint ] || [ ! -x .venv/bin/openapi-spec-validator ]; then
  echo "==> python venv: moto[server], cfn-lint, openapi-spec-validator"
  python3 -m venv .venv
  .venv/bin/pip install -q --disable-pip-version-check 'moto[server]>=5.1,<6' 'cfn-lint>=1.20,<2' 'openapi-spec-validator>=0.7,<1'
fi

if [ ! -x /usr/bin/chromium ]; then
  echo "==> apt: chromium"
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq chromium > /dev/null
fi

for dir in static-site infra-cdk; do
  if [ ! -d "$dir/node_modules" ] || [ "$dir/package-lock.json" -nt "$dir/node_modules/.package-lock.json" ]; then
    echo "==> npm ci in $dir"
    (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error)
  fi
done
