/**
 * A small code editor for the Sluice console: SQL and JSON with highlighting, line numbers and
 * diagnostics. No dependencies and no build step, because the console ships inside the server binary.
 *
 * Technique: a transparent <textarea> lies exactly over a highlighted <pre>. The textarea keeps every
 * native behaviour (caret, selection, undo, IME, screen readers, spell-check off) while the <pre>
 * only paints colours. Both share font, line-height, padding, tab-size and `white-space: pre`, and the
 * <pre> and gutter follow the textarea's scroll, so the glyphs line up.
 */

const SQL_KEYWORDS = new Set(`
  SELECT FROM WHERE GROUP BY HAVING ORDER LIMIT JOIN LEFT RIGHT FULL INNER OUTER CROSS ON USING AS
  CREATE TABLE VIEW MATERIALIZED WITH AND OR NOT NULL IS IN EXISTS BETWEEN LIKE CASE WHEN THEN ELSE
  END DISTINCT UNION ALL INTERSECT EXCEPT PRIMARY KEY INSERT VALUES CAST OVER PARTITION ROWS RANGE
  PRECEDING FOLLOWING UNBOUNDED CURRENT ROW LATENESS INTERVAL TRUE FALSE
  BOOLEAN TINYINT SMALLINT INT INTEGER BIGINT DECIMAL NUMERIC REAL DOUBLE FLOAT VARCHAR CHAR TEXT
  STRING DATE TIME TIMESTAMP BINARY VARBINARY ARRAY MAP`.trim().split(/\s+/));

/**
 * Ordered scanning rules; the first sticky regex that matches at the current position wins.
 * Unterminated strings and comments deliberately run to the end so half-typed text still renders.
 */
