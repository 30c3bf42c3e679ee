// The live part of a pipeline page: /stats read every second and drawn as plots (input records/s per table,
// acknowledged messages and bytes/s per output connector, queued and in-flight, steps/s) with the periods a
// connector was stalled or failed marked on the time axis; the health of every connector; an input box; and the
// last changes of a view from its egress stream.

import { get, call, stream, seg } from './api.js';
import { h, replace, compact, bytes, clock, badge, stateKind, sqlName } from './dom.js';
import { TimeChart } from './chart.js';

const HISTORY_CHANGES = 100;

/** Sluice's stats and Feldera's ControllerStatus (current-API pipelines) in one shape. */
export function normalize(stats) {
  const g = stats.global_metrics ?? {};
  const sluice = (stats.outputs ?? []).some((o) => o.transport) || g.steps !== undefined;
  if (sluice) {
    return {
      state: g.state,
      error: g.error,
      stalledSince: g.stalled_since_ms ?? null,
      stallReason: g.stall_reason ?? null,
      steps: g.steps ?? 0,
      inputs: (stats.inputs ?? []).map((t) => ({ table: t.table, records: t.total_records, bytes: t.total_bytes, buffered: t.buffered_records, errors: t.num_parse_errors })),
      outputs: (stats.outputs ?? []).map((o) => ({
        name: o.endpoint_name, relation: o.view, transport: o.transport_name,
        acked: o.transport?.transmitted_messages ?? 0, ackedBytes: o.transport?.transmitted_bytes ?? 0,
        inFlight: o.transport?.in_flight_messages ?? 0, queued: o.queued_records ?? 0,
        failedMessages: o.transport?.failed_messages ?? 0, encodeErrors: o.num_encode_errors ?? 0,
        health: o.fatal_error ? { state: 'failed', error: o.fatal_error } : (o.transport?.health ?? { state: 'running' }),
      })),
      inputConnectors: (stats.input_connectors ?? []).map((i) => ({
        name: i.endpoint_name, relation: i.table, transport: i.transport?.transport_name ?? 'input',
        records: i.total_records, pending: i.pending_records, rejected: i.num_rejected_messages,
        health: i.fatal_error ? { state: 'failed', error: i.fatal_error } : (i.transport?.health ?? { state: 'running' }),
      })),
    };
  }
  const byTable = new Map();
  // `{table}.api-ingress` counts every record its table took, from connectors too: the other endpoints would
  // count them twice.
  for (const i of (stats.inputs ?? []).filter((e) => String(e.endpoint_name).endsWith('.api-ingress'))) {
    const t = byTable.get(i.config?.stream) ?? { table: i.config?.stream, records: 0, bytes: 0, buffered: 0, errors: 0 };
    t.records += i.metrics?.total_records ?? 0;
    t.bytes += i.metrics?.total_bytes ?? 0;
    t.buffered += i.metrics?.buffered_records ?? 0;
    t.errors += i.metrics?.num_parse_errors ?? 0;
    byTable.set(t.table, t);
  }
  return {
    state: g.state,
    error: null,
    stalledSince: null,
    stallReason: null,
    steps: g.total_completed_steps ?? null,
    inputs: [...byTable.values()],
    outputs: (stats.outputs ?? []).map((o) => ({
      name: o.endpoint_name, relation: o.config?.stream, transport: 'output',
      acked: o.metrics?.transmitted_records ?? 0, ackedBytes: o.metrics?.transmitted_bytes ?? 0,
      inFlight: o.metrics?.buffered_records ?? 0, queued: o.metrics?.queued_records ?? 0,
      failedMessages: 0, encodeErrors: o.metrics?.num_encode_errors ?? 0,
      health: o.fatal_error ? { state: 'failed', error: o.fatal_error } : { state: 'running' },
    })),
    inputConnectors: [],
  };
}

/** Per-second rate of a counter between two readings; null on the first. */
function rate(now, before, seconds) {
  return before === undefined || seconds <= 0 ? null : Math.max(0, now - before) / seconds;
}

/**
 * Remembers when each connector (and the pipeline) was stalled or failed, so the plots can shade the periods even
 * after they ended: a band opens at the `since_ms` the server reports and closes at the first reading without it.
 */
class Periods {
  constructor() {
    this.open = new Map();
    this.closed = [];
  }

