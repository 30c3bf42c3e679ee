/**
 * Small time-series line chart for the Sluice console.
 *
 * Written without dependencies because the console ships as static files
 * embedded in the server binary, with no build step, under a strict CSP
 * (`default-src 'self'`). All styling therefore comes from chart.css and
 * CSS custom properties; the only per-element styles are set through CSSOM.
 */

/** Fixed CSS height of the plot; width follows the container. */
const HEIGHT = 160;
const SERIES_COLOURS = 6;
/** Used when chart.css is not loaded, so the chart never draws invisible ink. */
const FALLBACK = {
  series: ['#2563eb', '#d97706', '#059669', '#db2777', '#7c3aed', '#0891b2'],
  grid: '#e5e7eb', text: '#6b7280', stalled: '#f59e0b', failed: '#dc2626',
};
/** Candidate x tick spacings in seconds, so labels land on round clock times. */
const TICK_STEPS = [1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 21600, 43200, 86400];
const BAND_ALPHA = 0.18;

const pad2 = (n) => String(n).padStart(2, '0');
/** HH:MM:SS in local time: operators compare against wall clocks, not UTC. */
const clock = (ms) => {
  const d = new Date(ms);
  return `${pad2(d.getHours())}:${pad2(d.getMinutes())}:${pad2(d.getSeconds())}`;
};
/** Only finite numbers are plottable; everything else becomes a gap. */
const num = (v) => (typeof v === 'number' && Number.isFinite(v) ? v : null);

/** Rounds up to 1, 2 or 5 × 10^n so gridline labels stay readable. */
function niceMax(max) {
  if (!(max > 0)) return 1;
  const p = 10 ** Math.floor(Math.log10(max));
  for (const m of [1, 2, 5]) if (max <= m * p * (1 + 1e-9)) return m * p;
  return 10 * p;
}

/** Creates an element with a class; keeps DOM construction terse. */
function el(tag, cls) {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  return e;
}