const SQL_RULES = [
  ['space', /\s+/y],
  ['comment', /--[^\n]*/y],
  ['comment', /\/\*[\s\S]*?(?:\*\/|$)/y],
  ['string', /'[^']*(?:''[^']*)*'?/y],
  ['ident', /"[^"]*(?:""[^"]*)*"?/y],
  ['ident', /`[^`]*(?:``[^`]*)*`?/y],
  ['number', /(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?/y],
  ['word', /[\p{L}_][\p{L}\p{N}_$]*/uy],
  ['operator', /<=|>=|<>|!=|\|\||::|->>|->|=>|[=<>+\-*/%!|&^~]/y],
  ['punct', /[(),;.[\]{}:]/y],
];

const JSON_RULES = [
  ['space', /\s+/y],
  // JSON strings cannot span lines, so an unclosed quote stops at the line end instead of
  // swallowing (and mis-colouring) the rest of the document.
  ['string', /"(?:[^"\\\n]|\\.)*"?/y],
  ['number', /-?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?/y],
  ['literal', /(?:true|false|null)(?![\p{L}\p{N}_])/uy],
  ['punct', /[{}[\],:]/y],
  ['text', /[^\s{}[\],:"]+/y],
];

const KEY_SUFFIX = /\s*:/y;
const MIN_ROWS = 3;
let nextId = 0;

/** Appends a token, merging runs of whitespace and unrecognised text so the DOM stays small. */
function pushToken(tokens, type, text) {
  const last = tokens.at(-1);
  if (last && last.type === type && (type === 'space' || type === 'text')) last.text += text;
  else tokens.push({ type, text });
}

/** Shared scanner: never fails, so concatenating the token texts always gives back the input. */
function scan(text, rules, classify) {
  const tokens = [];
  let pos = 0;
  next: while (pos < text.length) {
    for (const [type, re] of rules) {
      re.lastIndex = pos;
      const m = re.exec(text);
      if (m && m[0].length > 0) {
        pushToken(tokens, classify(type, m[0], re.lastIndex), m[0]);
        pos = re.lastIndex;
        continue next;
      }
    }
    const ch = String.fromCodePoint(text.codePointAt(pos));
    pushToken(tokens, 'text', ch);
    pos += ch.length;
  }
  return tokens;
}

/** @param {string} text @returns {{type: string, text: string}[]} tokens covering the whole text */
export function tokenizeSql(text) {
  return scan(String(text ?? ''), SQL_RULES, (type, word) =>
    type === 'word' ? (SQL_KEYWORDS.has(word.toUpperCase()) ? 'keyword' : 'ident') : type);
}

/** @param {string} text @returns {{type: string, text: string}[]} strings before a ':' become 'key' */
export function tokenizeJson(text) {
  const src = String(text ?? '');
  return scan(src, JSON_RULES, (type, _t, end) => {
    if (type !== 'string') return type;
    KEY_SUFFIX.lastIndex = end;
    return KEY_SUFFIX.test(src) ? 'key' : 'string';
  });
}

/** Offsets at which each line starts; used to turn line/column into a textarea offset and back. */
function lineStarts(text) {
  const starts = [0];
  for (let i = text.indexOf('\n'); i !== -1; i = text.indexOf('\n', i + 1)) starts.push(i + 1);
  return starts;
}

function positionOf(text, offset) {
  const starts = lineStarts(text);
  let line = starts.length;
  while (starts[line - 1] > offset) line--;
  return { line, column: offset - starts[line - 1] + 1 };
}

/**
 * Finds where a dotted path (as the server reports it for a JSON body) appears in the text, so a
 * validation error can point at a field. Deliberately textual: it works on invalid JSON too.
 * @param {string} text
 * @param {string} path e.g. "config.transport.config.topic" or "columns[2].name"
 * @returns {{line: number, column: number} | null} position of the deepest segment's key
 */
export function locateJsonPath(text, path) {
  const src = String(text ?? '');
  const segments = String(path ?? '').split(/[.[\]]+/).filter(Boolean);
  let from = 0;
  let found = -1;
  for (const segment of segments) {
    const quoted = JSON.stringify(segment);
    // The first occurrence used as a key (followed by ':') after the previous match; a segment
    // that is absent (e.g. the request-level "config" the editor does not show) is skipped.
    for (let i = src.indexOf(quoted, from); i !== -1; i = src.indexOf(quoted, i + 1)) {
      KEY_SUFFIX.lastIndex = i + quoted.length;
      if (KEY_SUFFIX.test(src)) {
        found = i;
        from = i + quoted.length;
        break;
      }
    }
  }
  return found === -1 ? null : positionOf(src, found);
}

function el(tag, className, attrs = {}) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
  return node;
}

const clamp = (n, lo, hi) => Math.min(Math.max(n, lo), hi);
const toInt = (v, fallback) => (Number.isFinite(Number(v)) && Number(v) >= 1 ? Math.trunc(Number(v)) : fallback);

export class CodeEditor {
  #container; #root; #gutter; #area; #pre; #code; #ta; #list;
  #language; #rows; #markers = []; #lineKeys = []; #listeners = new Set(); #frame = 0; #charWidth = 0;

  /**
   * @param {HTMLElement} container element the editor appends itself into
   * @param {{language?: 'sql'|'json', value?: string, label?: string, rows?: number, readOnly?: boolean}} options
   */
  constructor(container, options = {}) {
    this.#container = container;
    this.#language = options.language === 'json' ? 'json' : options.language === 'sql' ? 'sql' : 'text';
    this.#rows = toInt(options.rows, 16);
    const listId = `code-markers-${++nextId}`;

    this.#root = el('div', 'code-editor', { 'data-language': this.#language, dir: 'ltr', translate: 'no' });
    this.#gutter = el('div', 'code-gutter', { 'aria-hidden': 'true' });
    this.#area = el('div', 'code-area');
    this.#pre = el('pre', 'code-highlight', { 'aria-hidden': 'true' });
    this.#code = el('code');
    this.#ta = el('textarea', 'code-input', {
      spellcheck: 'false', autocapitalize: 'off', autocomplete: 'off', autocorrect: 'off', wrap: 'off',
      'aria-label': options.label || `${this.#language.toUpperCase()} editor`,
    });
    this.#ta.readOnly = Boolean(options.readOnly);
    this.#root.classList.toggle('is-readonly', this.#ta.readOnly);
    this.#list = el('ul', 'code-markers', { id: listId, 'aria-label': 'Problems' });
    this.#list.hidden = true;

    this.#pre.append(this.#code);
    this.#area.append(this.#pre, this.#ta);
    this.#root.append(this.#gutter, this.#area);
    container.append(this.#root, this.#list);

    this.#ta.addEventListener('input', () => {
      // Coalesce bursts of input (paste, key repeat) into one re-render per frame.
      if (!this.#frame) this.#frame = requestAnimationFrame(() => this.#render());
      const text = this.#ta.value;
      for (const cb of this.#listeners) cb(text);
    });
    this.#ta.addEventListener('scroll', () => this.#syncScroll(), { passive: true });
    this.#ta.addEventListener('keydown', (e) => {
      // Tab is left alone on purpose: keyboard users must be able to leave the field.
      if (e.key === 'Enter' && (e.ctrlKey || e.metaKey) && !e.isComposing) {
        e.preventDefault();
        // Inside a form, Ctrl+Enter submits it like its submit button; elsewhere the page hears 'editor-submit'.
        // (A synthetic event named 'submit' does not reach a form's listeners in Chromium.)
        if (this.#ta.form) this.#ta.form.requestSubmit();
        else this.#container.dispatchEvent(new CustomEvent('editor-submit', { bubbles: true, detail: { value: this.value } }));
      }
    });
    const activate = (e) => {
      const item = e.target.closest?.('li.marker');
      if (!item) return;
      if (e.type === 'keydown') {
        if (e.key !== 'Enter' && e.key !== ' ') return;
        e.preventDefault();
      }
      this.focusAt(Number(item.dataset.line), Number(item.dataset.column));
    };
    this.#list.addEventListener('click', activate);
    this.#list.addEventListener('keydown', activate);

    this.value = options.value ?? '';
  }

  get value() { return this.#ta.value; }

  set value(text) {
    this.#ta.value = String(text ?? '');
    this.#markers = [];
    this.#renderMarkerList();
    this.#render();
  }

  /**
   * @param {{line: number, column: number, endLine?: number, endColumn?: number, message: string,
   *          severity?: 'error'|'warning'}[]} markers
   */
  setMarkers(markers) {
    this.#markers = (Array.isArray(markers) ? markers : []).filter(Boolean).map((m) => {
      const line = toInt(m.line, 1);
      return {
        line,
        column: toInt(m.column, 1),
        endLine: Math.max(line, toInt(m.endLine, line)),
        message: String(m.message ?? ''),
        severity: m.severity === 'warning' ? 'warning' : 'error',
      };
    });
    this.#renderMarkerList();
    this.#render();
  }

  /** Puts the caret at a 1-based position (clamped to the text), scrolls it into view and focuses. */
  focusAt(line, column) {
    const text = this.#ta.value;
    const starts = lineStarts(text);
    const l = clamp(toInt(line, 1), 1, starts.length);
    const lineEnd = l < starts.length ? starts[l] - 1 : text.length;
    const offset = starts[l - 1] + clamp(toInt(column, 1), 1, lineEnd - starts[l - 1] + 1) - 1;
    this.#ta.focus({ preventScroll: true });
    this.#ta.setSelectionRange(offset, offset);

    const { line: lh, pad, tab } = this.#metrics();
    const ta = this.#ta;
    const y = pad + (l - 1) * lh;
    if (y - pad < ta.scrollTop) ta.scrollTop = y - pad;
    else if (y + lh + pad > ta.scrollTop + ta.clientHeight) ta.scrollTop = y + lh + pad - ta.clientHeight;
    // Visual column: tabs advance to the next tab stop, as they do in the rendered text.
    let col = 0;
    for (const ch of text.slice(starts[l - 1], offset)) col = ch === '\t' ? (Math.floor(col / tab) + 1) * tab : col + 1;
    const cw = this.#measureChar();
    const x = pad + col * cw;
    if (x - pad < ta.scrollLeft) ta.scrollLeft = Math.max(0, x - pad - 4 * cw);
    else if (x + cw + pad > ta.scrollLeft + ta.clientWidth) ta.scrollLeft = x + 4 * cw + pad - ta.clientWidth;
    this.#syncScroll();
    this.#root.scrollIntoView({ block: 'nearest', inline: 'nearest' });
  }

  /** @param {(text: string) => void} callback called after each user edit; returns an unsubscribe function */
  onChange(callback) {
    this.#listeners.add(callback);
    return () => this.#listeners.delete(callback);
  }

  focus() { this.#ta.focus(); }

  #tokenize(text) {
    if (this.#language === 'sql') return tokenizeSql(text);
    if (this.#language === 'json') return tokenizeJson(text);
    return [{ type: 'text', text }];
  }

  /** Line metrics come from CSS (px values) so the stylesheet stays the single source of truth. */
  #metrics() {
    const cs = getComputedStyle(this.#ta);
    return {
      line: parseFloat(cs.lineHeight) || 20,
      pad: parseFloat(cs.paddingTop) || 0,
      tab: parseInt(cs.tabSize, 10) || 4,
    };
  }

  #measureChar() {
    if (!this.#charWidth) {
      const probe = el('span');
      probe.textContent = '0'.repeat(32);
      this.#code.append(probe);
      this.#charWidth = probe.getBoundingClientRect().width / 32;
      probe.remove();
    }
    return this.#charWidth || 8;
  }

  /** Which lines carry a marker; an error outranks a warning on the same line. */
  #lineMarks(lineCount) {
    const marks = new Map();
    for (const m of this.#markers) {
      for (let n = m.line; n <= Math.min(m.endLine, lineCount); n++) {
        const prev = marks.get(n);
        marks.set(n, {
          severity: prev?.severity === 'error' ? 'error' : m.severity,
          messages: [...(prev?.messages ?? []), m.message],
        });
      }
    }
    return marks;
  }

  /**
   * Re-tokenizes the whole text (a block comment can recolour everything after it) but only
   * replaces the changed run of lines in the DOM: a full rebuild of a 2000-line text costs a
   * visible pause per keystroke, while a typical edit touches one line.
   */
  #render() {
    if (this.#frame) cancelAnimationFrame(this.#frame);
    this.#frame = 0;
    const text = this.#ta.value;
    const lines = [[]];
    for (const token of this.#tokenize(text)) {
      token.text.split('\n').forEach((part, i) => {
        if (i > 0) lines.push([]);
        if (part) lines.at(-1).push(token.type, part);
      });
    }
    const lineCount = lines.length;
    const marks = this.#lineMarks(lineCount);
    // A line's key captures everything its element depends on, including whether it ends in '\n'.
    const keys = lines.map((parts, i) =>
      `${marks.get(i + 1)?.severity ?? ''}${i === lineCount - 1 ? '$' : ''}\u0000${parts.join('\u0000')}`);

    const old = this.#lineKeys;
    let head = 0;
    while (head < old.length && head < keys.length && old[head] === keys[head]) head++;
    let oldEnd = old.length;
    let newEnd = keys.length;
    while (oldEnd > head && newEnd > head && old[oldEnd - 1] === keys[newEnd - 1]) { oldEnd--; newEnd--; }
    const rows = this.#code.children;
    const before = rows[oldEnd] ?? null;
    for (let i = oldEnd - 1; i >= head; i--) rows[i].remove();
    const frag = document.createDocumentFragment();
    for (let i = head; i < newEnd; i++) {
      const mark = marks.get(i + 1);
      const line = el('span', mark ? `code-line line-${mark.severity}` : 'code-line');
      const parts = lines[i];
      for (let j = 0; j < parts.length; j += 2) {
        const [type, part] = [parts[j], parts[j + 1]];
        if (type === 'space' || type === 'text') line.append(document.createTextNode(part));
        else {
          const span = el('span', `tok-${type}`);
          span.textContent = part;
          line.append(span);
        }
      }
      // The newline lives inside the line so the <pre>'s text stays identical to the textarea's.
      if (i < lineCount - 1) line.append(document.createTextNode('\n'));
      frag.append(line);
    }
    this.#code.insertBefore(frag, before);
    this.#lineKeys = keys;

    const gutter = this.#gutter;
    while (gutter.children.length > lineCount) gutter.lastElementChild.remove();
    const extra = document.createDocumentFragment();
    for (let i = gutter.children.length + 1; i <= lineCount; i++) {
      const g = el('div', 'gutter-line');
      g.textContent = String(i);
      extra.append(g);
    }
    gutter.append(extra);
    for (let i = 0; i < lineCount; i++) {
      const g = gutter.children[i];
      const mark = marks.get(i + 1);
      const cls = mark ? `gutter-line has-${mark.severity}` : 'gutter-line';
      if (g.className !== cls) g.className = cls;
      if (mark) g.title = mark.messages.join('\n');
      else if (g.hasAttribute('title')) g.removeAttribute('title');
    }
    gutter.style.minWidth = `${String(lineCount).length + 2}ch`;

    // Grow with the text up to `rows` lines, then let the textarea scroll.
    // The gutter gets the same explicit height: its content is taller than the view (it must be
    // able to scroll as far as the textarea) and would otherwise stretch the editor.
    const { line: lh, pad } = this.#metrics();
    const visible = clamp(lineCount, Math.min(MIN_ROWS, this.#rows), this.#rows);
    const setHeight = (px) => { this.#area.style.height = this.#gutter.style.height = `${px}px`; };
    setHeight(visible * lh + 2 * pad);
    const scrollbar = this.#ta.offsetHeight - this.#ta.clientHeight;
    if (scrollbar > 0) setHeight(visible * lh + 2 * pad + scrollbar);
    this.#syncScroll();
  }

  #renderMarkerList() {
    const items = this.#markers.map((m) => {
      const li = el('li', `marker marker-${m.severity}`, {
        'data-line': String(m.line), 'data-column': String(m.column), tabindex: '0', role: 'button',
      });
      li.textContent = `line ${m.line}, column ${m.column}: ${m.message}`;
      return li;
    });
    this.#list.replaceChildren(...items);
    this.#list.hidden = items.length === 0;
    // Screen-reader users hear the problems when they land in the field.
    if (items.length) this.#ta.setAttribute('aria-describedby', this.#list.id);
    else this.#ta.removeAttribute('aria-describedby');
    if (this.#markers.some((m) => m.severity === 'error')) this.#ta.setAttribute('aria-invalid', 'true');
    else this.#ta.removeAttribute('aria-invalid');
  }

  #syncScroll() {
    this.#pre.scrollTop = this.#ta.scrollTop;
    this.#pre.scrollLeft = this.#ta.scrollLeft;
    this.#gutter.scrollTop = this.#ta.scrollTop;
  }
}
