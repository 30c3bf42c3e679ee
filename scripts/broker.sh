#!/usr/bin/env bash
# Starts and stops Sluice's local broker on the loopback interface: Apache Kafka (the default), or tansu, a
# Kafka-compatible broker that a smaller set of tests also runs against.
#
#   scripts/broker.sh start  [--port P] [--storage memory|sqlite] [--dir DIR] [--kind tansu|kafka]
#   scripts/broker.sh stop   [--port P] [--dir DIR] [--kind tansu|kafka]
#   scripts/broker.sh kill   [--port P] [--dir DIR] [--kind tansu|kafka]   (SIGKILL: a crash, data kept)
#   scripts/broker.sh status [--port P]
#
# --kind (or $SLUICE_BROKER) picks the broker: kafka (the default), a real Apache Kafka broker, which this script
# leaves to scripts/kafka-broker.sh with the same arguments, or tansu, run by this script (see docs/brokers.md).
# What follows describes tansu.
# Defaults: port $SLUICE_KAFKA_PORT or 19092, in-memory storage, state under target/broker/<port>.
# `start` is idempotent: when a broker already listens on the port it starts nothing. Either way it returns only
# once the broker answers a Kafka metadata request listing at least one broker (within 30 s), and fails otherwise.
# (`kcat -L` cannot be the probe: the kcat Debian ships, librdkafka 2.0.2, fails tansu's ApiVersions handshake.)
# `status` only checks that something listens on the port.
# tansu does not auto-create topics: create them with `sluice kafka create-topic` (the admin API).
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cmd="${1:-}"; shift || true
port="${SLUICE_KAFKA_PORT:-19092}"
storage="memory"
dir=""
kind="${SLUICE_BROKER:-kafka}"
args=()
# Every argument but --kind is also kept in args, to hand on to kafka-broker.sh unchanged.
while [ $# -gt 0 ]; do
  case "$1" in
    --kind) kind="$2"; shift 2 ;;
    --port) port="$2"; args+=("$1" "$2"); shift 2 ;;
    --storage) storage="$2"; args+=("$1" "$2"); shift 2 ;;
    --dir) dir="$2"; args+=("$1" "$2"); shift 2 ;;
    *) echo "broker.sh: unknown argument '$1'" >&2; exit 2 ;;
  esac
done
case "$kind" in
  tansu) ;;
  kafka) exec bash "$root/scripts/kafka-broker.sh" "$cmd" ${args[@]+"${args[@]}"} ;;
  *) echo "broker.sh: --kind must be tansu or kafka" >&2; exit 2 ;;
esac
dir="${dir:-$root/target/broker/$port}"
pidfile="$dir/tansu.pid"
logfile="$dir/tansu.log"

source "$root/scripts/broker-probe.sh"

# Waits up to 30 s until the broker on $1 answers metadata requests; $2 is tansu's pid when this script started it.
wait_for_metadata() {
  local deadline=$((SECONDS + 30))
  while [ "$SECONDS" -lt "$deadline" ]; do
    if answers_metadata "$1"; then return 0; fi
    if [ -n "${2:-}" ] && ! kill -0 "$2" 2>/dev/null; then
      echo "broker.sh: tansu exited during startup; its log:" >&2; cat "$logfile" >&2; exit 1
    fi
    sleep 0.1
  done
  echo "broker.sh: 127.0.0.1:$1 did not answer a Kafka metadata request within 30 s" >&2
  if [ -n "${2:-}" ]; then echo "its log:" >&2; cat "$logfile" >&2; fi
  exit 1
}

tansu_bin() {
  if command -v tansu >/dev/null 2>&1; then command -v tansu
  elif [ -x "$HOME/.cargo/bin/tansu" ]; then echo "$HOME/.cargo/bin/tansu"
  else echo "broker.sh: tansu is not installed; run scripts/setup.sh" >&2; exit 1
  fi
}

case "$cmd" in
  start)
    if answers "$port"; then
      wait_for_metadata "$port"
      echo "broker already running on 127.0.0.1:$port (answers metadata requests)"; exit 0
    fi
    mkdir -p "$dir"
    case "$storage" in
      memory) engine="memory://tansu/" ;;
      sqlite) engine="sqlite://tansu.db" ;;  # tansu resolves it against its working directory, $dir
      *) echo "broker.sh: --storage must be memory or sqlite" >&2; exit 2 ;;
    esac
    # tansu reads a .env file from its working directory: run it from the state dir, which has none. The subshell
    # execs tansu in a session of its own with every stream redirected, so that it holds no caller's pipe open and
    # $! is tansu's own pid.
    ( cd "$dir" && exec setsid "$(tansu_bin)" broker \
        --listener-url "tcp://127.0.0.1:$port" \
        --advertised-listener-url "tcp://127.0.0.1:$port" \
        --storage-engine "$engine" </dev/null >"$logfile" 2>&1 ) &
    echo $! >"$pidfile"
    wait_for_metadata "$port" "$(cat "$pidfile")"
    echo "broker running on 127.0.0.1:$port, answering metadata requests ($storage storage, log $logfile)"
    ;;
  stop)
    if stop_pidfile "$pidfile" 5; then
      echo "broker on port $port stopped"
    else
      echo "no broker started by broker.sh on port $port"
    fi
    ;;
  kill)
    if kill_pidfile "$pidfile"; then
      echo "broker on port $port killed (SIGKILL)"
    else
      echo "no broker started by broker.sh on port $port"
    fi
    ;;
  status)
    if answers "$port"; then echo "listening on 127.0.0.1:$port"; else echo "not listening on 127.0.0.1:$port"; exit 1; fi
    ;;
  *)
    echo "usage: scripts/broker.sh start|stop|kill|status [--port P] [--storage memory|sqlite] [--dir DIR] [--kind tansu|kafka]" >&2; exit 2 ;;
esac
