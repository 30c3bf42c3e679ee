#!/usr/bin/env bash
# Sets everything up and runs Sluice's whole test suite: installs what is missing (scripts/setup.sh), starts the
# local Kafka broker on loopback, builds the workspace once and runs every test, including the ones that talk to
# the broker. The broker is stopped again if this script started it.
set -euo pipefail

source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

if ! bash scripts/broker.sh status --port "$port" >/dev/null 2>&1; then
  bash scripts/broker.sh start --port "$port"
  trap 'bash scripts/broker.sh stop --port "$port"' EXIT
fi

cargo build --workspace --all-targets --all-features
cargo run -q -p sluice -- kafka wait --timeout-secs 60
cargo test --workspace --all-features
