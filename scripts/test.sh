#!/usr/bin/env bash
# Sets everything up and runs Sluice's whole test suite: installs what is missing (scripts/setup.sh), starts the
# local Apache Kafka broker and a throwaway PostgreSQL on loopback (every sluice-server API test runs on SQLite and
# on PostgreSQL), builds the workspace once and runs every test, including the ones that talk to the broker (the
# tests' private brokers for outages are Apache Kafka too). Then it runs the seed workflow, the broker-outage test and
# the exactly-once strict check in markers mode again against tansu, a Kafka-compatible broker without
# transactions, so that Sluice stays honest with those. SLUICE_BROKER=tansu runs the whole suite on tansu instead
# (the transaction tests then fail: tansu has no transactions). What this
# script started, it stops again.
set -euo pipefail

source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

cleanup=()
trap 'for c in "${cleanup[@]}"; do eval "$c"; done' EXIT
broker="${SLUICE_BROKER:-kafka}"
if ! bash scripts/broker.sh status --port "$port" >/dev/null 2>&1; then
  bash scripts/broker.sh start --kind "$broker" --port "$port"
  cleanup+=("bash scripts/broker.sh stop --kind $broker --port $port")
fi
if ! bash scripts/postgres.sh status >/dev/null 2>&1; then
  cleanup+=("bash scripts/postgres.sh stop")
fi
SLUICE_TEST_DATABASE_URL="$(bash scripts/postgres.sh start)"
export SLUICE_TEST_DATABASE_URL

cargo build --workspace --all-targets --all-features
"$CARGO_TARGET_DIR/debug/sluice" kafka wait --timeout-secs 60
status=0
cargo test --workspace --all-features --no-fail-fast || status=$?

# The same user workflow and broker outage against tansu.
if [ "$broker" = kafka ]; then
  tansu_port=$((port + 20))
  echo "[test] again against tansu on 127.0.0.1:$tansu_port: the seed workflow and the broker-outage test" >&2
  bash scripts/broker.sh start --kind tansu --port "$tansu_port"
  cleanup+=("bash scripts/broker.sh stop --kind tansu --port $tansu_port")
  on_tansu=(env SLUICE_BROKER=tansu SLUICE_KAFKA_BROKERS="127.0.0.1:$tansu_port")
  "${on_tansu[@]}" cargo test --workspace --all-features --test seed_e2e || status=$?
  "${on_tansu[@]}" cargo test --workspace --all-features --test kafka_output broker_restart_mid_stream || status=$?
  # Exactly-once on a broker without transactions: `auto` must choose markers, and the strict check must hold.
  "${on_tansu[@]}" cargo test --workspace --all-features --test exactly_once_e2e markers || status=$?
fi
exit "$status"
