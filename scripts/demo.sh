#!/usr/bin/env bash
# Sets everything up and runs Sluice's main job: installs what is missing (scripts/setup.sh), starts the local
# Kafka broker on 127.0.0.1:19092 (left running for you to explore), and streams the seed document's
# `total-sales` connector example end to end, printing the messages as a consumer reads them from the topic.
set -euo pipefail

source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

bash scripts/broker.sh start --port "$port"
cargo build -p sluice
"$CARGO_TARGET_DIR/debug/sluice" kafka wait --timeout-secs 60
"$CARGO_TARGET_DIR/debug/sluice" demo
echo
echo "The broker keeps running on 127.0.0.1:$port. Read the topic again with:"
echo "  $CARGO_TARGET_DIR/debug/sluice kafka consume total-sales"
echo "Stop it with: scripts/broker.sh stop"
