// Connectors: the list, and an editor for a connector's JSON config (templates for kafka_output and kafka_input)
// whose create-time validation errors are shown at the field they name. Secret values come back from the server as
// ******** and are sent back as they are, which keeps the stored value.

import { call, get, seg } from './api.js';
import { h, replace, toast } from './dom.js';
import { CodeEditor, locateJsonPath } from './editor.js';

const TEMPLATES = {
  kafka_output: {
    transport: { name: 'kafka_output', config: { 'bootstrap.servers': '127.0.0.1:9092', topic: 'my_view' } },
    format: { name: 'json', config: { update_format: 'insert_delete' } },
  },
  kafka_input: {
    transport: { name: 'kafka_input', config: { 'bootstrap.servers': '127.0.0.1:9092', topics: ['my_table'], 'auto.offset.reset': 'earliest' } },
    format: { name: 'json', config: { update_format: 'insert_delete' } },
  },
};

const text = (value) => JSON.stringify(value, null, 2);

export async function connectorList(main) {
  const connectors = await get('/v0/connectors');
  const t = (c) => c.config?.transport ?? {};
  replace(main,
    h('div', { class: 'page-head' }, h('h1', { text: 'Connectors' }), h('a', { class: 'button primary', href: '#/connectors/new', text: 'New connector' })),
    connectors.length
      ? h('table', { class: 'list', id: 'connector-list' },
        h('thead', {}, h('tr', {}, ['Connector', 'Transport', 'Format', 'Topic', 'Description'].map((x) => h('th', { scope: 'col', text: x })))),
        h('tbody', {}, connectors.sort((a, b) => a.name.localeCompare(b.name)).map((c) => h('tr', { dataset: { connector: c.name } },
          h('th', { scope: 'row' }, h('a', { href: `#/connectors/${seg(c.name)}`, text: c.name })),
          h('td', { text: t(c).name ?? '?' }), h('td', { text: c.config?.format?.name ?? '–' }),
          h('td', { class: 'mono', text: t(c).config?.topic ?? (t(c).config?.topics ?? []).join(', ') ?? '' }),
          h('td', { text: c.description }))))) 
      : h('p', { class: 'empty' }, 'No connector yet. ', h('a', { href: '#/connectors/new', text: 'Make one' }), '.'));
  return null;
}

export async function connectorPage(main, name) {
  const existing = name ? await get(`/v0/connectors/${seg(name)}`) : null;
  const nameInput = h('input', { name: 'name', required: true, value: existing?.name ?? '', disabled: !!existing, 'aria-label': 'Connector name' });
  const nameError = h('span', { class: 'field-error', role: 'alert' });
  const description = h('input', { name: 'description', value: existing?.description ?? '', 'aria-label': 'Description' });
  const editorHolder = h('div', { class: 'editor-holder' });
  const formError = h('p', { class: 'form-error', role: 'alert', id: 'connector-error' });
  const templates = h('div', { class: 'buttons' }, h('span', { class: 'muted', text: 'Start from: ' }),
    Object.keys(TEMPLATES).map((t) => h('button', { type: 'button', dataset: { template: t }, text: t, on: { click: () => { editor.value = text(TEMPLATES[t]); editor.focus(); } } })));
  const form = h('form', { class: 'stack', id: 'connector-form', novalidate: true },
    h('div', { class: 'row' }, h('label', { class: 'field' }, h('span', { text: 'Name' }), nameInput, nameError),
      h('label', { class: 'field grow' }, h('span', { text: 'Description' }), description)),
    existing ? null : templates,
    h('p', { class: 'muted' }, 'The config is checked when saved: the format, the topic, and every librdkafka option. ',
      'Secret values (passwords, keys) are shown as ******** and kept when sent back unchanged; ',
      h('code', { text: '${secret:NAME}' }), ' references resolve when a pipeline starts.'),
    editorHolder, formError,
    h('div', { class: 'buttons' }, h('button', { type: 'submit', class: 'primary', text: existing ? 'Save' : 'Create connector' }),
      existing ? h('button', { type: 'button', class: 'danger', text: 'Delete', dataset: { action: 'delete' }, on: { click: (event) => remove(event) } }) : null,
      h('a', { class: 'button', href: '#/connectors', text: 'Back' })));
  replace(main, h('h1', { text: existing ? existing.name : 'New connector' }), form);
  const editor = new CodeEditor(editorHolder, { language: 'json', label: 'Connector config (JSON)', rows: 18,
    value: text(existing?.config ?? TEMPLATES.kafka_output) });

  let armed = false;
  async function remove(event) {
    if (!armed) {
      armed = true;
      event.target.textContent = 'Confirm delete (detaches it from every pipeline)';
      return;
    }
    try {
      await call('DELETE', `/v0/connectors/${seg(existing.name)}`);
      toast(`Connector ${existing.name} deleted`);
      location.hash = '#/connectors';
    } catch (e) { toast(e.message, 'error'); }
  }

  async function submit() {
    formError.textContent = '';
    nameError.textContent = '';
    editor.setMarkers([]);
    let config;
    try {
      config = JSON.parse(editor.value);
    } catch (e) {
      const at = /line (\d+) column (\d+)/.exec(e.message);
      formError.textContent = `The config is not JSON: ${e.message}`;
      editor.setMarkers([{ line: at ? Number(at[1]) : 1, column: at ? Number(at[2]) : 1, message: e.message, severity: 'error' }]);
      return;
    }
    const target = existing?.name ?? nameInput.value.trim();
    try {
      if (existing) await call('PUT', `/v0/connectors/${seg(target)}`, { description: description.value, config });
      else await call('POST', '/v0/connectors', { name: target, description: description.value, config });
      toast(`Connector ${target} saved`);
      location.hash = `#/connectors/${seg(target)}`;
    } catch (e) {
      formError.textContent = e.message;
      const field = e.details?.field ?? e.details?.path;
      if (e.code === 'InvalidName' || e.code === 'DuplicateName') nameError.textContent = e.details?.reason ?? e.message;
      else if (field) {
        const at = locateJsonPath(editor.value, field.replace(/^config\.?/, ''));
        editor.setMarkers([{ line: at?.line ?? 1, column: at?.column ?? 1, message: `${field}: ${e.details?.reason ?? e.message}`, severity: 'error' }]);
      }
    }
  }

  form.addEventListener('submit', (event) => { event.preventDefault(); submit(); });
  (existing ? editor : nameInput).focus();
  return null;
}
