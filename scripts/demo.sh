#!/usr/bin/env bash
# Sets everything up and runs Sluice's main job: the book fair, end to end through the REST API.
#
# Installs what is missing (scripts/setup.sh), starts the local Kafka broker on 127.0.0.1:19092 and `sluice serve`
# (REST API on 127.0.0.1:8080, its database under target/demo), then, with nothing but curl:
#   1. creates the `book-fair` program (tables books and sales, view total_sales) and waits until it compiles;
#   2. runs the user guide's curl command that creates the `total-sales` connector (pointed at the local broker);
#   3. creates a `kafka_input` connector reading sales from the `book-sales` topic;
#   4. creates the `fair` pipeline, starts it and waits until it runs;
#   5. sends books over HTTP ingress and sales through Kafka, then an update and a delete;
#   6. prints the pipeline's stats and the `total-sales` topic as a consumer reads it.
# The broker and the server keep running afterwards; the script says how to stop them. Running it again starts
# from a clean pipeline (shut down, topics recreated).
set -euo pipefail

source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

bash scripts/broker.sh start --port "$port"
cargo build -p sluice
sluice="$CARGO_TARGET_DIR/debug/sluice"
export SLUICE_KAFKA_BROKERS="127.0.0.1:$port"
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

# Prints a step's title.
step() { printf '\n== %s\n' "$*"; }
# curl that fails on an HTTP error and shows the server's JSON error.
call() {
  local out status
  out=$(curl -sS -w '\n%{http_code}' "$@")
  status=${out##*$'\n'}
  out=${out%$'\n'*}
  [ -n "$out" ] && echo "$out"
  if [ "$status" -ge 400 ]; then echo "HTTP $status" >&2; exit 1; fi
}
# Polls a JSON field of a GET until it has the wanted value.
wait_for() {
  local path=$1 filter=$2 want=$3 got=""
  for _ in $(seq 1 300); do
    got=$(curl -fsS "$api$path" | python3 -c "import json,sys; d=json.load(sys.stdin); print(json.dumps($filter))")
    [ "$got" = "$want" ] && return 0
    sleep 0.2
  done
  echo "timed out waiting for $path: $filter is $got, wanted $want" >&2
  exit 1
}

# A clean slate: the pipeline shut down, both topics empty.
if curl -fsS "$api/v0/pipelines/fair" >/dev/null 2>&1; then
  curl -fsS -X POST "$api/v0/pipelines/fair/shutdown" >/dev/null
  wait_for /v0/pipelines/fair 'd["state"]["current_status"]' '"Shutdown"'
  # Its checkpoints and journal too: the demo starts from empty views (docs/fault-tolerance.md).
  curl -fsS -X POST "$api/v0/pipelines/fair/clear" >/dev/null
fi
for topic in total-sales book-sales; do
  "$sluice" kafka delete-topic "$topic" >/dev/null
  "$sluice" kafka create-topic "$topic" >/dev/null
done

step "PUT /v0/programs/book-fair: the SQL of examples/book-fair.sql"
grep -v '^--' examples/book-fair.sql
python3 -c 'import json, sys; print(json.dumps({"description": "Revenue per book at the book fair", "code": open(sys.argv[1]).read()}))' \
  examples/book-fair.sql | call -X PUT "$api/v0/programs/book-fair" -H 'Content-Type: application/json' -d @-
wait_for /v0/programs/book-fair 'd["status"]' '"Success"'
echo "compiled: status Success"

step "The user guide's curl command (broker address pointed at the local broker):"
sed "s/example.com:9092/127.0.0.1:$port/" crates/sluice/tests/seed/put_connector.sh | tee "$demo_dir/put_connector.sh"
echo
bash "$demo_dir/put_connector.sh"
echo

step "PUT /v0/connectors/book-sales: sales arrive on a Kafka topic"
call -X PUT "$api/v0/connectors/book-sales" -H 'Content-Type: application/json' -d @- <<EOF
{"description": "Sales from the tills",
 "config": {"transport": {"name": "kafka_input",
                          "config": {"bootstrap.servers": "127.0.0.1:$port", "topics": ["book-sales"], "auto.offset.reset": "earliest"}},
            "format": {"name": "json", "config": {"update_format": "insert_delete"}}}}
EOF

step "PUT /v0/pipelines/fair, then start it"
call -X PUT "$api/v0/pipelines/fair" -H 'Content-Type: application/json' -d @- <<'EOF'
{"description": "The book fair", "program_name": "book-fair",
 "connectors": [
   {"name": "total-sales", "is_input": false, "connector_name": "total-sales", "relation_name": "total_sales"},
   {"name": "book-sales", "is_input": true, "connector_name": "book-sales", "relation_name": "sales"}]}
EOF
call -X POST "$api/v0/pipelines/fair/start"
wait_for /v0/pipelines/fair 'd["state"]["current_status"]' '"Running"'
echo "pipeline fair: Running"

step "POST /v0/pipelines/fair/ingress/books (HTTP input, CSV)"
call -X POST "$api/v0/pipelines/fair/ingress/books?format=csv" --data-binary @- <<'EOF'
1,The Rust Programming Language,39.99
2,Designing Data-Intensive Applications,44.95
EOF
wait_for /v0/pipelines/fair/stats 'd["global_metrics"]["total_processed_records"]' 2

step "Sales through Kafka: sluice kafka produce book-sales"
"$sluice" kafka produce book-sales <<'EOF'
{"insert": {"book_id": 1, "copies": 3}}
{"insert": {"book_id": 2, "copies": 2}}
EOF
wait_for /v0/pipelines/fair/stats 'd["global_metrics"]["total_processed_records"]' 4
"$sluice" kafka produce book-sales <<'EOF'
{"insert": {"book_id": 1, "copies": 2}}
EOF
wait_for /v0/pipelines/fair/stats 'd["global_metrics"]["total_processed_records"]' 5

step "A price change (insert by primary key replaces the row) and a returned sale (delete)"
call -X POST "$api/v0/pipelines/fair/ingress/books?format=json&update_format=insert_delete" --data-binary \
  '{"insert": {"id": 2, "title": "Designing Data-Intensive Applications", "price": 39.95}}'
wait_for /v0/pipelines/fair/stats 'd["global_metrics"]["total_processed_records"]' 6
"$sluice" kafka produce book-sales <<'EOF'
{"delete": {"book_id": 2, "copies": 2}}
EOF
wait_for /v0/pipelines/fair/stats 'd["global_metrics"]["total_processed_records"]' 7

step "A bad record is rejected with the reason, and nothing of its request is applied"
curl -sS -X POST "$api/v0/pipelines/fair/ingress/sales?format=json&update_format=raw" --data-binary \
  $'{"book_id": 1, "copies": 1}\n{"book_id": 1, "copies": "many"}'
echo

step "GET /v0/pipelines/fair/stats (global, and per output connector)"
curl -fsS "$api/v0/pipelines/fair/stats" | python3 -c "$(cat <<'PY'
import json, sys
s = json.load(sys.stdin)
g = s["global_metrics"]
print(f"state {g['state']}, steps {g['steps']}, input records {g['total_input_records']}, "
      f"processed {g['total_processed_records']}, view changes {g['total_output_records']}")
for i in s["inputs"]:
    print(f"  table {i['table']}: {i['total_records']} records accepted, {i['num_parse_errors']} rejected")
for i in s["input_connectors"]:
    print(f"  input connector {i['endpoint_name']}: {i['total_messages']} messages, {i['total_records']} records")
for o in s["outputs"]:
    t = o["transport"]
    print(f"  output connector {o['endpoint_name']}: {o['processed_records']} records encoded, "
          f"{t['transmitted_messages']} messages acknowledged by Kafka, {o['queued_records']} queued")
PY
)"

step "Shut the pipeline down (flushes the output), then read topic total-sales as a consumer sees it:"
call -X POST "$api/v0/pipelines/fair/shutdown"
wait_for /v0/pipelines/fair 'd["state"]["current_status"]' '"Shutdown"'
"$sluice" kafka consume total-sales --min 7 --timeout-secs 20
echo
echo "Still running: the broker (scripts/broker.sh stop) and the server (kill \$(cat $demo_dir/server.pid))."
echo "Start the pipeline again with: curl -X POST $api/v0/pipelines/fair/start"
echo "The web console: $api/ (docs/console.md)."
