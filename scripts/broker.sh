#!/usr/bin/env bash
# Starts and stops Sluice's local Kafka-compatible broker (tansu) on the loopback interface.
#
#   scripts/broker.sh start  [--port P] [--storage memory|sqlite] [--dir DIR]
#   scripts/broker.sh stop   [--port P] [--dir DIR]
#   scripts/broker.sh status [--port P]
#
# Defaults: port $SLUICE_KAFKA_PORT or 19092, in-memory storage, state under target/broker/<port>.
# `start` is idempotent: when a broker already answers on the port it does nothing. It returns once the broker
# accepts connections (then `sluice kafka wait` checks that it answers metadata requests).
# tansu does not auto-create topics: create them with `sluice kafka create-topic` (the admin API).
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cmd="${1:-}"; shift || true
port="${SLUICE_KAFKA_PORT:-19092}"
storage="memory"
dir=""
while [ $# -gt 0 ]; do
  case "$1" in
    --port) port="$2"; shift 2 ;;
    --storage) storage="$2"; shift 2 ;;
    --dir) dir="$2"; shift 2 ;;
    *) echo "broker.sh: unknown argument '$1'" >&2; exit 2 ;;
  esac
done
dir="${dir:-$root/target/broker/$port}"
pidfile="$dir/tansu.pid"
logfile="$dir/tansu.log"

answers() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

tansu_bin() {
  if command -v tansu >/dev/null 2>&1; then command -v tansu
  elif [ -x "$HOME/.cargo/bin/tansu" ]; then echo "$HOME/.cargo/bin/tansu"
  else echo "broker.sh: tansu is not installed; run scripts/setup.sh" >&2; exit 1
  fi
}

case "$cmd" in
  start)
    if answers "$port"; then echo "broker already listening on 127.0.0.1:$port"; exit 0; fi
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
    for _ in $(seq 1 200); do
      if answers "$port"; then echo "broker listening on 127.0.0.1:$port ($storage storage, log $logfile)"; exit 0; fi
      if ! kill -0 "$(cat "$pidfile")" 2>/dev/null; then
        echo "broker.sh: tansu exited during startup; its log:" >&2; cat "$logfile" >&2; exit 1
      fi
      sleep 0.05
    done
    echo "broker.sh: tansu did not open 127.0.0.1:$port within 10 s; its log:" >&2; cat "$logfile" >&2; exit 1
    ;;
  stop)
    if [ -f "$pidfile" ]; then
      pid="$(cat "$pidfile")"
      if kill "$pid" 2>/dev/null; then
        for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.05; done
        kill -9 "$pid" 2>/dev/null || true
      fi
      rm -f "$pidfile"
      echo "broker on port $port stopped"
    else
      echo "no broker started by broker.sh on port $port"
    fi
    ;;
  status)
    if answers "$port"; then echo "listening on 127.0.0.1:$port"; else echo "not listening on 127.0.0.1:$port"; exit 1; fi
    ;;
  *)
    echo "usage: scripts/broker.sh start|stop|status [--port P] [--storage memory|sqlite] [--dir DIR]" >&2; exit 2 ;;
esac
