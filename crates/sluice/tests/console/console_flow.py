"""The console flow of crates/sluice/tests/console_e2e.rs: a user's session in headless Chromium, driven by
Playwright, every check on the DOM. Argument: the test's settings as JSON. Lines starting with '@' on stdout ask
the test to act (crash or restart the broker) and wait for its 'ok' on stdin."""

import json
import re
import sys
from pathlib import Path

from playwright.sync_api import expect, sync_playwright

settings = json.loads(sys.argv[1])
BASE = settings["base"]
SHOTS = Path(settings["screenshots"])
BATCHES = [Path(p).read_text() for p in settings["batches"]]
TIMEOUT = 60_000

PROGRAM_WITH_ERROR = """CREATE TABLE orders (id BIGINT NOT NULL, customer VARCHAR NOT NULL, amount BIGINT NOT NULL);

CREATE VIEW totals AS
SELECT customer, COUNT(*) AS n, SUM(amont) AS total
FROM orders
GROUP BY customer;
"""
PROGRAM = PROGRAM_WITH_ERROR.replace("amont", "amount")


def connector_config(topic):
    return json.dumps({
        "transport": {"name": "kafka_output",
                      "config": {"bootstrap.servers": settings["brokers"], "topic": topic,
                                 "message.timeout.ms": "600000"}},
        "format": {"name": "json", "config": {"update_format": "insert_delete"}},
    }, indent=2)


def say(line):
    print(line, flush=True)


def ask(request):
    """Asks the Rust test to do something only it can (the broker is its) and waits until it is done."""
    say(request)
    answer = sys.stdin.readline().strip()
    assert answer == "ok", f"the test answered {answer!r} to {request}"


def shot(page, name):
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


# HTTP errors this flow provokes on purpose (Chromium logs each failed fetch as a console error): the connector
# refused for its topic, and /stats of a pipeline that has just stopped. Anything else fails the test.
EXPECTED_HTTP_ERRORS = [
    (re.compile(r"/v0/connectors$"), 400),
    (re.compile(r"/v0/pipelines/orders_pipe/stats$"), 404),
]
problems = []


def on_console(message):
    if message.type not in ("error", "warning"):
        return
    status = re.search(r"status of (\d+)", message.text)
    url = message.location.get("url", "")
    if status and any(p.search(url) and int(status.group(1)) == s for p, s in EXPECTED_HTTP_ERRORS):
        return
    problems.append(f"console {message.type}: {message.text} at {url}")


