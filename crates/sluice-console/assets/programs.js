// Programs: the list, and the SQL editor with its compile errors at their line and column and the schema of every
// table and view once it compiles.

import { call, get, seg } from './api.js';
import { h, replace, toast, badge } from './dom.js';
import { CodeEditor } from './editor.js';

/** "Success", "SqlError", "Pending", ... from the API's status (a string or a one-member object). */
export function statusWord(status) {
  return typeof status === 'string' ? status : Object.keys(status ?? {})[0] ?? 'Unknown';
}

const STATUS_KIND = { Success: 'ok', SqlError: 'err', RustError: 'err', SystemError: 'err', Pending: 'busy', CompilingSql: 'busy', CompilingRust: 'busy' };

export async function programList(main) {
  const programs = await get('/v0/programs');
  replace(main,
    h('div', { class: 'page-head' }, h('h1', { text: 'Programs' }), h('a', { class: 'button primary', href: '#/programs/new', text: 'New program' })),
    programs.length
      ? h('table', { class: 'list', id: 'programs' },
        h('thead', {}, h('tr', {}, ['Program', 'Status', 'Tables', 'Views', 'Version', 'Description'].map((t) => h('th', { scope: 'col', text: t })))),
        h('tbody', {}, programs.sort((a, b) => a.name.localeCompare(b.name)).map((p) => h('tr', { dataset: { program: p.name } },
          h('th', { scope: 'row' }, h('a', { href: `#/programs/${seg(p.name)}`, text: p.name })),
          h('td', {}, badge(statusWord(p.status), STATUS_KIND[statusWord(p.status)] ?? 'busy')),
          h('td', { class: 'num', text: p.schema ? p.schema.inputs.length : '–' }),
          h('td', { class: 'num', text: p.schema ? p.schema.outputs.length : '–' }),
          h('td', { class: 'num', text: p.version }),
          h('td', { text: p.description })))))
      : h('p', { class: 'empty' }, 'No program yet. ', h('a', { href: '#/programs/new', text: 'Write one' }), '.'));
  return null;
}

/** A SQL type as written: VARCHAR, DECIMAL(10, 2), INT ARRAY, with NOT NULL when it is. */
function typeText(t, nullable) {
  if (!t) return '?';
  let text = t.type ?? '?';
  if (t.type === 'ARRAY' && t.element) text = `${typeText(t.element, t.element_nullable ?? true)} ARRAY`;
  else if (t.type === 'MAP' && t.key) text = `MAP<${typeText(t.key, false)}, ${typeText(t.value, t.value_nullable ?? true)}>`;
  else if (t.component) text = `${typeText(t.component, true)} ${text}`;
  else if (t.precision !== null && t.precision !== undefined && t.precision >= 0 && t.type !== 'TIMESTAMP') text += t.scale !== null && t.scale !== undefined ? `(${t.precision}, ${t.scale})` : `(${t.precision})`;
  else if (t.length !== null && t.length !== undefined) text += `(${t.length})`;
  return (nullable ?? t.nullable) === false ? `${text} NOT NULL` : text;
}

function schemaView(schema) {
  if (!schema) return h('p', { class: 'muted', text: 'The schema appears once the program compiles.' });
  const relation = (kind, r) => h('div', { class: 'relation', dataset: { relation: r.name, kind } },
    h('h3', {}, h('span', { class: 'tag', text: kind }), ' ', r.name),
    h('table', { class: 'list compact' }, h('tbody', {}, (r.fields ?? []).map((f) => h('tr', {},
      h('th', { scope: 'row', text: f.name }), h('td', { class: 'mono', text: typeText(f.columntype, f.nullable) }))))));
  return h('div', { class: 'schema', id: 'schema' },
    schema.inputs.map((r) => relation('table', r)), schema.outputs.map((r) => relation('view', r)));
}

function markersOf(status, schema) {
  const messages = [...(status?.SqlError ?? []), ...(schema?.warnings ?? [])];
  return messages.map((m) => ({
    line: m.start_line_number || 1, column: m.start_column || 1, endLine: m.end_line_number, endColumn: m.end_column,
    message: m.message, severity: m.warning ? 'warning' : 'error',
  }));
}

