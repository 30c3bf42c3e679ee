// The pipeline list (status, throughput and errors at a glance) and the pipeline form (program, attached
// connectors, fault tolerance). Pipelines written through Feldera's current API (SQL with connectors in WITH) are
// listed and run from here too; their program is edited where it was written (fda, the SDK).

import { call, get, seg } from './api.js';
import { h, replace, toast, badge, stateKind, compact, sqlName } from './dom.js';

/** One shape for both API generations: the 2024 `{descriptor, state}` and the current flat pipeline. */
export function summary(p) {
  if (p.descriptor) {
    return {
      name: p.descriptor.name,
      description: p.descriptor.description,
      program: p.descriptor.program_name,
      status: p.state.current_status,
      desired: p.state.desired_status,
      error: p.state.error,
      current: false,
      // A pipeline that failed at start has no running instance (its /stats would be 404).
      live: !['Shutdown', 'Provisioning', 'ShuttingDown'].includes(p.state.current_status)
        && p.state.error?.error_code !== 'PipelineStartFailed',
    };
  }
  const status = p.deployment_status ?? 'Stopped';
  return {
    name: p.name,
    description: p.description,
    program: null,
    status,
    desired: p.deployment_desired_status ?? status,
    error: p.deployment_error,
    current: true,
    live: ['Running', 'Paused', 'Initializing'].includes(status),
  };
}

/** Runs a lifecycle action and reports the refusal, if any, where the user clicked. */
export async function act(name, action) {
  try {
    await call('POST', `/v0/pipelines/${seg(name)}/${action}`);
    return true;
  } catch (e) {
    toast(`${action} ${name}: ${e.message}`, 'error');
    return false;
  }
}

/** The action buttons that make sense for a pipeline in its state. */
export function actionButtons(s, after) {
  const button = (action, label, primary = false) => h('button', {
    type: 'button', class: primary ? 'primary' : '', dataset: { action },
    on: { click: async () => { if (await act(s.name, action)) after(); } },
    text: label,
  });
  const stopped = ['Shutdown', 'Stopped'].includes(s.status) && ['Shutdown', 'Stopped'].includes(s.desired);
  // A failed pipeline must be stopped (2024 API) or have its error dismissed (current API) before it can start.
  if (s.current && s.error && stopped) return [button('dismiss_error', 'Dismiss error', true)];
  if (s.status === 'Failed') return [button('stop', 'Stop', true)];
  const buttons = [];
  if (s.status !== 'Running' || s.desired !== 'Running') buttons.push(button('start', 'Start', true));
  if (s.status === 'Running' && s.desired === 'Running') buttons.push(button('pause', 'Pause'));
  if (!stopped) buttons.push(button('stop', 'Stop'));
  return buttons;
}

/** Rates between two /stats readings of a pipeline: input records/s and acknowledged messages/s. */
function rates(before, after, seconds) {
  const input = (s) => s.global_metrics?.total_input_records ?? 0;
  const acked = (s) => (s.outputs ?? []).reduce((sum, o) =>
    sum + (o.transport?.transmitted_messages ?? o.metrics?.transmitted_records ?? 0), 0);
  return {
    input: Math.max(0, input(after) - input(before)) / seconds,
    output: Math.max(0, acked(after) - acked(before)) / seconds,
  };
}

