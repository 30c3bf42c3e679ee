# Sourced by demo.sh and test.sh: go to the repository root, install what is missing, and set the variables every
# step shares (one cargo target dir; the local broker's port and address).
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
bash scripts/setup.sh

export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$root/target}"
# These scripts build once from scratch more often than they rebuild after an edit (a fresh clone, CI), and
# incremental compilation only costs time and disk there (its caches are kept beside every crate it builds).
export CARGO_INCREMENTAL="${CARGO_INCREMENTAL:-0}"

# A cold build of the workspace with its tests and benches takes 3.3 GB under the target dir (measured on a clean
# clone). Say so, with some margin, before cargo stops halfway with "No space left on device".
target_fs="$CARGO_TARGET_DIR"
while [ ! -d "$target_fs" ]; do target_fs="$(dirname "$target_fs")"; done
free_mb="$(df -Pm "$target_fs" | awk 'NR == 2 { print $4 }')"
if [ ! -d "$CARGO_TARGET_DIR/debug" ] && [ "$free_mb" -lt 6144 ]; then
  echo "[setup] warning: only ${free_mb} MB free on $target_fs; a cold build needs about 4 GB for $CARGO_TARGET_DIR" >&2
elif [ "$free_mb" -lt 1024 ]; then
  echo "[setup] warning: only ${free_mb} MB free on $target_fs; the build may run out of disk" >&2
fi
port="${SLUICE_KAFKA_PORT:-19092}"
export SLUICE_KAFKA_BROKERS="127.0.0.1:$port"
# The interpreter with the Avro tests' packages (scripts/setup.sh installs them).
export SLUICE_PYTHON="${SLUICE_PYTHON:-${SLUICE_PYENV:-${XDG_CACHE_HOME:-$HOME/.cache}/sluice/python}/bin/python}"
# Feldera's CLI for the test that drives Sluice with it (scripts/setup.sh builds it).
export SLUICE_FDA="${SLUICE_FDA:-${SLUICE_FDA_ROOT:-${XDG_CACHE_HOME:-$HOME/.cache}/sluice/fda}/bin/fda}"
