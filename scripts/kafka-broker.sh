#!/usr/bin/env bash
# Starts and stops a real Apache Kafka broker (pinned by scripts/kafka-install.sh) on the loopback interface: one
# KRaft node that is both broker and controller, in one JVM. Same conventions as scripts/broker.sh (tansu), so that
# either can serve the tests; `scripts/broker.sh --kind kafka ...` runs this script.
#
#   scripts/kafka-broker.sh start  [--port P] [--storage memory|disk] [--dir DIR] [--sasl-scram USER:PASSWORD]
#   scripts/kafka-broker.sh stop   [--port P] [--dir DIR]
#   scripts/kafka-broker.sh status [--port P]
#
# Defaults: port $SLUICE_KAFKA_PORT or 19092 (clients), port P+1 for the KRaft controller (loopback only, never
# advertised), throwaway storage, state under target/kafka-broker/<port>.
# Storage: `memory` = a data dir formatted afresh at each start and deleted at stop (Kafka always writes to disk;
# this is what tansu's in-memory storage looks like from outside: each start is an empty cluster); `disk` (or
# `sqlite`, broker.sh's word) = a data dir that is kept across stops and formatted only once, when it has no
# meta.properties yet. A broker killed with SIGKILL restarts on the same data dir (Kafka recovers its logs).
# `start` is idempotent: when a broker already listens on the port it starts nothing. Either way it returns only
# once the broker answers a Kafka metadata request listing at least one broker (within 60 s), and fails otherwise.
# `status` only checks that something listens on the port. Unlike tansu, this broker creates a topic on first use
# (auto.create.topics.enable); `sluice kafka create-topic` works too.
# --sasl-scram USER:PASSWORD: port P requires SASL/SCRAM-SHA-256 (over plaintext) from every client, with USER as
# the one account (its credentials are written when the data dir is formatted, so use it with a fresh `memory` or
# `disk` dir). Port P+2 is then an administration listener without authentication, on loopback, for setting up
# topics (a client that bootstraps there is told only about P+2; one that bootstraps on P only about P).
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cmd="${1:-}"; shift || true
port="${SLUICE_KAFKA_PORT:-19092}"
storage="memory"
dir=""
sasl_scram=""
while [ $# -gt 0 ]; do
  case "$1" in
    --port) port="$2"; shift 2 ;;
    --storage) storage="$2"; shift 2 ;;
    --dir) dir="$2"; shift 2 ;;
    --sasl-scram) sasl_scram="$2"; shift 2 ;;
    *) echo "kafka-broker.sh: unknown argument '$1'" >&2; exit 2 ;;
  esac
done
dir="${dir:-$root/target/kafka-broker/$port}"
controller_port=$((port + 1))
pidfile="$dir/kafka.pid"
logfile="$dir/kafka.log"
# The throwaway data dir has a name of its own, so that a `memory` start can never wipe a `disk` broker's data.
memory_data="$dir/memory-data"
disk_data="$dir/data"

source "$root/scripts/broker-probe.sh"

