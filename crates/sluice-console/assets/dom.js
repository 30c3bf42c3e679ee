// Small DOM helpers shared by every page. Text always goes in through textContent (never innerHTML): names, SQL,
// records and error messages come from users and pipelines.

/**
 * Builds an element. `attrs` keys: `class`, `text`, `on` ({event: handler}), `dataset` ({key: value}); any other
 * key is set as an attribute (false/null/undefined skip it, true sets it empty). Children are nodes or strings.
 */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === false || value === null || value === undefined) continue;
    if (key === 'class') el.className = value;
    else if (key === 'text') el.textContent = value;
    else if (key === 'on') for (const [event, handler] of Object.entries(value)) el.addEventListener(event, handler);
    else if (key === 'dataset') Object.assign(el.dataset, value);
    else el.setAttribute(key, value === true ? '' : String(value));
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

/** Replaces the children of `el`. */
export function replace(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

const UNITS = ['', 'k', 'M', 'G', 'T'];

/** 1234567 → "1.23M": three significant digits, for counters and rates at a glance. */
export function compact(n) {
  if (n === null || n === undefined || Number.isNaN(n)) return '–';
  let value = Math.abs(n);
  let unit = 0;
  while (value >= 1000 && unit < UNITS.length - 1) {
    value /= 1000;
    unit += 1;
  }
  const digits = value >= 100 || unit === 0 && Number.isInteger(value) ? 0 : value >= 10 ? 1 : 2;
  return `${n < 0 ? '-' : ''}${value.toFixed(digits)}${UNITS[unit]}`;
}

/** Bytes with binary units: 1536 → "1.50 KiB". */
export function bytes(n) {
  if (n === null || n === undefined) return '–';
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let value = n;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return unit === 0 ? `${value} B` : `${value.toFixed(value >= 100 ? 0 : value >= 10 ? 1 : 2)} ${units[unit]}`;
}

/** Local wall-clock time of an epoch-ms instant, HH:MM:SS. */
export function clock(ms) {
  return new Date(ms).toLocaleTimeString([], { hour12: false });
}

/** Shows a short message at the bottom of the window; errors stay until dismissed, others for five seconds. */
export function toast(message, kind = 'info') {
  const box = document.getElementById('toasts');
  // A refresh that keeps failing says so once, not every two seconds.
  if ([...box.children].some((t) => t.dataset.message === message)) return;
  const item = h('div', { class: `toast toast-${kind}`, role: kind === 'error' ? 'alert' : 'status', dataset: { message } },
    h('span', { text: message }),
    h('button', { type: 'button', class: 'quiet', 'aria-label': 'Dismiss', text: '×', on: { click: () => item.remove() } }));
  box.append(item);
  if (kind !== 'error') setTimeout(() => item.remove(), 5000);
}

/**
 * A table or view name as the API wants it in a path or an attachment: the schema spells a quoted SQL name as
 * written (`Totals`), and the server folds unquoted names to lower case, so such a name travels quoted.
 */
export function sqlName(name) {
  return name === name.toLowerCase() ? name : `"${name}"`;
}

/** A status word as a coloured badge; `kind` picks the colour (ok, busy, warn, err, idle). */
export function badge(text, kind) {
  return h('span', { class: `badge badge-${kind}`, text });
}

/** The badge colour of a pipeline or connector state word. */
export function stateKind(state) {
  switch (String(state).toLowerCase()) {
    case 'running': return 'ok';
    case 'paused': return 'idle';
    case 'failed': return 'err';
    case 'stalled': return 'warn';
    case 'shutdown': case 'stopped': return 'idle';
    default: return 'busy';
  }
}
