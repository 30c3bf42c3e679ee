#!/usr/bin/env bash
# Sets everything up and runs Sluice's whole test suite: installs what is missing (scripts/setup.sh), starts a
# throwaway PostgreSQL on loopback for the API tests (every sluice-server API test runs on SQLite and on
# PostgreSQL), builds and runs every test. PostgreSQL is stopped again if this script started it.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
bash scripts/setup.sh

export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$root/target}"

if ! bash scripts/postgres.sh status; then
  trap 'bash scripts/postgres.sh stop' EXIT
fi
SLUICE_TEST_DATABASE_URL="$(bash scripts/postgres.sh start)"
export SLUICE_TEST_DATABASE_URL

cargo test --workspace --all-features