const SETTLED = new Set(['Success', 'SqlError', 'RustError', 'SystemError']);

export async function programPage(main, name) {
  const existing = name ? await get(`/v0/programs/${seg(name)}?with_code=true`) : null;
  const nameInput = h('input', { name: 'name', required: true, value: existing?.name ?? '', disabled: !!existing, 'aria-label': 'Program name' });
  const description = h('input', { name: 'description', value: existing?.description ?? '', 'aria-label': 'Description' });
  const editorHolder = h('div', { class: 'editor-holder' });
  const status = h('p', { class: 'compile-status', id: 'compile-status', role: 'status' });
  const schemaHolder = h('section', { class: 'card', 'aria-label': 'Schema' }, h('h2', { text: 'Schema' }));
  const save = h('button', { type: 'submit', class: 'primary', text: 'Save and compile' });
  const form = h('form', { class: 'stack', id: 'program-form', novalidate: true },
    h('div', { class: 'row' }, h('label', { class: 'field' }, h('span', { text: 'Name' }), nameInput),
      h('label', { class: 'field grow' }, h('span', { text: 'Description' }), description)),
    editorHolder, status,
    h('div', { class: 'buttons' }, save, h('span', { class: 'muted', text: 'Ctrl+Enter saves and compiles.' })));
  replace(main, h('h1', { text: existing ? existing.name : 'New program' }), form, schemaHolder);
  const editor = new CodeEditor(editorHolder, { language: 'sql', label: 'SQL program', rows: 18,
    value: existing?.code ?? 'CREATE TABLE orders (id BIGINT NOT NULL, customer VARCHAR, amount DECIMAL(10, 2));\n\nCREATE VIEW totals AS\nSELECT customer, COUNT(*) AS n, SUM(amount) AS total\nFROM orders\nGROUP BY customer;\n' });
  let stopped = false;

  function show(program) {
    const word = statusWord(program.status);
    status.dataset.status = word;
    const messages = program.status?.SqlError ?? [];
    status.textContent = word === 'Success' ? `Compiled (version ${program.version}).`
      : word === 'SqlError' ? `${messages.length} error${messages.length === 1 ? '' : 's'}: see the marked lines.`
        : typeof program.status === 'object' ? `${word}: ${program.status[word]}`
          : program.status_detail ? `${word}: ${program.status_detail}` : `${word}…`;
    status.className = `compile-status ${word === 'Success' ? 'ok-text' : SETTLED.has(word) ? 'error-text' : 'muted'}`;
    editor.setMarkers(markersOf(program.status, program.schema));
    replace(schemaHolder, h('h2', { text: 'Schema' }), schemaView(word === 'Success' ? program.schema : null));
  }

  /** Polls until the compilation settles (it runs in the background on the server). */
  async function settle(programName) {
    for (let i = 0; i < 600 && !stopped; i += 1) {
      const program = await get(`/v0/programs/${seg(programName)}`);
      if (stopped) return null;
      show(program);
      if (SETTLED.has(statusWord(program.status)) || program.status_detail) return program;
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
    return null;
  }

  async function submit() {
    const target = existing?.name ?? nameInput.value.trim();
    save.disabled = true;
    try {
      // A write compiles the new version in the background; the page follows until it settles.
      await call('PUT', `/v0/programs/${seg(target)}`, { description: description.value, code: editor.value });
      if (!existing) {
        history.replaceState(null, '', `#/programs/${seg(target)}`);
        nameInput.disabled = true;
      }
      await settle(target);
    } catch (e) {
      status.textContent = e.message;
      status.className = 'compile-status error-text';
      toast(e.message, 'error');
    } finally {
      save.disabled = false;
    }
  }

  form.addEventListener('submit', (event) => { event.preventDefault(); submit(); });
  if (existing) {
    show(existing);
    if (!SETTLED.has(statusWord(existing.status))) {
      settle(existing.name).catch((e) => { if (!stopped) toast(e.message, 'error'); });
    }
  } else {
    replace(schemaHolder, h('h2', { text: 'Schema' }), schemaView(null));
  }
  (existing ? editor : nameInput).focus();
  return { destroy() { stopped = true; } };
}
