# Sourced by demo.sh and test.sh: go to the repository root, install what is missing, and set the variables every
# step shares (one cargo target dir; the local broker's port and address).
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
bash scripts/setup.sh

export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$root/target}"
port="${SLUICE_KAFKA_PORT:-19092}"
export SLUICE_KAFKA_BROKERS="127.0.0.1:$port"