  observe(key, kind, since, label, now) {
    const id = `${key}:${kind}`;
    const band = this.open.get(id);
    if (since === null) {
      if (band) {
        band.to = now;
        this.closed.push(band);
        this.open.delete(id);
      }
      return;
    }
    if (!band) this.open.set(id, { from: since, to: null, kind, label });
    else band.label = label;
  }

  /** Ends every open period not seen in this reading. */
  sweep(seen, now) {
    for (const [id, band] of this.open) {
      if (!seen.has(id)) {
        band.to = now;
        this.closed.push(band);
        this.open.delete(id);
      }
    }
  }

  bands(windowStart) {
    this.closed = this.closed.filter((b) => b.to >= windowStart).slice(-50);
    return [...this.closed, ...this.open.values()];
  }
}

function healthCell(health) {
  const reason = health.reason ?? health.error ?? '';
  return h('td', { class: 'health', dataset: { state: health.state } }, badge(health.state, stateKind(health.state)),
    reason ? h('span', { class: health.state === 'failed' ? 'error-text' : 'warn-text', text: ` ${reason}` }) : null,
    health.since_ms ? h('small', { class: 'muted', text: ` since ${clock(health.since_ms)}` }) : null);
}

function connectorTable(s) {
  const rows = [
    ...s.outputs.map((o) => h('tr', { dataset: { connector: o.name, direction: 'output' } },
      h('th', { scope: 'row', text: o.name }), h('td', { text: `→ ${o.relation}` }), h('td', { text: o.transport }), healthCell(o.health),
      h('td', { class: 'num', dataset: { field: 'acked' }, text: compact(o.acked) }), h('td', { class: 'num', text: bytes(o.ackedBytes) }),
      h('td', { class: 'num', dataset: { field: 'in-flight' }, text: compact(o.inFlight) }), h('td', { class: 'num', text: compact(o.queued) }),
      h('td', { class: 'num', text: compact(o.failedMessages + o.encodeErrors) }))),
    ...s.inputConnectors.map((i) => h('tr', { dataset: { connector: i.name, direction: 'input' } },
      h('th', { scope: 'row', text: i.name }), h('td', { text: `← ${i.relation}` }), h('td', { text: i.transport }), healthCell(i.health),
      h('td', { class: 'num', text: compact(i.records) }), h('td', { class: 'num', text: '–' }),
      h('td', { class: 'num', text: compact(i.pending) }), h('td', { class: 'num', text: '–' }), h('td', { class: 'num', text: compact(i.rejected) }))),
  ];
  return rows.length ? rows : [h('tr', {}, h('td', { colspan: 9, class: 'muted', text: 'No connector attached: input over HTTP below, changes in the watch below.' }))];
}

