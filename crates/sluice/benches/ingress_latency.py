#!/usr/bin/env python3
"""HTTP ingress latency with and without the input journal, measured in one run against one `sluice serve`.

Run: python3 crates/sluice/benches/ingress_latency.py [path/to/sluice]   (default target/debug/sluice;
build it first: cargo build --workspace --all-features). Needs Python's `requests` (scripts/setup.sh installs it).

One server, one program (a table and a SUM view), two pipelines on it: `none` and `at_least_once` (checkpoint
interval 3600 s, so no checkpoint falls in the run). One client with a kept-alive connection sends 2,000 requests of
one record to each, alternating between the two pipelines request by request (so both see the same machine), after
200 warm-up requests each. Each request's time is from sending to the 200 answer. Prints p50 / p99 / max per
pipeline and the difference: what the journal's write and fdatasync add to an acknowledged request.
"""

import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time

import requests

WARMUP = 200
REQUESTS = 2000


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait(check, what, timeout=120):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if check():
            return
        time.sleep(0.1)
    sys.exit(f"timed out waiting for {what}")


def main():
    binary = sys.argv[1] if len(sys.argv) > 1 else "target/debug/sluice"
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    with tempfile.TemporaryDirectory() as data:
        server = subprocess.Popen(
            [binary, "serve", "--port", str(port), "--data-dir", data],
            env={**os.environ, "SLUICE_LOG": "warn"},
            stdout=subprocess.DEVNULL,
        )
        try:
            run(base)
        finally:
            server.terminate()
            server.wait(timeout=60)


def run(base):
    http = requests.Session()

    def healthy():
        try:
            return http.get(f"{base}/healthz", timeout=1).status_code == 200
        except requests.RequestException:
            return False

    wait(healthy, "the server")
    code = "CREATE TABLE t (id BIGINT NOT NULL, x BIGINT NOT NULL); CREATE VIEW v AS SELECT SUM(x) AS s FROM t;"
    http.put(f"{base}/v0/programs/prog", json={"description": "", "code": code}).raise_for_status()
    wait(lambda: http.get(f"{base}/v0/programs/prog").json()["status"] == "Success", "the program")
    models = {"none": "none", "at_least_once": "at_least_once"}
    for name, model in models.items():
        body = {"description": "", "program_name": "prog",
                "config": {"fault_tolerance": {"model": model, "checkpoint_interval_secs": 3600}}}
        http.put(f"{base}/v0/pipelines/{name}", json=body).raise_for_status()
        http.post(f"{base}/v0/pipelines/{name}/start").raise_for_status()
        wait(lambda: http.get(f"{base}/v0/pipelines/{name}").json()["state"]["current_status"] == "Running",
             f"pipeline {name}")

    times = {name: [] for name in models}
    for i in range(WARMUP + REQUESTS):
        for name in models:
            record = json.dumps({"insert": {"id": i, "x": 1}})
            started = time.perf_counter()
            answer = http.post(f"{base}/v0/pipelines/{name}/ingress/t?format=json", data=record)
            elapsed = time.perf_counter() - started
            if answer.status_code != 200:
                sys.exit(f"{name}: {answer.status_code} {answer.text}")
            if i >= WARMUP:
                times[name].append(elapsed * 1000)

    print(f"HTTP ingress, one record per request, {REQUESTS} requests per pipeline (ms)")
    summary = {}
    for name, t in times.items():
        t.sort()
        p50, p99 = statistics.median(t), t[int(len(t) * 0.99) - 1]
        summary[name] = (p50, p99)
        print(f"  {name:14} p50 {p50:.3f}  p99 {p99:.3f}  max {t[-1]:.3f}")
    (n50, n99), (d50, d99) = summary["none"], summary["at_least_once"]
    print(f"  the journal adds: p50 {d50 - n50:+.3f} ms, p99 {d99 - n99:+.3f} ms")


if __name__ == "__main__":
    main()
