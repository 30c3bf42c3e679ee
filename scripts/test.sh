#!/usr/bin/env bash
# Sets everything up and runs Sluice's whole test suite: installs what is missing (scripts/setup.sh), starts the
# local Kafka broker and a throwaway PostgreSQL on loopback (every sluice-server API test runs on SQLite and on
# PostgreSQL), builds the workspace once and runs every test, including the ones that talk to the broker. What this
# script started, it stops again.
set -euo pipefail

source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

cleanup=()
trap 'for c in "${cleanup[@]}"; do eval "$c"; done' EXIT
if ! bash scripts/broker.sh status --port "$port" >/dev/null 2>&1; then
  bash scripts/broker.sh start --port "$port"
  cleanup+=("bash scripts/broker.sh stop --port $port")
fi
if ! bash scripts/postgres.sh status >/dev/null 2>&1; then
  cleanup+=("bash scripts/postgres.sh stop")
fi
SLUICE_TEST_DATABASE_URL="$(bash scripts/postgres.sh start)"
export SLUICE_TEST_DATABASE_URL

cargo build --workspace --all-targets --all-features
"$CARGO_TARGET_DIR/debug/sluice" kafka wait --timeout-secs 60
cargo test --workspace --all-features --no-fail-fast