/** The plots, connector health, input box and change table of a running pipeline. */
export function livePanel(container, pipeline, schema) {
  const plots = h('div', { class: 'plots', id: 'plots' });
  const chart = (key, title, format) => {
    const holder = h('div', { class: 'plot', dataset: { plot: key } });
    plots.append(holder);
    return new TimeChart(holder, { title, format, bandList: false });
  };
  const charts = {
    input: chart('input', 'Input records/s (per table)', (v) => `${compact(v)}/s`),
    acked: chart('acked', 'Acknowledged messages/s (per output connector)', (v) => `${compact(v)}/s`),
    ackedBytes: chart('acked-bytes', 'Acknowledged bytes/s (per output connector)', (v) => `${bytes(Math.round(v))}/s`),
    backlog: chart('backlog', 'Queued records and in-flight messages', compact),
    steps: chart('steps', 'Steps/s', (v) => `${compact(v)}/s`),
  };
  const connectors = h('tbody');
  const stateLine = h('p', { class: 'live-state', role: 'status' });
  const periodList = h('ul', { class: 'chart-bands', id: 'periods', 'aria-label': 'Stalled and failed periods' });
  const section = (title, ...children) => h('section', { class: 'card', 'aria-label': title }, h('h2', { text: title }), ...children);
  container.append(
    section('Live', stateLine, periodList, plots),
    section('Connectors', h('table', { class: 'list', id: 'connectors' },
      h('thead', {}, h('tr', {}, ['Connector', 'Relation', 'Transport', 'Health', 'Acked', 'Acked bytes', 'In flight / pending', 'Queued', 'Failed']
        .map((t) => h('th', { scope: 'col', text: t })))), connectors)),
    inputBox(pipeline, schema),
    changeTable(pipeline, schema));

  const periods = new Periods();
  let last = null;
  let timer = null;
  let stopped = false;

  async function poll() {
    let raw;
    try {
      raw = await get(`/v0/pipelines/${seg(pipeline)}/stats`);
    } catch (e) {
      stateLine.textContent = e.code === 'PipelineShutdown' ? 'Not running: no live figures.' : `Stats unavailable: ${e.message}`;
      last = null;
      return;
    }
    const s = normalize(raw);
    const now = Date.now();
    const seconds = last ? (now - last.at) / 1000 : 0;
    const before = last?.s;
    const series = (items, key, value) => Object.fromEntries(items.map((item) => [item[key], value(item)]));
    const prevInput = new Map(before?.inputs.map((t) => [t.table, t]) ?? []);
    const prevOutput = new Map(before?.outputs.map((o) => [o.name, o]) ?? []);
    charts.input.push(now, series(s.inputs, 'table', (t) => ({ label: t.table, value: rate(t.records, prevInput.get(t.table)?.records, seconds) })));
    charts.acked.push(now, series(s.outputs, 'name', (o) => ({ label: o.name, value: rate(o.acked, prevOutput.get(o.name)?.acked, seconds) })));
    charts.ackedBytes.push(now, series(s.outputs, 'name', (o) => ({ label: o.name, value: rate(o.ackedBytes, prevOutput.get(o.name)?.ackedBytes, seconds) })));
    charts.backlog.push(now, Object.fromEntries(s.outputs.flatMap((o) => [
      [`${o.name}:queued`, { label: `${o.name} queued`, value: o.queued }],
      [`${o.name}:in-flight`, { label: `${o.name} in flight`, value: o.inFlight }]])));
    if (s.steps !== null) charts.steps.push(now, { steps: { label: 'steps', value: rate(s.steps, before?.steps, seconds) } });

    const seen = new Set();
    const mark = (key, health) => {
      if (health.state === 'running') return;
      periods.observe(key, health.state, health.since_ms ?? now, `${key}: ${health.reason ?? health.error ?? ''}`, now);
      seen.add(`${key}:${health.state}`);
    };
    s.outputs.forEach((o) => mark(o.name, o.health));
    s.inputConnectors.forEach((i) => mark(i.name, i.health));
    if (s.state === 'Failed') mark('pipeline', { state: 'failed', error: s.error ?? 'failed', since_ms: now });
    periods.sweep(seen, now);
    const bands = periods.bands(now - 300_000);
    Object.values(charts).forEach((c) => c.setBands(bands));
    replace(periodList, bands.map((b) => h('li', { dataset: { kind: b.kind },
      text: `${b.kind} ${b.to ? `${clock(b.from)}–${clock(b.to)}` : `since ${clock(b.from)}`}: ${b.label}` })));

    replace(connectors, connectorTable(s));
    stateLine.textContent = s.stalledSince
      ? `${s.state}: output stalled since ${clock(s.stalledSince)} (${s.stallReason ?? 'waiting for a connector'})`
      : `${s.state ?? ''}${s.error ? `: ${s.error}` : ''}`;
    stateLine.dataset.state = s.stalledSince ? 'stalled' : String(s.state).toLowerCase();
    last = { s, at: now };
  }

  async function loop() {
    await poll();
    if (!stopped) timer = setTimeout(loop, 1000);
  }
  loop();
  return {
    destroy() {
      stopped = true;
      clearTimeout(timer);
      Object.values(charts).forEach((c) => c.destroy());
      container.querySelectorAll('[data-watch]').forEach((el) => el.stop?.());
    },
  };
}