with sync_playwright() as playwright:
    browser = playwright.chromium.launch(executable_path=settings["chromium"], args=["--no-sandbox"])
    page = browser.new_page(viewport={"width": 1366, "height": 900})
    page.set_default_timeout(TIMEOUT)
    expect.set_options(timeout=TIMEOUT)
    page.on("console", on_console)
    page.on("pageerror", lambda e: problems.append(f"uncaught: {e}"))

    # The server wants a key: the console asks for it before anything else.
    page.goto(BASE + "/")
    dialog = page.locator("#key-dialog")
    expect(dialog).to_be_visible()
    page.fill("#key-input", settings["key"])
    page.keyboard.press("Enter")
    expect(dialog).to_be_hidden()
    expect(page.locator("h1")).to_have_text("Pipelines")
    say("key accepted")

    # A program with an error: marked at its line and column; then fixed, compiled, its schema shown.
    page.click("nav >> text=Programs")
    page.click("text=New program")
    page.fill("input[name=name]", "orders_app")
    page.fill("textarea.code-input", PROGRAM_WITH_ERROR)
    page.click("button:has-text('Save and compile')")
    expect(page.locator("#compile-status")).to_have_attribute("data-status", "SqlError")
    marker = page.locator(".code-markers li.marker-error").first
    expect(marker).to_have_attribute("data-line", "4")
    expect(marker).to_contain_text("amont")
    expect(page.locator(".gutter-line.has-error")).to_have_text(["4"])
    marker.click()
    caret = page.eval_on_selector("textarea.code-input", "t => t.value.slice(0, t.selectionStart).split('\\n').length")
    assert caret == 4, f"clicking the error put the caret on line {caret}"
    shot(page, "program-error")
    page.fill("textarea.code-input", PROGRAM)
    page.locator("textarea.code-input").press("Control+Enter")
    expect(page.locator("#compile-status")).to_have_attribute("data-status", "Success")
    expect(page.locator(".code-markers li.marker-error")).to_have_count(0)
    expect(page.locator("#schema [data-relation=orders][data-kind=table]")).to_contain_text("BIGINT NOT NULL")
    expect(page.locator("#schema [data-relation=totals][data-kind=view]")).to_contain_text("total")
    shot(page, "program")
    say("program compiled")

    # A connector whose topic is not a valid Kafka topic name: refused when created, marked at the field.
    page.click("nav >> text=Connectors")
    page.click("text=New connector")
    page.fill("input[name=name]", "to_kafka")
    page.fill("textarea.code-input", connector_config("no spaces allowed"))
    page.click("button:has-text('Create connector')")
    expect(page.locator("#connector-error")).to_contain_text("config.transport.config.topic")
    topic_line = next(i for i, line in enumerate(connector_config("x").splitlines(), 1) if '"topic"' in line)
    error_marker = page.locator(".code-markers li.marker-error")
    expect(error_marker).to_have_attribute("data-line", str(topic_line))
    expect(page.locator(".gutter-line.has-error")).to_have_text([str(topic_line)])
    shot(page, "connector-error")
    page.fill("textarea.code-input", connector_config(settings["topic"]))
    page.click("button:has-text('Create connector')")
    expect(page).to_have_url(re.compile(r"#/connectors/to_kafka$"))
    expect(page.locator("h1")).to_have_text("to_kafka")
    shot(page, "connector")
    # A secret is stored sealed and shown masked.
    page.click("nav >> text=Connectors")
    page.click("text=New connector")
    page.fill("input[name=name]", "with_secret")
    secret = json.loads(connector_config("elsewhere"))
    secret["transport"]["config"].update({"security.protocol": "sasl_plaintext", "sasl.mechanism": "PLAIN",
                                          "sasl.username": "u", "sasl.password": "hunter2-secret"})
    page.fill("textarea.code-input", json.dumps(secret, indent=2))
    page.click("button:has-text('Create connector')")
    expect(page).to_have_url(re.compile(r"#/connectors/with_secret$"))
    expect(page.locator("textarea.code-input")).to_have_value(re.compile(r'"sasl.password": "\*{8}"'))
    assert "hunter2-secret" not in page.content(), "the secret is shown"
    say("connectors made")

    # A pipeline: the program, the connector on the view.
    page.click("nav >> text=Pipelines")
    page.click("text=New pipeline")
    page.fill("input[name=name]", "orders_pipe")
    page.select_option("select[name=program_name]", "orders_app")
    page.click("text=Attach a connector")
    row = page.locator("tr.attachment").first
    row.locator("select[aria-label=Connector]").select_option("to_kafka")
    row.locator("select[aria-label='Table or view']").select_option("totals")
    page.click("button:has-text('Create pipeline')")
    expect(page).to_have_url(re.compile(r"#/pipelines/orders_pipe$"))

    # Start it; push input; the plots show throughput.
    page.click("#pipeline-actions button[data-action=start]")
    expect(page.locator("#pipeline-status")).to_have_attribute("data-status", "Running")
    expect(page.locator("#connectors tr[data-connector=to_kafka] td.health")).to_have_attribute("data-state", "running")
    page.fill("#input-form textarea", BATCHES[0])
    page.click("#input-form button[type=submit]")
    expect(page.locator("#input-form .input-result")).to_have_text("Accepted 200 records.")
    for plot, series in [("input", "orders"), ("acked", "to_kafka"), ("acked-bytes", "to_kafka"), ("steps", "steps")]:
        value = page.locator(f"[data-plot={plot}] li[data-series='{series}'] .value")
        page.wait_for_function("el => Number(el.dataset.peak) > 0", arg=value.element_handle())
    say("throughput shown")

    # The change table: what the view emits from now on.
    page.select_option("select[aria-label=View]", "totals")
    page.click("button:has-text('Watch')")
    expect(page.locator("[data-watch] p[role=status]")).to_contain_text("Watching totals")
    page.fill("#input-form textarea", BATCHES[1])
    page.click("#input-form button[type=submit]")
    expect(page.locator("#input-form .input-result")).to_have_text("Accepted 3 records.")
    zed = page.locator("#changes tbody tr.insert", has_text="zed")
    expect(zed).to_have_count(1)
    expect(zed.locator("td")).to_have_text([re.compile(r"\d+"), "+", "zed", "3", str(sum(i % 97 for i in range(200, 203)))])
    shot(page, "pipeline-changes")
    say("changes shown")

    # The broker crashes: the connector is marked stalled, on the plots too; input still goes in.
    ask("@broker down")
    page.fill("#input-form textarea", BATCHES[2])
    page.click("#input-form button[type=submit]")
    expect(page.locator("#input-form .input-result")).to_have_text("Accepted 100 records.")
    health = page.locator("#connectors tr[data-connector=to_kafka] td.health")
    expect(health).to_have_attribute("data-state", "stalled")
    stalled = page.locator("#periods li[data-kind=stalled]").first
    expect(stalled).to_contain_text("to_kafka")
    expect(stalled).to_contain_text("since")
    shot(page, "pipeline-stalled")
    # The list, in a second tab (which asks for the key again: it is kept per tab), shows the problem at a glance.
    other = browser.new_page(viewport={"width": 1366, "height": 900})
    other.on("console", on_console)
    other.on("pageerror", lambda e: problems.append(f"uncaught: {e}"))
    other.goto(BASE + "/#/pipelines")
    other.fill("#key-input", settings["key"])
    other.keyboard.press("Enter")
    expect(other.locator("tr[data-pipeline=orders_pipe] td.problem")).to_contain_text("stalled")
    shot(other, "pipelines-stalled")
    other.close()
    say("stall shown")

    # It comes back: the connector recovers and delivers what waited; the stalled period stays marked, closed.
    ask("@broker up")
    health = page.locator("#connectors tr[data-connector=to_kafka] td.health")
    expect(health).to_have_attribute("data-state", "running")
    expect(page.locator("#connectors tr[data-connector=to_kafka] td[data-field=in-flight]")).to_have_text("0")
    expect(page.locator("#periods li[data-kind=stalled]").first).to_contain_text("–")
    # More input, a part a second, for the plots to show a stream (and the README its screenshot).
    lines = BATCHES[3].splitlines()
    for part in range(5):
        page.fill("#input-form textarea", "\n".join(lines[part::5]))
        page.click("#input-form button[type=submit]")
        expect(page.locator("#input-form .input-result")).to_have_text(f"Accepted {len(lines[part::5])} records.")
        page.wait_for_timeout(1000)
    expect(page.locator("#connectors tr[data-connector=to_kafka] td[data-field=in-flight]")).to_have_text("0")
    page.wait_for_timeout(1500)
    page.evaluate("window.scrollTo(0, 0)")
    page.screenshot(path=str(SHOTS / "pipeline.png"))
    shot(page, "pipeline-full")
    say("recovered")

    # Stop it from the list.
    page.click("nav >> text=Pipelines")
    page.click("tr[data-pipeline=orders_pipe] button[data-action=stop]")
    expect(page.locator("tr[data-pipeline=orders_pipe] td.status")).to_have_text("Shutdown")
    # Keyboard focus survives the list's refresh every two seconds.
    page.focus("tr[data-pipeline=orders_pipe] button[data-action=start]")
    page.wait_for_timeout(4500)
    focused = page.evaluate("document.activeElement.dataset.action + '/' + document.activeElement.closest('tr')?.dataset.pipeline")
    assert focused == "start/orders_pipe", f"focus moved to {focused}"
    # A pipeline written through Feldera's current API is listed too, tagged.
    answer = page.request.put(BASE + "/v0/pipelines/sql_pipe", headers={"Authorization": f"Bearer {settings['key']}"},
                              data={"name": "sql_pipe", "program_code": "CREATE TABLE t (x INT);\nCREATE VIEW v AS SELECT x FROM t;"})
    assert answer.ok, answer.text()
    expect(page.locator("tr[data-pipeline=sql_pipe] .tag")).to_have_text("SQL + WITH")
    expect(page.locator("tr[data-pipeline=sql_pipe] td.status")).to_have_text("Stopped")
    shot(page, "pipelines")
    browser.close()

assert not problems, "\n".join(problems)
say("done")
