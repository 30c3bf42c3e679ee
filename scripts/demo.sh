#!/usr/bin/env bash
# Sets everything up and runs Sluice's main job: installs what is missing (scripts/setup.sh), starts the local Kafka
# broker on 127.0.0.1:19092 and `sluice serve` (REST API on 127.0.0.1:8080, its database under target/demo), runs
# the user guide's `curl` command that creates the `total-sales` connector (with the local broker's address in
# place of example.com:9092), reads the stored connector back, and streams example changes of the `total_sales`
# view through exactly that connector config into the topic, printing the messages as a consumer reads them.
# The broker and the server keep running afterwards; the script says how to stop them.
set -euo pipefail

source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

bash scripts/broker.sh start --port "$port"
cargo build -p sluice
sluice="$CARGO_TARGET_DIR/debug/sluice"
"$sluice" kafka wait --timeout-secs 60

demo_dir="$root/target/demo"
mkdir -p "$demo_dir"
api="http://localhost:8080"
if curl -fsS "$api/healthz" >/dev/null 2>&1; then
  echo "a server already answers on $api; using it"
else
  setsid "$sluice" serve --data-dir "$demo_dir/data" </dev/null >"$demo_dir/server.log" 2>&1 &
  echo $! >"$demo_dir/server.pid"
  for _ in $(seq 1 100); do curl -fsS "$api/healthz" >/dev/null 2>&1 && break; sleep 0.1; done
  curl -fsS "$api/healthz" >/dev/null || { echo "sluice serve did not start; its log:"; cat "$demo_dir/server.log"; exit 1; }
  echo "sluice serve is listening on $api (log: $demo_dir/server.log)"
fi

echo
echo "== The user guide's curl command (broker address pointed at the local broker):"
sed "s/example.com:9092/127.0.0.1:$port/" crates/sluice/tests/seed/put_connector.sh | tee "$demo_dir/put_connector.sh"
echo
bash "$demo_dir/put_connector.sh"
echo
echo
echo "== GET $api/v0/connectors/total-sales (the config as stored, defaults filled in):"
curl -fsS "$api/v0/connectors/total-sales" | tee "$demo_dir/total-sales.json"
echo
echo
echo "== Streaming three steps of changes of view total_sales through that connector:"
"$sluice" demo --connector-file "$demo_dir/total-sales.json"
echo
echo "Still running: the broker (scripts/broker.sh stop) and the server (kill \$(cat $demo_dir/server.pid))."
echo "Read the topic again with: $sluice kafka consume total-sales"