if [ -n "$sasl_scram" ]; then
  sasl_user="${sasl_scram%%:*}"; sasl_password="${sasl_scram#*:}"
  if [ -z "$sasl_user" ] || [ "$sasl_user" = "$sasl_scram" ] || [ -z "$sasl_password" ]; then
    echo "kafka-broker.sh: --sasl-scram takes USER:PASSWORD" >&2; exit 2
  fi
  case "$sasl_scram" in *[\"\ \;,\[\]=]*)
    echo "kafka-broker.sh: --sasl-scram: user and password may not contain quotes, spaces, ';', ',', '[', ']' or '='" >&2
    exit 2 ;;
  esac
fi

# The port that answers without authentication: the client port, or the administration port with --sasl-scram.
open_port=$port
[ -n "$sasl_scram" ] && open_port=$((port + 2))

# Whether the broker is ready: its unauthenticated port answers a metadata request (and, with --sasl-scram, the
# client port listens).
ready() { answers_metadata "$open_port" && answers "$1"; }

# Waits up to 60 s until the broker on $1 is ready; $2 is the JVM's pid when this script started it. (A cold start
# takes about 3 s; the margin is for a loaded machine, and for log recovery after a SIGKILL.)
wait_for_metadata() {
  local deadline=$((SECONDS + 60))
  while [ "$SECONDS" -lt "$deadline" ]; do
    if ready "$1"; then return 0; fi
    if [ -n "${2:-}" ] && ! kill -0 "$2" 2>/dev/null; then
      echo "kafka-broker.sh: Kafka exited during startup; its errors and the end of its log:" >&2
      grep -E "ERROR|FATAL|Exception|Error:" "$logfile" | tail -n 10 >&2 || true
      tail -n 15 "$logfile" >&2
      return 2
    fi
    sleep 0.1
  done
  echo "kafka-broker.sh: 127.0.0.1:$1 did not answer a Kafka metadata request within 60 s" >&2
  if [ -n "${2:-}" ]; then echo "the end of its log:" >&2; tail -n 40 "$logfile" >&2; fi
  exit 1
}

java_bin() {
  if [ -n "${JAVA_HOME:-}" ] && [ -x "$JAVA_HOME/bin/java" ]; then echo "$JAVA_HOME/bin/java"
  elif command -v java >/dev/null 2>&1; then command -v java
  else echo "kafka-broker.sh: java is not installed; run scripts/kafka-install.sh" >&2; exit 1
  fi
}

# Writes the broker's configuration for data dir $1. Only what differs from Kafka's defaults, or what a one-node
# cluster needs: internal topics default to 3 replicas, which one node cannot place, and to 50 partitions
# (__consumer_offsets), which would make every first consumer group wait while they are created. After a SIGKILL
# the restarted controller refuses the broker's new registration (DUPLICATE_BROKER_REGISTRATION) until the killed
# one's session expires: 9 s by default, so a restart took 14 s; a 4 s session (heartbeats every second, over
# loopback within one process) brings that down to about 8 s while leaving room for a loaded machine.
write_config() {
  local listeners="PLAINTEXT://127.0.0.1:$port"
  [ -n "$sasl_scram" ] && listeners="SASL_PLAINTEXT://127.0.0.1:$port,PLAINTEXT://127.0.0.1:$open_port"
  cat >"$dir/server.properties" <<EOF
# Written by scripts/kafka-broker.sh at each start; edits are lost.
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:$controller_port
listeners=$listeners,CONTROLLER://127.0.0.1:$controller_port
advertised.listeners=$listeners
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,SASL_PLAINTEXT:SASL_PLAINTEXT,CONTROLLER:PLAINTEXT
log.dirs=$1
num.partitions=1
default.replication.factor=1
auto.create.topics.enable=true
offsets.topic.replication.factor=1
offsets.topic.num.partitions=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
transaction.state.log.num.partitions=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
group.initial.rebalance.delay.ms=0
broker.heartbeat.interval.ms=1000
broker.session.timeout.ms=4000
# The log cleaner's dedupe buffer is 128 MB by default, allocated when the broker starts: half of this broker's heap,
# enough to run it out of memory at start (seen in CI). Test topics are small.
log.cleaner.dedupe.buffer.size=16777216
EOF
  if [ -n "$sasl_scram" ]; then
    cat >>"$dir/server.properties" <<EOF
sasl.enabled.mechanisms=SCRAM-SHA-256
listener.name.sasl_plaintext.scram-sha-256.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;
EOF
  fi
}

case "$cmd" in
  start)
    if answers "$port"; then
      wait_for_metadata "$port"
      echo "broker already running on 127.0.0.1:$port (answers metadata requests)"; exit 0
    fi
    if answers "$controller_port"; then
      echo "kafka-broker.sh: port $controller_port (the controller's, --port + 1) is taken; choose another --port" >&2
      exit 1
    fi
    case "$storage" in
      memory) data="$memory_data"; rm -rf "$data" ;;  # leftovers of a killed broker: each start is empty
      disk|sqlite) data="$disk_data"; storage=disk ;;
      *) echo "kafka-broker.sh: --storage must be memory or disk" >&2; exit 2 ;;
    esac
    libs="$(bash "$root/scripts/kafka-install.sh")"
    java="$(java_bin)"
    mkdir -p "$dir" "$data"
    write_config "$data"
    # Format once: a data dir with meta.properties already belongs to a cluster, and formatting it again would
    # fail (or, forced, lose it). The cluster id is a random Kafka Uuid (16 bytes, URL-safe base64, no padding),
    # made here rather than by `kafka-storage random-uuid`, which would cost one more JVM start.
    if [ ! -f "$data/meta.properties" ]; then
      # Never one that starts with '-' (Kafka's own generator avoids them too): the format tool would read it as
      # an option and fail ("--cluster-id: expected one argument"), one start in 64.
      cluster_id="$(python3 -c '
