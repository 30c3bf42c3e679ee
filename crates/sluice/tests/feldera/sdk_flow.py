# Drives Sluice with Feldera's official Python SDK (`feldera` 0.369.0 from PyPI, unmodified), following the
# SDK's README/tutorial flow: create_or_replace a pipeline from SQL, start it, listen to a view, push rows with
# input_json, read the view's change stream, run an ad-hoc query, read the stats, read the view's Kafka output
# connector, then stop, clear storage and delete the pipeline and check that it is gone.
# It proves that a Feldera user's script runs against Sluice as it is, and that every path (listen, query,
# Kafka) sees the same, correct totals.
#
#   $SLUICE_PYTHON sdk_flow.py <base_url> <kafka_brokers> <topic>
#
# Run by crates/sluice/tests/feldera_sdk.rs. Uses only the SDK's public API; the SDK itself reads an API key
# from FELDERA_API_KEY when one is set. Prints "<step>: ok" per step; any failure raises (exit code 1), and a
# watchdog ends the process with exit code 3 when a step blocks for longer than its limit.
import json
import os
import sys
import threading
import time
import uuid
from collections import Counter
from contextlib import contextmanager

from confluent_kafka import Consumer
from feldera import FelderaClient, Pipeline, PipelineBuilder
from feldera.rest.errors import FelderaAPIError

WAIT_S = 60  # limit of every wait loop of this script and of the SDK's own (timeout_s)
WATCHDOG_S = 120  # a step still running after this long is taken as hung


@contextmanager
def step(name, limit=WATCHDOG_S):
    def expire():
        print(f"{name}: HUNG, no answer after {limit} s (watchdog)", file=sys.stderr, flush=True)
        os._exit(3)

    timer = threading.Timer(limit, expire)
    timer.daemon = True
    timer.start()
    try:
        yield
    except BaseException as e:
        print(f"{name}: FAILED: {type(e).__name__}: {e}", file=sys.stderr, flush=True)
        raise
    finally:
        timer.cancel()
    print(f"{name}: ok", flush=True)


def check(cond, message):
    if not cond:
        raise AssertionError(message)


def fold(changes):
    """Applies (row, weight) changes to a multiset; returns {row: weight} for the non-zero weights."""
    state = Counter()
    for row, weight in changes:
        state[row] += weight
    return {row: w for row, w in state.items() if w != 0}


def totals_row(r):
    return (str(r["customer"]), int(r["total"]), int(r["n"]))