export async function pipelineList(main) {
  replace(main,
    h('div', { class: 'page-head' }, h('h1', { text: 'Pipelines' }),
      h('a', { class: 'button primary', href: '#/pipelines/new', text: 'New pipeline' })),
    h('p', { class: 'muted', text: 'Status, throughput and errors, refreshed every two seconds.' }));
  const table = h('table', { class: 'list', id: 'pipelines' },
    h('thead', {}, h('tr', {}, ['Pipeline', 'Program', 'Status', 'Input rec/s', 'Acked msg/s', 'Problem', 'Actions']
      .map((t) => h('th', { scope: 'col', text: t })))),
    h('tbody'));
  const empty = h('p', { class: 'empty', hidden: true }, 'No pipeline yet. ',
    h('a', { href: '#/programs/new', text: 'Write a program' }), ', ', h('a', { href: '#/connectors/new', text: 'make a connector' }),
    ', then ', h('a', { href: '#/pipelines/new', text: 'create a pipeline' }), '.');
  main.append(table, empty);
  const previous = new Map();
  const shown = new Map();
  let timer = null;
  let stopped = false;

  async function refresh() {
    let list;
    try {
      list = await get('/v0/pipelines');
    } catch (e) {
      toast(`Could not list pipelines: ${e.message}`, 'error');
      return;
    }
    const now = performance.now();
    const seen = new Set();
    const rows = await Promise.all(list.map(summary).sort((a, b) => a.name.localeCompare(b.name)).map(async (s) => {
      let rate = null;
      let health = null;
      if (s.live) {
        try {
          const stats = await get(`/v0/pipelines/${seg(s.name)}/stats`);
          const before = previous.get(s.name);
          if (before) rate = rates(before.stats, stats, (now - before.at) / 1000);
          previous.set(s.name, { stats, at: now });
          const troubled = (stats.outputs ?? []).map((o) => [o.endpoint_name, o.transport?.health]).filter(([, hh]) => hh && hh.state !== 'running');
          if (troubled.length) health = troubled.map(([n, hh]) => `${n} ${hh.state}: ${hh.reason ?? hh.error ?? ''}`).join('; ');
          if (stats.global_metrics?.stall_reason) health = health ?? `stalled: ${stats.global_metrics.stall_reason}`;
        } catch {
          previous.delete(s.name);
        }
      } else {
        previous.delete(s.name);
      }
      seen.add(s.name);
      return rowFor(s, rate, health);
    }));
    if (stopped) return;
    for (const [name, kept] of shown) if (!seen.has(name)) { kept.row.remove(); shown.delete(name); }
    // Rows stay in place (and keep keyboard focus) unless what they show changed.
    rows.forEach((row, i) => { if (table.tBodies[0].rows[i] !== row) table.tBodies[0].insertBefore(row, table.tBodies[0].rows[i] ?? null); });
    empty.hidden = rows.length > 0;
    table.hidden = rows.length === 0;
  }

  /** The row of a pipeline: rebuilt when its status, error or problem changed, otherwise only its rates updated. */
  function rowFor(s, rate, health) {
    const status = s.desired && s.desired !== s.status ? `${s.status} → ${s.desired}` : s.status;
    const signature = JSON.stringify([status, s.error?.message, health, s.program, s.current]);
    let kept = shown.get(s.name);
    if (!kept || kept.signature !== signature) {
      const row = h('tr', { dataset: { pipeline: s.name } },
        h('th', { scope: 'row' }, h('a', { href: `#/pipelines/${seg(s.name)}`, text: s.name }),
          s.current ? h('span', { class: 'tag', title: 'Written through Feldera\'s current API', text: 'SQL + WITH' }) : null),
        h('td', {}, s.program ? h('a', { href: `#/programs/${seg(s.program)}`, text: s.program }) : '–'),
        h('td', { class: 'status' }, badge(status, stateKind(s.status))),
        h('td', { class: 'num', dataset: { rate: 'input' } }),
        h('td', { class: 'num', dataset: { rate: 'output' } }),
        h('td', { class: 'problem' }, s.error ? h('span', { class: 'error-text', text: s.error.message }) : health ? h('span', { class: 'warn-text', text: health }) : ''),
        h('td', { class: 'actions' }, actionButtons(s, refresh)));
      kept?.row.replaceWith(row);
      kept = { row, signature };
      shown.set(s.name, kept);
    }
    kept.row.querySelector('[data-rate=input]').textContent = rate ? compact(rate.input) : '–';
    kept.row.querySelector('[data-rate=output]').textContent = rate ? compact(rate.output) : '–';
    return kept.row;
  }

  async function loop() {
    await refresh();
    if (!stopped) timer = setTimeout(loop, 2000);
  }
  await loop();
  return { destroy() { stopped = true; clearTimeout(timer); } };
}

