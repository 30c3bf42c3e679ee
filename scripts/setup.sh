#!/usr/bin/env bash
# Installs, idempotently, everything Sluice needs to build, test and run its demo on a fresh Debian machine
# that has only the Rust toolchain: the C build dependencies of librdkafka (SSL, SASL, zstd, lz4, zlib),
# kcat for humans, Chromium for the web console's browser test, a Python environment for the Avro, Feldera SDK and
# console tests (confluent-kafka, fastavro, feldera, playwright),
# Feldera's CLI fda (pinned, built from crates.io),
# Apache Kafka (scripts/kafka-install.sh: Java 17 and Maven with apt when
# missing, the pinned broker's jars from Maven Central into ~/.cache/sluice), and tansu (pinned), the
# Kafka-compatible broker a smaller set of tests also runs against. Safe to run again: every step checks first
# and skips what is already there.
#
#   scripts/setup.sh
#
# (--with-kafka is still accepted; Apache Kafka is always installed now.)
set -euo pipefail

for arg in "$@"; do
  case "$arg" in
    --with-kafka) ;;
    *) echo "setup.sh: unknown argument '$arg'" >&2; exit 2 ;;
  esac
done

TANSU_VERSION="${TANSU_VERSION:-0.6.0}"
APT_PACKAGES=(build-essential pkg-config cmake libssl-dev libsasl2-dev libzstd-dev liblz4-dev zlib1g-dev libcurl4-openssl-dev kcat python3 python3-requests python3-venv curl postgresql chromium)

log() { printf '[setup] %s\n' "$*" >&2; }

as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

missing=()
for p in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  log "installing Debian packages: ${missing[*]}"
  as_root apt-get update -qq
  DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
else
  log "Debian packages present"
fi

if command -v tansu >/dev/null 2>&1 && tansu --version 2>/dev/null | grep -q "$TANSU_VERSION"; then
  log "tansu $TANSU_VERSION present"
else
  log "installing tansu $TANSU_VERSION (cargo install, about 13 minutes on two cores, once per machine)"
  cargo install --locked tansu --version "$TANSU_VERSION" --features dynostore,libsql
fi
# Python's requests, for the end-to-end test that runs the documentation's Python example verbatim. Debian's
# python3-requests (above) covers the system interpreter; pip is only the fallback for a `python3` that is not
# Debian's (pyenv, a virtualenv) and so cannot see the Debian package.
if python3 -c 'import requests' >/dev/null 2>&1; then
  log "python requests present"
else
  log "installing python requests for $(command -v python3) (pip)"
  python3 -m pip install --quiet requests 2>/dev/null || python3 -m pip install --quiet --break-system-packages requests
fi
# A Python environment of the project's own for the tests that read Sluice's Avro output with a current Kafka
# client and an independent Avro implementation (confluent-kafka, fastavro; pinned), and for the test that drives
# Sluice with Feldera's official Python SDK, unmodified (feldera; pinned, pulls in pandas, numpy and pyarrow), and
# Playwright (pinned) for the web console's browser test, which drives Debian's Chromium (installed above; Playwright's
# own browser download is never used).
# It lives outside the repository, like tansu, so that cleaning the target dir does not reinstall it; common.sh
# points SLUICE_PYTHON at it. An environment missing a package (or holding another version) is completed in place.
SLUICE_PYENV="${SLUICE_PYENV:-${XDG_CACHE_HOME:-$HOME/.cache}/sluice/python}"
PYTHON_PACKAGES=("confluent-kafka[avro,schemaregistry]==2.16.1" "fastavro==1.13.1" "feldera==0.369.0" "playwright==1.65.2")
python_ready='from importlib.metadata import version
from confluent_kafka.schema_registry.avro import AvroDeserializer
import fastavro
from feldera import FelderaClient, PipelineBuilder
from playwright.sync_api import sync_playwright
assert version("confluent-kafka") == "2.16.1" and version("fastavro") == "1.13.1" and version("feldera") == "0.369.0"
assert version("playwright") == "1.65.2"'
if [ -x "$SLUICE_PYENV/bin/python" ] && "$SLUICE_PYENV/bin/python" -c "$python_ready" >/dev/null 2>&1; then
  log "python test environment present ($SLUICE_PYENV)"
else
  log "installing the python test environment in $SLUICE_PYENV (${PYTHON_PACKAGES[*]})"
  python3 -m venv "$SLUICE_PYENV"
  "$SLUICE_PYENV/bin/python" -m pip install --quiet --disable-pip-version-check "${PYTHON_PACKAGES[@]}"
fi
# Feldera's CLI, fda (pinned), for the test that drives Sluice with it unmodified. Built from crates.io once per
# machine into a directory of its own (like tansu, it outlives the target dir); a debug build, since the test runs
# a handful of commands, which saves about a third of the build. common.sh points SLUICE_FDA at it.
FDA_VERSION=0.349.0
FDA_ROOT="${SLUICE_FDA_ROOT:-${XDG_CACHE_HOME:-$HOME/.cache}/sluice/fda}"
if [ -x "$FDA_ROOT/bin/fda" ] && grep -q "^\"fda $FDA_VERSION " "$FDA_ROOT/.crates.toml" 2>/dev/null; then
  log "fda $FDA_VERSION present"
else
  log "installing fda $FDA_VERSION (cargo install --debug, about 10 minutes on two cores, once per machine)"
  cargo install --locked --debug fda --version "$FDA_VERSION" --root "$FDA_ROOT"
fi
bash "$(dirname "${BASH_SOURCE[0]}")/kafka-install.sh" >/dev/null
log "Apache Kafka present"
log "done"