def main(base_url, brokers, topic):
    sql = f"""
CREATE TABLE purchases (id BIGINT NOT NULL, customer VARCHAR NOT NULL, amount BIGINT NOT NULL);
CREATE MATERIALIZED VIEW totals WITH ('connectors' = '[{{"name": "to_kafka",
    "transport": {{"name": "kafka_output", "config": {{"bootstrap.servers": "{brokers}", "topic": "{topic}",
        "create_topic": {{"partitions": 1}}}}}},
    "format": {{"name": "json", "config": {{"update_format": "insert_delete", "array": false}}}}}}]')
AS SELECT customer, SUM(amount) AS total, COUNT(*) AS n FROM purchases GROUP BY customer;
"""
    batch = [
        {"id": 1, "customer": "alice", "amount": 10},
        {"id": 2, "customer": "bob", "amount": 5},
        {"id": 3, "customer": "alice", "amount": 7},
    ]
    single = {"id": 4, "customer": "bob", "amount": 20}
    expected = {}
    for r in batch + [single]:
        total, n = expected.get(r["customer"], (0, 0))
        expected[r["customer"]] = (total + r["amount"], n + 1)
    expected = {(c, t, n): 1 for c, (t, n) in expected.items()}  # {("alice", 17, 2): 1, ("bob", 25, 2): 1}

    with step("connect"):
        client = FelderaClient(base_url)
    with step("create_or_replace"):
        pipeline = PipelineBuilder(client, name="sdk_flow", sql=sql).create_or_replace()
    with step("start"):
        pipeline.start(timeout_s=WAIT_S)
    with step("listen"):
        out = pipeline.listen("totals")
    with step("input_json (array of 3)"):
        pipeline.input_json("purchases", batch, wait_timeout_s=WAIT_S)
    with step("input_json (single row)"):
        pipeline.input_json("purchases", single, wait_timeout_s=WAIT_S)
    with step("wait_for_completion"):
        pipeline.wait_for_completion(timeout_s=WAIT_S)

    with step("listen output"):
        changes, deadline = [], time.monotonic() + WAIT_S
        while True:
            records = out.to_dict()  # clears the handle's buffer; the changes accumulate here
            changes += [(totals_row(r), int(r.get("insert_delete", 1))) for r in records]
            got = fold(changes)
            if got == expected:
                break
            check(time.monotonic() < deadline, f"listen('totals') gave {got} after {WAIT_S} s, "
                  f"expected {sorted(expected)}; changes: {changes}")
            time.sleep(0.2)

    with step("query"):
        rows = [totals_row(r) for r in pipeline.query("SELECT customer, total, n FROM totals ORDER BY customer")]
        check(rows == sorted(expected), f"query gave {rows}, expected {sorted(expected)}")

    with step("stats"):
        metrics = pipeline.stats().global_metrics
        check(metrics.total_input_records == 4,
              f"stats: total_input_records = {metrics.total_input_records!r}, expected 4")

    with step("kafka output"):
        read_kafka(brokers, topic, expected)

    with step("stop"):
        pipeline.stop(force=True, timeout_s=WAIT_S)
    with step("clear_storage"):
        pipeline.clear_storage(timeout_s=WAIT_S)
    with step("delete"):
        pipeline.delete()
    with step("gone"):
        try:
            found = Pipeline.get("sdk_flow", client)
        except FelderaAPIError as e:
            check(e.status_code == 404, f"Pipeline.get after delete: HTTP {e.status_code}, expected 404: {e}")
        else:
            # Pipeline.get returns None (swallowing the error) on a non-404 error.
            raise AssertionError(f"Pipeline.get after delete returned {found!r} instead of raising a 404")


def read_kafka(brokers, topic, expected):
    """Reads the topic from the start until the folded totals equal `expected` and no message came for 3 s."""
    consumer = Consumer({
        "bootstrap.servers": brokers,
        "group.id": f"sdk-flow-{uuid.uuid4()}",
        "auto.offset.reset": "earliest",
        "enable.auto.commit": False,
    })
    consumer.subscribe([topic])
    changes, last_error, messages = [], None, 0
    deadline, quiet_since = time.monotonic() + WAIT_S, time.monotonic()
    try:
        while True:
            got = fold(changes)
            if got == expected and time.monotonic() - quiet_since >= 3:
                return
            check(time.monotonic() < deadline, f"Kafka topic {topic}: totals {got} after {WAIT_S} s "
                  f"({messages} messages, last error {last_error}), expected {sorted(expected)}")
            msg = consumer.poll(0.5)
            if msg is None:
                continue
            if msg.error():
                last_error = msg.error()  # e.g. the topic does not exist yet: keep polling
                continue
            messages += 1
            quiet_since = time.monotonic()
            # One change per message ("array": false); tolerate several, newline-separated or as an array.
            text = msg.value().decode()
            docs = [json.loads(line) for line in text.splitlines() if line.strip()]
            for doc in (d for x in docs for d in (x if isinstance(x, list) else [x])):
                check(len(doc) == 1 and next(iter(doc)) in ("insert", "delete"),
                      f"Kafka message is not an insert/delete change: {text}")
                kind, row = next(iter(doc.items()))
                changes.append((totals_row(row), 1 if kind == "insert" else -1))
    finally:
        consumer.close()


if __name__ == "__main__":
    if len(sys.argv) != 4:
        sys.exit("usage: sdk_flow.py <base_url> <kafka_brokers> <topic>")
    main(*sys.argv[1:])
    print("sdk_flow: all steps ok", flush=True)
