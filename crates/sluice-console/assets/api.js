// The console's only way to the server: the same /v0 API as any client, with the user's API key when the server
// wants one. Errors come back as the API's JSON `{message, error_code, details}` and are thrown as ApiError, so a
// page can show the message and, for a config error, the field it names.

const KEY_STORAGE = 'sluice.apiKey';

/** An answer other than 2xx. `code` is the API's error_code, `details` its details object. */
export class ApiError extends Error {
  constructor(status, body) {
    super(body?.message ?? `HTTP ${status}`);
    this.status = status;
    this.code = body?.error_code ?? 'HttpError';
    this.details = body?.details ?? {};
  }
}

/** The key kept for this tab (sessionStorage: it goes when the tab closes). */
export function apiKey() {
  return sessionStorage.getItem(KEY_STORAGE);
}

export function setApiKey(key) {
  if (key) sessionStorage.setItem(KEY_STORAGE, key);
  else sessionStorage.removeItem(KEY_STORAGE);
}

function headers(body) {
  const h = { Accept: 'application/json' };
  if (body !== undefined) h['Content-Type'] = 'application/json';
  const key = apiKey();
  if (key) h.Authorization = `Bearer ${key}`;
  return h;
}

async function fail(response) {
  const text = await response.text();
  let body;
  try {
    body = JSON.parse(text);
  } catch {
    body = { message: text || `${response.status} ${response.statusText}` };
  }
  if (response.status === 401) window.dispatchEvent(new CustomEvent('sluice:need-key', { detail: body }));
  return new ApiError(response.status, body);
}

/**
 * One request; resolves to the parsed JSON answer (or null for an empty one), rejects with ApiError. `raw` sends
 * a string body as it is (ingress records, one JSON document per line) instead of as one JSON value.
 */
export async function call(method, path, body, { signal, raw = false } = {}) {
  const response = await fetch(path, {
    method,
    headers: headers(body),
    body: body === undefined ? undefined : raw ? body : JSON.stringify(body),
    signal,
  });
  if (!response.ok) throw await fail(response);
  const text = await response.text();
  return text ? JSON.parse(text) : null;
}

export const get = (path, options) => call('GET', path, undefined, options);

/** `encodeURIComponent` for one path segment. */
export const seg = encodeURIComponent;

/**
 * Reads an NDJSON stream (the egress watch) and calls `onLine` with each parsed line until the server ends it or
 * `signal` aborts. Resolves when the stream ends; rejects with ApiError when the server refuses it.
 */
export async function stream(method, path, onLine, signal) {
  const response = await fetch(path, { method, headers: headers(), signal });
  if (!response.ok) throw await fail(response);
  const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
  let pending = '';
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    pending += value;
    let newline;
    while ((newline = pending.indexOf('\n')) >= 0) {
      const line = pending.slice(0, newline).trim();
      pending = pending.slice(newline + 1);
      if (line) onLine(JSON.parse(line));
    }
  }
  if (pending.trim()) onLine(JSON.parse(pending));
}