export class TimeChart {
  #fig; #canvas; #legend; #bands; #title; #format; #windowMs;
  /** @type {{t: number, v: Map<string, number|null>}[]} kept sorted by t */
  #samples = [];
  /** @type {Map<string, {label: string, index: number, colour: string, li: HTMLElement, labelEl: HTMLElement, valueEl: HTMLElement, swatch: HTMLElement}>} */
  #series = new Map();
  #bandList = [];
  #frame = 0;
  #cssWidth = 0;
  /** Set when work was skipped while hidden, so it is caught up on return. */
  #stale = false;
  #destroyed = false;
  #ro = null;
  #onVisibility = () => {
    if (document.visibilityState === 'visible' && this.#stale) {
      this.#stale = false;
      this.#updateText();
      this.#schedule();
    }
  };

  /**
   * @param {HTMLElement} container element the chart fills
   * @param {{title: string, format?: (v: number) => string, windowSeconds?: number, bandList?: boolean}} options
   *   `bandList: false` shades the periods without listing them under the chart (a page showing several charts
   *   of the same periods lists them once).
   */
  constructor(container, options = {}) {
    this.#title = String(options.title ?? '');
    this.#format = typeof options.format === 'function' ? options.format : (v) => String(+v.toPrecision(3));
    this.#windowMs = Math.max(1, Number(options.windowSeconds) || 300) * 1000;

    this.#fig = el('figure', 'chart');
    const cap = el('figcaption', 'chart-title');
    cap.textContent = this.#title;
    this.#canvas = el('canvas');
    this.#canvas.setAttribute('role', 'img');
    this.#legend = el('ul', 'chart-legend');
    this.#bands = el('ul', 'chart-bands');
    this.#fig.append(cap, this.#canvas, this.#legend);
    if (options.bandList !== false) this.#fig.append(this.#bands);
    container.append(this.#fig);
    this.#updateText();

    // Observe the canvas itself: its CSS box is exactly what we must fill, and
    // changing its bitmap size (attributes) never changes that box, so no loop.
    if (typeof ResizeObserver === 'function') {
      this.#ro = new ResizeObserver((entries) => {
        const w = Math.floor(entries[entries.length - 1].contentRect.width);
        if (w === this.#cssWidth) return;
        this.#cssWidth = w;
        // Draw synchronously: resizing the bitmap clears it, and waiting a frame would flash.
        if (this.#hidden()) this.#stale = true; else this.#draw();
      });
      this.#ro.observe(this.#canvas);
    } else {
      this.#cssWidth = Math.floor(this.#canvas.clientWidth);
    }
    document.addEventListener('visibilitychange', this.#onVisibility);
  }

  /**
   * Appends one sample. Series are keyed by id so colours stay stable while
   * labels may change; a missing or null value is stored as a gap.
   * @param {number} tMs epoch milliseconds
   * @param {Map<string, {label: string, value: number|null}> | Record<string, {label: string, value: number|null}>} values
   */
  push(tMs, values) {
    if (!Number.isFinite(tMs)) return;
    const v = new Map();
    const entries = values instanceof Map ? values.entries() : Object.entries(values ?? {});
    for (const [id, s] of entries) {
      const key = String(id);
      this.#ensureSeries(key, s?.label);
      v.set(key, num(s?.value));
    }
    // Samples normally arrive in order; tolerate a late one by inserting it in place.
    let i = this.#samples.length;
    while (i > 0 && this.#samples[i - 1].t > tMs) i--;
    this.#samples.splice(i, 0, { t: tMs, v });
    const cutoff = this.#samples[this.#samples.length - 1].t - this.#windowMs;
    let drop = 0;
    while (drop < this.#samples.length && this.#samples[drop].t < cutoff) drop++;
    if (drop) this.#samples.splice(0, drop);

    if (this.#hidden()) { this.#stale = true; return; }
    this.#updateText();
    this.#schedule();
  }

  /**
   * Replaces the shaded periods (stalls, failures) shown on the time axis.
   * @param {{from: number, to: number|null, kind: 'stalled'|'failed', label: string}[]} bands
   */
  setBands(bands) {
    this.#bandList = Array.isArray(bands) ? bands.filter((b) => Number.isFinite(b?.from)) : [];
    const items = this.#bandList.map((b) => {
      const li = el('li');
      li.dataset.kind = b.kind === 'failed' ? 'failed' : 'stalled';
      const span = Number.isFinite(b.to) ? `${clock(b.from)}–${clock(b.to)}` : `since ${clock(b.from)}`;
      li.textContent = `${li.dataset.kind} ${span}${b.label ? `: ${b.label}` : ''}`;
      return li;
    });
    this.#bands.replaceChildren(...items);
    if (this.#hidden()) this.#stale = true; else this.#schedule();
  }

  /** Detaches observers so a discarded chart can be garbage-collected. The DOM is left to the caller. */
  destroy() {
    this.#destroyed = true;
    this.#ro?.disconnect();
    this.#ro = null;
    document.removeEventListener('visibilitychange', this.#onVisibility);
    if (this.#frame) cancelAnimationFrame(this.#frame);
    this.#frame = 0;
  }

  #hidden() { return document.visibilityState === 'hidden'; }

  #ensureSeries(id, label) {
    const text = String(label ?? id);
    let s = this.#series.get(id);
    if (!s) {
      const li = el('li');
      li.dataset.series = id;
      const swatch = el('span', 'swatch');
      const labelEl = el('span', 'label');
      const valueEl = el('span', 'value');
      li.append(swatch, labelEl, ' ', valueEl);
      s = { label: '', index: this.#series.size % SERIES_COLOURS, li, labelEl, valueEl, swatch, colour: '' };
      s.colour = swatch.style.background = this.#colours().series[s.index];
      this.#series.set(id, s);
      this.#legend.append(li);
    }
    if (s.label !== text) s.labelEl.textContent = s.label = text;
  }

  /**
   * Legend values and the accessible summary reflect the newest sample; `data-peak` (and the tooltip) hold the
   * largest value in the window, so a burst stays readable after it passed.
   */
  #updateText() {
    const last = this.#samples[this.#samples.length - 1];
    const parts = [];
    for (const [id, s] of this.#series) {
      const v = last?.v.get(id) ?? null;
      const text = v === null ? '–' : this.#format(v);
      let peak = null;
      for (const sample of this.#samples) {
        const x = sample.v.get(id);
        if (x !== null && x !== undefined && (peak === null || x > peak)) peak = x;
      }
      s.valueEl.dataset.value = v === null ? '' : String(v);
      s.valueEl.dataset.peak = peak === null ? '' : String(peak);
      s.valueEl.title = peak === null ? '' : `peak in the window: ${this.#format(peak)}`;
      s.valueEl.textContent = text;
      if (v !== null) parts.push(`${s.label} ${text}`);
    }
    this.#canvas.setAttribute('aria-label', `${this.#title}: ${parts.length ? parts.join(', ') : 'no data'}`);
  }

  /** Read on every draw so a theme switch is picked up without an API call. */
  #colours() {
    const cs = getComputedStyle(this.#fig);
    const get = (name, dflt) => cs.getPropertyValue(name).trim() || dflt;
    return {
      series: FALLBACK.series.map((c, i) => get(`--chart-${i + 1}`, c)),
      grid: get('--chart-grid', FALLBACK.grid),
      text: get('--chart-text', FALLBACK.text),
      stalled: get('--chart-stalled', FALLBACK.stalled),
      failed: get('--chart-failed', FALLBACK.failed),
      font: `11px ${get('--font-mono', 'ui-monospace, monospace')}`,
    };
  }

  /**
   * Evenly spaced y gridlines from 0 to yMax. A 5×10^n max splits in fives so steps stay
   * round; if the formatter rounds two neighbours to the same text (e.g. "0/s" twice for
   * a tiny max), fewer divisions are used rather than printing misleading labels.
   */
  #gridlines(yMax) {
    const lead = Math.round(yMax / 10 ** Math.floor(Math.log10(yMax)));
    for (const n of lead === 5 ? [5, 1] : [4, 2, 1]) {
      const lines = Array.from({ length: n + 1 }, (_, k) => ({ v: (yMax * k) / n, text: this.#format((yMax * k) / n) }));
      if (n === 1 || lines.every((g, k) => k === 0 || g.text !== lines[k - 1].text)) return lines;
    }
  }

  /** Coalesces bursts of pushes into one paint per frame. */
  #schedule() {
    if (this.#frame || this.#destroyed) return;
    this.#frame = requestAnimationFrame(() => { this.#frame = 0; this.#draw(); });
  }

  #draw() {
    if (this.#destroyed || this.#hidden()) return;
    const dpr = window.devicePixelRatio || 1;
    const w = this.#cssWidth;
    const bw = Math.round(w * dpr), bh = Math.round(HEIGHT * dpr);
    if (this.#canvas.width !== bw) this.#canvas.width = bw;
    if (this.#canvas.height !== bh) this.#canvas.height = bh;
    if (w <= 0) return;
    const ctx = this.#canvas.getContext('2d');
    if (!ctx) return;
    const c = this.#colours();
    // Keep swatches in step with a theme change; compare our own copy, since CSSOM normalises colours.
    for (const s of this.#series.values()) {
      const colour = c.series[s.index];
      if (s.colour !== colour) s.swatch.style.background = s.colour = colour;
    }
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    ctx.clearRect(0, 0, w, HEIGHT);
    ctx.font = c.font;
    ctx.fillStyle = c.text;
    if (!this.#samples.length) {
      ctx.textAlign = 'center';
      ctx.textBaseline = 'middle';
      ctx.fillText('no data', w / 2, HEIGHT / 2);
      return;
    }

    let max = 0;
    for (const { v } of this.#samples) for (const x of v.values()) if (x !== null && x > max) max = x;
    const yMax = niceMax(max);
    const grid = this.#gridlines(yMax);
    const left = Math.ceil(Math.max(...grid.map((g) => ctx.measureText(g.text).width))) + 8;
    const top = 8, right = w - 8, bottom = HEIGHT - 20;
    const plotW = right - left, plotH = bottom - top;
    if (plotW <= 0) return;
    // A young chart spans what it has (at least a minute) rather than squeezing it against the right edge.
    const tEnd = this.#samples[this.#samples.length - 1].t;
    const span = Math.min(this.#windowMs, Math.max(60_000, tEnd - this.#samples[0].t));
    const tStart = tEnd - span;
    const X = (t) => left + ((t - tStart) / span) * plotW;
    const Y = (v) => bottom - (v / yMax) * plotH;

    // Bands first so lines and grid stay legible on top of them.
    ctx.globalAlpha = BAND_ALPHA;
    for (const b of this.#bandList) {
      const x0 = Math.max(left, X(b.from));
      const x1 = Number.isFinite(b.to) ? Math.min(right, X(b.to)) : right;
      if (x1 < left || x0 > right || x1 < x0) continue;
      ctx.fillStyle = b.kind === 'failed' ? c.failed : c.stalled;
      ctx.fillRect(x0, top, Math.max(1, x1 - x0), plotH);
    }
    ctx.globalAlpha = 1;

    // Horizontal gridlines with y labels; half-pixel offsets keep 1px lines sharp.
    ctx.strokeStyle = c.grid;
    ctx.lineWidth = 1;
    ctx.fillStyle = c.text;
    ctx.textAlign = 'right';
    ctx.textBaseline = 'middle';
    for (const g of grid) {
      const y = Math.round(Y(g.v)) + 0.5;
      ctx.beginPath(); ctx.moveTo(left, y); ctx.lineTo(right, y); ctx.stroke();
      ctx.fillText(g.text, left - 6, y);
    }

    // X ticks on round clock times, as many as fit without overlapping.
    const maxTicks = Math.max(1, Math.floor(plotW / 80));
    const step = (TICK_STEPS.find((s) => span / 1000 / s <= maxTicks) ?? TICK_STEPS.at(-1)) * 1000;
    ctx.textAlign = 'center';
    ctx.textBaseline = 'top';
    for (let t = Math.ceil(tStart / step) * step; t <= tEnd; t += step) {
      const x = Math.round(X(t)) + 0.5, label = clock(t);
      ctx.beginPath(); ctx.moveTo(x, bottom); ctx.lineTo(x, bottom + 4); ctx.stroke();
      const half = ctx.measureText(label).width / 2;
      if (x - half >= 0 && x + half <= w) ctx.fillText(label, x, bottom + 6);
    }

    // One path per series; a null breaks the pen, an isolated point gets a dot.
    ctx.save();
    ctx.beginPath(); ctx.rect(left - 2, top - 2, plotW + 4, plotH + 4); ctx.clip();
    ctx.lineWidth = 2;
    ctx.lineJoin = ctx.lineCap = 'round';
    for (const [id, s] of this.#series) {
      ctx.strokeStyle = ctx.fillStyle = c.series[s.index];
      ctx.beginPath();
      let run = 0, px = 0, py = 0;
      // fillRect leaves the current path alone, so the dot can be painted mid-path.
      const endRun = () => { if (run === 1) ctx.fillRect(px - 2, py - 2, 4, 4); run = 0; };
      for (const { t, v } of this.#samples) {
        const val = v.get(id) ?? null;
        if (val === null) { endRun(); continue; }
        px = X(t); py = Y(val);
        if (run === 0) ctx.moveTo(px, py); else ctx.lineTo(px, py);
        run++;
      }
      endRun();
      ctx.stroke();
    }
    ctx.restore();
  }
}