/** Pushes records into a table over HTTP ingress, all or none, and shows the answer or the per-record errors. */
function inputBox(pipeline, schema) {
  const tables = schema?.inputs ?? [];
  const table = h('select', { 'aria-label': 'Table' }, tables.map((t) => h('option', { value: t, text: t })));
  const records = h('textarea', { rows: 5, class: 'mono', 'aria-label': 'Records, one JSON change per line', spellcheck: 'false',
    placeholder: '{"insert": {"id": 1, "name": "a"}}\n{"delete": {"id": 1, "name": "a"}}' });
  const result = h('p', { class: 'input-result', role: 'status' });
  const form = h('form', { class: 'stack', id: 'input-form' },
    h('div', { class: 'row' }, h('label', { class: 'field' }, h('span', { text: 'Table' }), table)),
    h('label', { class: 'field' }, h('span', { text: 'Records (JSON lines, insert_delete: {"insert": {...}} or {"delete": {...}})' }), records),
    h('div', { class: 'buttons' }, h('button', { type: 'submit', class: 'primary', text: 'Send' })), result);
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    result.className = 'input-result';
    try {
      const answer = await call('POST', `/v0/pipelines/${seg(pipeline)}/ingress/${seg(sqlName(table.value))}?format=json&update_format=insert_delete`,
        records.value, { raw: true });
      result.textContent = `Accepted ${answer.records ?? '?'} records.`;
      result.classList.add('ok-text');
    } catch (e) {
      const lines = (e.details?.errors ?? []).slice(0, 5).map((r) => (r.line ? `line ${r.line}: ${r.message}` : r.message));
      result.textContent = [e.message, ...lines].join(' — ');
      result.classList.add('error-text');
    }
  });
  return h('section', { class: 'card', 'aria-label': 'Input' }, h('h2', { text: 'Input' }),
    tables.length ? form : h('p', { class: 'muted', text: 'The program has no table.' }));
}

/** The last changes of a view, from its egress watch: one row per inserted (+) or deleted (−) record. */
function changeTable(pipeline, schema) {
  const views = schema?.outputs ?? [];
  const view = h('select', { 'aria-label': 'View' }, views.map((v) => h('option', { value: v, text: v })));
  const head = h('tr');
  const body = h('tbody');
  const status = h('p', { class: 'muted', role: 'status', text: 'Not watching.' });
  const button = h('button', { type: 'button', class: 'primary', text: 'Watch' });
  const holder = h('div', { dataset: { watch: '' } });
  let controller = null;
  let columns = [];

  function stop() {
    controller?.abort();
    controller = null;
    button.textContent = 'Watch';
  }
  holder.stop = stop;

  function add(line) {
    if (line.error) {
      status.textContent = `The stream ended: ${line.error}`;
      return;
    }
    const changes = (line.json_data ?? []).map((c) => (c.insert ? ['+', c.insert] : c.delete ? ['−', c.delete] : null)).filter(Boolean);
    for (const [, record] of changes) {
      for (const key of Object.keys(record)) if (!columns.includes(key)) columns.push(key);
    }
    replace(head, h('th', { scope: 'col', class: 'num', text: 'step' }), h('th', { scope: 'col', text: '±' }), columns.map((c) => h('th', { scope: 'col', text: c })));
    for (const [sign, record] of changes) {
      body.prepend(h('tr', { class: sign === '+' ? 'insert' : 'delete' }, h('td', { class: 'num', text: line.sequence_number ?? '' }),
        h('td', { text: sign }), columns.map((c) => h('td', { text: record[c] === null || record[c] === undefined ? 'NULL' : typeof record[c] === 'object' ? JSON.stringify(record[c]) : String(record[c]) }))));
    }
    while (body.rows.length > HISTORY_CHANGES) body.deleteRow(body.rows.length - 1);
    if (changes.length) status.textContent = `Watching ${view.value}: ${body.rows.length} latest changes, newest first.`;
  }

  button.addEventListener('click', () => {
    if (controller) {
      stop();
      status.textContent = 'Not watching.';
      return;
    }
    controller = new AbortController();
    columns = [];
    body.replaceChildren();
    head.replaceChildren();
    button.textContent = 'Stop watching';
    status.textContent = `Watching ${view.value}: changes appear from the next step on.`;
    const mine = controller;
    stream('POST', `/v0/pipelines/${seg(pipeline)}/egress/${seg(sqlName(view.value))}?format=json&mode=watch`, add, mine.signal)
      .catch((e) => { if (e.name !== 'AbortError') status.textContent = `The stream ended: ${e.message}`; })
      .finally(() => { if (controller === mine) stop(); });
  });
  holder.append(h('div', { class: 'row' }, h('label', { class: 'field' }, h('span', { text: 'View' }), view), button), status,
    h('div', { class: 'scroll' }, h('table', { class: 'list compact', id: 'changes' }, h('thead', {}, head), body)));
  return h('section', { class: 'card', 'aria-label': 'Changes' }, h('h2', { text: 'Changes' }),
    views.length ? holder : h('p', { class: 'muted', text: 'The program has no view.' }));
}

