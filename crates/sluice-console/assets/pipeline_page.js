// One pipeline: its status and the reason it failed, the lifecycle actions, and, while it runs, the live panel.

import { call, get, seg } from './api.js';
import { h, replace, toast, badge, stateKind } from './dom.js';
import { summary, actionButtons } from './pipelines.js';
import { livePanel } from './live.js';

/** A destructive action asks once more in place (no browser dialog): the first click arms, the second acts. */
function confirmButton(label, confirmLabel, action) {
  const button = h('button', { type: 'button', class: 'danger', text: label, dataset: { action: label.toLowerCase() } });
  let armed = null;
  button.addEventListener('click', async () => {
    if (!armed) {
      button.textContent = confirmLabel;
      armed = setTimeout(() => { armed = null; button.textContent = label; }, 4000);
      return;
    }
    clearTimeout(armed);
    armed = null;
    await action();
  });
  return button;
}

/** The error of a pipeline as the server gave it: message, code and the details that say where. */
function errorBox(error) {
  const details = error.details && Object.keys(error.details).length ? JSON.stringify(error.details, null, 2) : null;
  return h('div', { class: 'alert', role: 'alert', id: 'pipeline-error' },
    h('strong', { text: error.error_code ?? 'Error' }), h('p', { text: error.message ?? String(error) }),
    details ? h('details', {}, h('summary', { text: 'Details' }), h('pre', { text: details })) : null);
}

async function schemaOf(pipeline) {
  if (pipeline.descriptor) {
    if (!pipeline.descriptor.program_name) return { inputs: [], outputs: [] };
    const program = await get(`/v0/programs/${seg(pipeline.descriptor.program_name)}`);
    return { inputs: (program.schema?.inputs ?? []).map((r) => r.name), outputs: (program.schema?.outputs ?? []).map((r) => r.name) };
  }
  const schema = pipeline.program_info?.schema ?? {};
  const name = (r) => (r.name?.name ?? r.name);
  return { inputs: (schema.inputs ?? []).map(name), outputs: (schema.outputs ?? []).map(name) };
}

export async function pipelinePage(main, name) {
  let pipeline = await get(`/v0/pipelines/${seg(name)}`);
  const title = h('h1', { text: name });
  const status = h('span', { class: 'status', id: 'pipeline-status' });
  const actions = h('div', { class: 'buttons', id: 'pipeline-actions' });
  const about = h('p', { class: 'muted' });
  const problem = h('div');
  const live = h('div', { class: 'live' });
  replace(main, h('div', { class: 'page-head' }, title, status, actions), about, problem, live);

  let panel = null;
  let timer = null;
  let stopped = false;
  let schema = await schemaOf(pipeline);

  let signature = null;

  function render() {
    const s = summary(pipeline);
    // Rebuilt only when something shown changed, so that keyboard focus and an armed Clear/Delete survive the
    // refresh every two seconds.
    const now = JSON.stringify([s.status, s.desired, s.error, s.description, s.program, s.live, pipeline.descriptor?.config?.fault_tolerance]);
    if (now === signature) return;
    signature = now;
    replace(status, badge(s.desired !== s.status ? `${s.status} → ${s.desired}` : s.status, stateKind(s.status)));
    status.dataset.status = s.status;
    const shutDown = ['Shutdown', 'Stopped'].includes(s.status) && ['Shutdown', 'Stopped'].includes(s.desired);
    replace(actions, actionButtons(s, refresh),
      !s.current ? h('a', { class: 'button', href: `#/pipelines/${seg(name)}/edit`, text: 'Edit' }) : null,
      shutDown ? confirmButton('Clear', 'Confirm: delete its state', async () => {
        try {
          await call('POST', `/v0/pipelines/${seg(name)}/clear`);
          toast(`${name}: stored state deleted; the next start begins from empty views`);
        } catch (e) { toast(e.message, 'error'); }
      }) : null,
      shutDown ? confirmButton('Delete', 'Confirm delete', async () => {
        try {
          await call('DELETE', `/v0/pipelines/${seg(name)}`);
          toast(`Pipeline ${name} deleted`);
          location.hash = '#/pipelines';
        } catch (e) { toast(e.message, 'error'); }
      }) : null);
    // Without fault_tolerance a current-API pipeline has Sluice's default; `null` there turns it off.
    const ft = pipeline.runtime_config?.fault_tolerance;
    const model = pipeline.descriptor ? pipeline.descriptor.config?.fault_tolerance?.model
      : ft === undefined ? 'at_least_once' : ft?.model;
    replace(about, s.description ? `${s.description} · ` : '',
      s.program ? h('span', {}, 'program ', h('a', { href: `#/programs/${seg(s.program)}`, text: s.program })) : s.current ? 'SQL with connectors in WITH (Feldera\'s current API)' : 'no program',
      ` · fault tolerance ${model ?? 'none'}`);
    replace(problem, s.error ? errorBox(s.error) : null);
    if (s.live && !panel) {
      live.replaceChildren();
      panel = livePanel(live, name, schema);
    } else if (!s.live && panel) {
      panel.destroy();
      panel = null;
      replace(live, h('p', { class: 'muted', text: 'Not running: start it to see live figures, push input and watch its views.' }));
    } else if (!s.live && !live.childElementCount) {
      live.append(h('p', { class: 'muted', text: 'Not running: start it to see live figures, push input and watch its views.' }));
    }
  }

  async function refresh() {
    try {
      const before = pipeline.descriptor?.program_name;
      pipeline = await get(`/v0/pipelines/${seg(name)}`);
      if (pipeline.descriptor?.program_name !== before) schema = await schemaOf(pipeline);
    } catch (e) {
      if (e.status === 404) {
        replace(problem, h('p', { class: 'error-text', text: `The pipeline ${name} no longer exists.` }));
        return;
      }
      toast(e.message, 'error');
    }
    if (!stopped) render();
  }

  async function loop() {
    await refresh();
    if (!stopped) timer = setTimeout(loop, 2000);
  }
  render();
  timer = setTimeout(loop, 2000);
  return { destroy() { stopped = true; clearTimeout(timer); panel?.destroy(); } };
}