import base64, uuid
while True:
    text = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
    if not text.startswith("-"):
        print(text)
        break
')"
      scram=()
      [ -n "$sasl_scram" ] && scram=(--add-scram "SCRAM-SHA-256=[name=$sasl_user,password=$sasl_password]")
      if ! "$java" -cp "$libs/*" kafka.tools.StorageTool format --cluster-id "$cluster_id" \
           --config "$dir/server.properties" "${scram[@]}" >"$dir/format.log" 2>&1; then
        echo "kafka-broker.sh: formatting $data failed:" >&2; cat "$dir/format.log" >&2; exit 1
      fi
    fi
    # Heap: 384 MB is ample for a test broker with a small cleaner buffer (above); Kafka's own script takes 1 GB.
    # The JVM's resident size after start is about 220 MB, most of it code, metaspace and thread stacks.
    # KAFKA_HEAP_OPTS overrides it, as it does for Kafka's own scripts. The subshell execs the JVM in
    # a session of its own with every stream redirected, so that it holds no caller's pipe open and $! is its pid.
    # One more try when the JVM dies during start-up (seen twice in CI runs with several brokers starting at once,
    # its log ending in the config dump): a test broker that fails to start fails the test, which is the wrong test.
    for attempt in 1 2; do
      ( cd "$dir" && exec setsid "$java" ${KAFKA_HEAP_OPTS:--Xmx384m -Xms128m} -XX:+UseG1GC -XX:MaxGCPauseMillis=20 \
          -Djava.awt.headless=true -Dorg.slf4j.simpleLogger.showDateTime=true \
          -Dorg.slf4j.simpleLogger.dateTimeFormat=yyyy-MM-dd\'T\'HH:mm:ss.SSS -cp "$libs/*" kafka.Kafka "$dir/server.properties" \
          </dev/null >"$logfile" 2>&1 ) &
      echo $! >"$pidfile"
      if wait_for_metadata "$port" "$(cat "$pidfile")"; then break; fi
      rm -f "$pidfile"
      [ "$attempt" = 2 ] && exit 1
      echo "kafka-broker.sh: starting it again" >&2
      sleep 1
    done
    echo "Apache Kafka running on 127.0.0.1:$port, ready ($storage storage in $data, log $logfile)"
    ;;
  stop)
    # SIGTERM runs Kafka's controlled shutdown (it flushes and closes its logs, about 2 s); SIGKILL after 30 s.
    if stop_pidfile "$pidfile" 30; then
      rm -rf "$memory_data"
      echo "Apache Kafka on port $port stopped"
    else
      echo "no broker started by kafka-broker.sh on port $port"
    fi
    ;;
  kill)
    if kill_pidfile "$pidfile"; then
      echo "Apache Kafka on port $port killed (SIGKILL)"
    else
      echo "no broker started by kafka-broker.sh on port $port"
    fi
    ;;
  status)
    if answers "$port"; then echo "listening on 127.0.0.1:$port"; else echo "not listening on 127.0.0.1:$port"; exit 1; fi
    ;;
  *)
    echo "usage: scripts/kafka-broker.sh start|stop|kill|status [--port P] [--storage memory|disk] [--dir DIR] [--sasl-scram USER:PASSWORD]" >&2; exit 2 ;;
esac
