// The console's entry point: a hash router (#/pipelines/fair, ...) over pages that each render into <main> and
// stop their timers and streams when the user leaves them, plus the API-key dialog.

import { get, apiKey, setApiKey } from './api.js';
import { h, replace, toast } from './dom.js';
import { pipelineList, pipelineForm } from './pipelines.js';
import { pipelinePage } from './pipeline_page.js';
import { programList, programPage } from './programs.js';
import { connectorList, connectorPage } from './connectors.js';

const view = document.getElementById('view');
let current = null;

/** [pattern, page]: a page is `(main, ...captures) => ({destroy}?)`, possibly async. */
const routes = [
  [/^#\/pipelines\/?$/, pipelineList],
  [/^#\/pipelines\/new$/, (main) => pipelineForm(main, null)],
  [/^#\/pipelines\/([^/]+)\/edit$/, (main, name) => pipelineForm(main, name)],
  [/^#\/pipelines\/([^/]+)$/, pipelinePage],
  [/^#\/programs\/?$/, programList],
  [/^#\/programs\/new$/, (main) => programPage(main, null)],
  [/^#\/programs\/([^/]+)$/, programPage],
  [/^#\/connectors\/?$/, connectorList],
  [/^#\/connectors\/new$/, (main) => connectorPage(main, null)],
  [/^#\/connectors\/([^/]+)$/, connectorPage],
];

async function route() {
  const hash = location.hash || '#/pipelines';
  current?.destroy?.();
  current = null;
  for (const link of document.querySelectorAll('nav a')) {
    if (hash.startsWith(`#/${link.dataset.section}`)) link.setAttribute('aria-current', 'page');
    else link.removeAttribute('aria-current');
  }
  const match = routes.map(([pattern, page]) => [hash.match(pattern), page]).find(([m]) => m);
  if (!match) {
    replace(view, h('h1', { text: 'Not found' }), h('p', {}, 'No page at ', h('code', { text: hash }), '. ',
      h('a', { href: '#/pipelines', text: 'Pipelines' })));
    return;
  }
  const [m, page] = match;
  const mine = {};
  current = mine;
  // Each page renders into a container of its own: a slow page the user already left writes into a detached one.
  const container = h('div');
  view.replaceChildren(container);
  try {
    const handle = await page(container, ...m.slice(1).map(decodeURIComponent));
    // The user may have moved on while the page loaded: stop what it started.
    if (current === mine) current = handle ?? null;
    else handle?.destroy?.();
  } catch (e) {
    if (current === mine) replace(container, h('h1', { text: 'Could not load this page' }), h('p', { class: 'form-error', role: 'alert', text: e.message }));
  }
  document.title = `${view.querySelector('h1')?.textContent ?? 'Console'} · Sluice`;
}

function askForKey(reason) {
  const dialog = document.getElementById('key-dialog');
  document.getElementById('key-error').textContent = reason ?? '';
  // Escape closes the dialog with the last returnValue: clear it, so that only "Use key" saves.
  dialog.returnValue = '';
  if (!dialog.open) dialog.showModal();
}

function setupKeyDialog() {
  const dialog = document.getElementById('key-dialog');
  const button = document.getElementById('key-button');
  dialog.addEventListener('close', () => {
    if (dialog.returnValue === 'save') {
      setApiKey(document.getElementById('key-input').value.trim());
      document.getElementById('key-input').value = '';
      route();
    } else if (!apiKey()) {
      replace(view, h('h1', { text: 'An API key is needed' }), h('p', {}, 'This server answers only requests with a key. ',
        h('button', { type: 'button', class: 'primary', text: 'Enter a key', on: { click: () => askForKey() } })));
    }
  });
  button.addEventListener('click', () => askForKey());
  window.addEventListener('sluice:need-key', (e) => {
    button.hidden = false;
    askForKey(apiKey() ? `The server refused this key: ${e.detail?.message ?? ''}` : '');
  });
}

/** Whether the pages can load now: not while the server wants a key this tab does not have yet (the dialog's
 *  "Use key" loads them). */
async function showServer() {
  const state = document.getElementById('server-state');
  try {
    const auth = await get('/config/authentication');
    document.getElementById('key-button').hidden = !auth.ApiKey;
    state.textContent = '';
    if (auth.ApiKey && !apiKey()) {
      askForKey();
      return false;
    }
  } catch (e) {
    state.textContent = `Server unreachable: ${e.message}`;
    toast(`The server does not answer: ${e.message}`, 'error');
  }
  return true;
}

setupKeyDialog();
// The skip link moves focus to the content; it must not go through the hash router.
document.querySelector('.skip').addEventListener('click', (event) => {
  event.preventDefault();
  view.focus();
});
window.addEventListener('hashchange', route);
if (await showServer()) route();