/** The inputs and outputs of a compiled program, for the relation choices of attached connectors. */
async function relations(programName) {
  if (!programName) return { inputs: [], outputs: [] };
  const program = await get(`/v0/programs/${seg(programName)}`);
  return {
    inputs: (program.schema?.inputs ?? []).map((r) => r.name),
    outputs: (program.schema?.outputs ?? []).map((r) => r.name),
    status: program.status,
  };
}

const isInputTransport = (connector) => /_input$/.test(connector?.config?.transport?.name ?? '');

export async function pipelineForm(main, name) {
  const [programs, connectors, existing] = await Promise.all([
    get('/v0/programs'), get('/v0/connectors'), name ? get(`/v0/pipelines/${seg(name)}`) : null]);
  if (existing && !existing.descriptor) {
    replace(main, h('h1', { text: name }), h('p', {}, 'This pipeline was written through Feldera\'s current API: its SQL ',
      'and the connectors declared in WITH are edited with fda or the feldera SDK (PUT with program_code). ',
      h('a', { href: `#/pipelines/${seg(name)}`, text: 'Back to the pipeline' })));
    return null;
  }
  const d = existing?.descriptor;
  const config = structuredClone(d?.config ?? { workers: 1, fault_tolerance: { model: 'at_least_once', checkpoint_interval_secs: 60 } });
  const byName = new Map(connectors.map((c) => [c.name, c]));

  const field = (label, input, hint) => h('label', { class: 'field' }, h('span', { text: label }), input,
    hint ? h('small', { class: 'muted', text: hint }) : null, h('span', { class: 'field-error', role: 'alert' }));
  const nameInput = h('input', { name: 'name', required: true, value: d?.name ?? '', pattern: '[A-Za-z0-9][A-Za-z0-9_-]{0,99}', disabled: !!d });
  const description = h('input', { name: 'description', value: d?.description ?? '' });
  const program = h('select', { name: 'program_name' }, h('option', { value: '', text: '(none)' }),
    programs.map((p) => h('option', { value: p.name, text: `${p.name} (${typeof p.status === 'string' ? p.status : Object.keys(p.status)[0]})`, selected: p.name === d?.program_name })));
  const model = h('select', { name: 'fault_tolerance' }, ['none', 'at_least_once', 'exactly_once']
    .map((m) => h('option', { value: m, text: m, selected: (config.fault_tolerance?.model ?? 'none') === m })));
  const workers = h('input', { name: 'workers', type: 'number', min: 1, max: 64, value: config.workers ?? 1 });
  const rows = h('tbody');
  const formError = h('p', { class: 'form-error', role: 'alert' });
  let schema = await relations(d?.program_name);

  function relationOptions(select, connectorName, chosen) {
    const list = isInputTransport(byName.get(connectorName)) ? schema.inputs : schema.outputs;
    replace(select, h('option', { value: '', text: list.length ? '(choose)' : '(compile the program first)' }),
      list.map((r) => h('option', { value: r, text: r, selected: r.toLowerCase() === String(chosen ?? '').toLowerCase() })));
    if (chosen && !list.some((r) => r.toLowerCase() === chosen.toLowerCase())) select.append(h('option', { value: chosen, text: `${chosen} (not in the program)`, selected: true }));
  }

  function addRow(a = {}) {
    const attachment = h('input', { 'aria-label': 'Attachment name', value: a.name ?? '', required: true });
    const connector = h('select', { 'aria-label': 'Connector' }, h('option', { value: '', text: '(choose)' }),
      connectors.map((c) => h('option', { value: c.name, text: `${c.name} (${c.config?.transport?.name ?? '?'})`, selected: c.name === a.connector_name })));
    const relation = h('select', { 'aria-label': 'Table or view' });
    relationOptions(relation, a.connector_name, a.relation_name);
    connector.addEventListener('change', () => {
      relationOptions(relation, connector.value, relation.value);
      if (!attachment.value) attachment.value = connector.value;
    });
    const row = h('tr', { class: 'attachment' }, h('td', {}, attachment), h('td', {}, connector), h('td', {}, relation),
      h('td', {}, h('button', { type: 'button', class: 'quiet', 'aria-label': 'Remove this connector', text: 'Remove', on: { click: () => row.remove() } })),
      h('td', { class: 'field-error', role: 'alert' }));
    row.read = () => ({ name: attachment.value.trim(), connector_name: connector.value, relation_name: relation.value ? sqlName(relation.value) : '',
      is_input: isInputTransport(byName.get(connector.value)) });
    rows.append(row);
  }
  (d?.attached_connectors ?? []).forEach(addRow);

  program.addEventListener('change', async () => {
    schema = await relations(program.value).catch(() => ({ inputs: [], outputs: [] }));
    for (const row of rows.rows) {
      const [connector, relation] = row.querySelectorAll('select');
      relationOptions(relation, connector.value, relation.value);
    }
  });

  const form = h('form', { class: 'stack', id: 'pipeline-form', novalidate: true },
    field('Name', nameInput, 'Letters, digits, _ and -'),
    field('Description', description),
    field('Program', program),
    h('div', { class: 'row' }, field('Fault tolerance', model, 'at_least_once and exactly_once keep checkpoints and survive restarts'), field('Workers', workers)),
    h('fieldset', {}, h('legend', { text: 'Connectors' }),
      h('table', { class: 'list compact' }, h('thead', {}, h('tr', {}, ['Attachment', 'Connector', 'Table or view', '', ''].map((t) => h('th', { scope: 'col', text: t })))), rows),
      h('button', { type: 'button', text: 'Attach a connector', on: { click: () => addRow() } })),
    formError,
    h('div', { class: 'buttons' }, h('button', { type: 'submit', class: 'primary', text: d ? 'Save' : 'Create pipeline' }),
      h('a', { class: 'button', href: d ? `#/pipelines/${seg(d.name)}` : '#/pipelines', text: 'Cancel' })));

  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    for (const el of form.querySelectorAll('.field-error')) el.textContent = '';
    formError.textContent = '';
    config.workers = Number(workers.value);
    config.fault_tolerance = { ...(config.fault_tolerance ?? {}), model: model.value };
    const attachments = [...rows.rows].map((r) => r.read());
    const body = { description: description.value, program_name: program.value || null, config, connectors: attachments };
    const target = nameInput.value.trim();
    try {
      if (d) await call('PUT', `/v0/pipelines/${seg(d.name)}`, body);
      else await call('POST', '/v0/pipelines', { name: target, ...body });
      toast(`Pipeline ${target} saved`);
      location.hash = `#/pipelines/${seg(target)}`;
    } catch (e) {
      formError.textContent = e.message;
      const field = e.details?.field ?? e.details?.path ?? '';
      const namesPipeline = e.code === 'DuplicateName' || (e.code === 'InvalidName' && e.details?.name === target);
      const at = field.includes('fault_tolerance') ? model : field.includes('workers') ? workers : namesPipeline ? nameInput : null;
      if (at) at.closest('.field').querySelector('.field-error').textContent = e.details?.reason ?? e.message;
      const attached = e.details?.name && [...rows.rows].find((r) => r.read().name === e.details.name);
      if (attached) attached.querySelector('.field-error').textContent = e.details.reason ?? e.message;
      // TablesNotInSchema / ViewsNotInSchema: [[attachment, relation], ...].
      for (const [attachmentName, relationName] of e.details?.missing ?? []) {
        const row = [...rows.rows].find((r) => r.read().name === attachmentName);
        if (row) row.querySelector('.field-error').textContent = `${relationName} is not in the program`;
      }
    }
  });

  replace(main, h('h1', { text: d ? `Edit ${d.name}` : 'New pipeline' }),
    d && existing.state.current_status !== 'Shutdown' ? h('p', { class: 'warn-text', text: 'Changes take effect at the next start from Shutdown.' }) : null,
    form);
  (d ? description : nameInput).focus();
  return null;
}
