// Plots of the run from its start to the moment shown: replicas behind the newest write, messages
// per second by kind, the share of reads that were stale, and how long writes took to reach
// every replica. The core samples the run at fixed moments of virtual time (src/sim/metrics.rs),
// so going back in time shows the plots as they were then. Drawn on canvases rather than with a
// charting library: four small fixed charts in the page's own palette and type, redrawn a few
// times a second, take less code than configuring one (and no dependency to vendor).

import { COLOURS, FONT } from './palette.js';

// Sample fields, in the order the core sends them (Sample::values in src/sim/metrics.rs).
const F = { replicate: 0, requests: 1, repair: 2, hint: 3, antiEntropy: 4, dropped: 5, writes: 6, reads: 7, staleReads: 8, failed: 9, staleReplicas: 10, divergentKeys: 11 };
// Messages by kind, stacked bottom to top in this order (and listed in it in the legend).
export const KINDS = [
  { field: F.replicate, name: 'write', colour: COLOURS.replicate },
  { field: F.requests, name: 'request / reply', colour: COLOURS.reply },
  { field: F.repair, name: 'read repair', colour: COLOURS.repair },
  { field: F.hint, name: 'hint', colour: COLOURS.hint },
  { field: F.antiEntropy, name: 'anti-entropy', colour: COLOURS.sync },
];
const BARS = 48; // rates are averaged over at most this many stretches of the run
const PAD = { left: 34, right: 8, top: 6, bottom: 16 };
const REFRESH_MS = 250;

/** The numbers the core sent (`Simulation.plots`) at the moment `now`, unpacked. */
export function readPlots(a, bounds, now) {
  const [interval, count, fields, buckets, notYet] = a;
  // Samples 0 .. count-1, then (index `count`) the cluster as it is now.
  const at = (i, field) => a[5 + i * fields + field];
  const timeOf = (i) => (i < count ? i * interval : now);
  const histogram = Array.from(a.subarray(5 + (count + 1) * fields, 5 + (count + 1) * fields + buckets));
  return { interval, count, at, timeOf, now, histogram, bounds, notYet };
}

const FIELD_NAMES = Object.keys(F);

/**
 * What the plots draw, as objects (for `sim.samples()`): `{intervalMs, samples, now,
 * convergence, notYetEverywhere}`; sample i (at i × intervalMs, before anything happened at
 * that moment) has running totals of messages sent by kind, dropped copies, writes, reads,
 * stale reads and failed requests, and the stale replicas and divergent keys at that moment;
 * `now` is the same for the cluster as it is now; `convergence` counts writes by the time they
 * took to reach every replica (`{underMs, count}`, the last bucket open-ended).
 */
export function samplesFrom(core) {
  const p = readPlots(core.plots(), core.constructor.plotBuckets(), core.now());
  const samples = [];
  for (let i = 0; i < p.count; i++) {
    const sample = { timeMs: i * p.interval };
    FIELD_NAMES.forEach((name, field) => {
      sample[name] = p.at(i, field);
    });
    samples.push(sample);
  }
  const now = { timeMs: p.now };
  FIELD_NAMES.forEach((name, field) => {
    now[name] = p.at(p.count, field);
  });
  const convergence = p.histogram.map((count, i) => ({ underMs: i < p.bounds.length ? p.bounds[i] : null, count }));
  return { intervalMs: p.interval, samples, now, convergence, notYetEverywhere: p.notYet };
}

/** A round step for an axis that spans `span` in about `ticks` steps. */
function niceStep(span, ticks) {
  const raw = span / Math.max(1, ticks);
  const power = 10 ** Math.floor(Math.log10(raw || 1));
  const step = [1, 2, 5, 10].map((m) => m * power).find((s) => s >= raw);
  return step ?? 10 * power;
}

function seconds(ms) {
  if (ms === 0) return '0';
  return ms % 1000 === 0 ? `${ms / 1000} s` : `${(ms / 1000).toFixed(1)} s`;
}

function duration(ms) {
  if (ms < 1000) return `${ms} ms`;
  return ms < 60000 ? `${ms / 1000} s` : `${ms / 60000} min`;
}

/**
 * Stretches of `per` samples, [{from, to, t0, t1}], for differences of running totals between
 * their ends; the last one ends now (sample index `count`), if time has passed since the last
 * sample.
 */
function stretches(p, per) {
  const out = [];
  let i = 0;
  for (; i + per < p.count; i += per) out.push({ from: i, to: i + per });
  if (p.now > p.timeOf(i)) out.push({ from: i, to: p.count });
  return out.map((s) => ({ ...s, t0: p.timeOf(s.from), t1: p.timeOf(s.to) }));
}

class Chart {
  constructor(canvas) {
    this.canvas = canvas;
    this.ctx = canvas.getContext('2d');
    this.width = 0;
    this.height = 0;
  }

  /** Sizes the canvas to its box; returns the drawing context, cleared. */
  begin() {
    const dpr = window.devicePixelRatio || 1;
    const w = this.canvas.clientWidth;
    const h = this.canvas.clientHeight;
    if (w !== this.width || h !== this.height) {
      this.width = w;
      this.height = h;
      this.canvas.width = Math.round(w * dpr);
      this.canvas.height = Math.round(h * dpr);
    }
    const ctx = this.ctx;
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    ctx.clearRect(0, 0, w, h);
    ctx.font = `11px ${FONT}`;
    return ctx;
  }

  get plotWidth() {
    return Math.max(10, this.width - PAD.left - PAD.right);
  }

  get plotHeight() {
    return Math.max(10, this.height - PAD.top - PAD.bottom);
  }

  x(t, end) {
    return PAD.left + (t / end) * this.plotWidth;
  }

  y(v, top) {
    return PAD.top + this.plotHeight * (1 - v / top);
  }

  /** A value axis from 0 to `top`: grid lines and labels every `step`. */
  valueAxis(top, step, format = String) {
    const ctx = this.ctx;
    ctx.strokeStyle = COLOURS.cardBorder;
    ctx.fillStyle = COLOURS.muted;
    ctx.lineWidth = 1;
    ctx.textAlign = 'right';
    ctx.textBaseline = 'middle';
    for (let v = 0; v <= top + 1e-9; v += step) {
      const y = Math.round(this.y(v, top)) + 0.5;
      ctx.beginPath();
      ctx.moveTo(PAD.left, y);
      ctx.lineTo(PAD.left + this.plotWidth, y);
      ctx.stroke();
      ctx.fillText(format(v), PAD.left - 4, y);
    }
    ctx.textAlign = 'center';
    ctx.textBaseline = 'top';
  }

  /** Axes: a time axis from 0 to `end` ms and a value axis from 0 to `top` (whole steps). */
  axes(end, top, format = String) {
    this.valueAxis(top, Math.max(1, niceStep(top, 3)), format);
    const tStep = niceStep(end, Math.max(2, Math.floor(this.plotWidth / 70)));
    for (let t = 0; t <= end; t += tStep) {
      this.ctx.fillText(seconds(t), this.x(t, end), PAD.top + this.plotHeight + 3);
    }
  }
}

export class Plots {
  /** `page` is all the plots may do to the rest of the page: refresh() the panels at the next
   *  frame, seek(t) to a moment clicked, and ask playing(). */
  constructor(doc, page) {
    this.$ = (id) => doc.getElementById(id);
    this.page = page;
    this.visible = true;
    this.drawnAt = -Infinity;
    this.shownKey = '';
    this.data = null;
  }

  attach(bounds) {
    this.bounds = Array.from(bounds);
    this.behind = new Chart(this.$('plot-behind'));
    this.rate = new Chart(this.$('plot-messages'));
    this.stale = new Chart(this.$('plot-stale'));
    this.converge = new Chart(this.$('plot-converge'));
    const legend = this.$('plot-messages-legend');
    for (const kind of [...KINDS, { name: 'dropped', dropped: true }]) {
      const li = document.createElement('li');
      const swatch = document.createElement('span');
      swatch.className = kind.dropped ? 'swatch sw-dropped' : 'swatch';
      if (!kind.dropped) swatch.style.background = kind.colour;
      li.append(swatch, kind.name);
      legend.append(li);
    }
    const card = this.$('plots-card');
    new IntersectionObserver((entries) => {
      this.visible = entries.some((e) => e.isIntersecting) && card.open;
      if (this.visible) this.page.refresh();
    }).observe(card);
    card.addEventListener('toggle', () => {
      this.visible = card.open;
      this.shownKey = '';
      if (card.open) this.page.refresh();
    });
    new ResizeObserver(() => {
      this.shownKey = '';
      if (this.data) this.draw(this.data);
    }).observe(this.$('plots-body'));
    // A click on a time plot shows that moment (the plots then end there).
    for (const chart of [this.behind, this.rate, this.stale]) {
      chart.canvas.addEventListener('click', (e) => {
        if (!this.data) return;
        const rect = chart.canvas.getBoundingClientRect();
        const frac = (e.clientX - rect.left - PAD.left) / chart.plotWidth;
        if (frac < 0 || frac > 1) return;
        this.page.seek(Math.round(frac * this.end(this.data)));
      });
    }
  }

  /** Called every frame; redraws when the run moved (at most four times a second while it plays), if shown. */
  update(core, realNow) {
    if (!this.visible) return;
    const key = `${core.now()}:${core.eventsHandled()}:${core.changes()}`;
    // While playing, four times a second is plenty; a jump or a command shows at once.
    if (key === this.shownKey || (this.page.playing() && realNow - this.drawnAt < REFRESH_MS)) return;
    this.shownKey = key;
    this.drawnAt = realNow;
    this.data = readPlots(core.plots(), this.bounds, core.now());
    this.draw(this.data);
  }

  end(p) {
    return Math.max(1000, p.now);
  }

  draw(p) {
    this.drawBehind(p);
    this.drawRates(p);
    this.drawStale(p);
    this.drawConvergence(p);
  }

  drawBehind(p) {
    const c = this.behind;
    const ctx = c.begin();
    const end = this.end(p);
    let top = 1;
    for (let i = 0; i <= p.count; i++) top = Math.max(top, p.at(i, F.staleReplicas));
    const stepB = Math.max(1, niceStep(top, 3));
    top = Math.ceil(top / stepB) * stepB;
    c.axes(end, top, (v) => String(Math.round(v)));
    // Stale replicas: a filled step area; divergent keys: a dark line over it.
    const step = (field) => {
      ctx.beginPath();
      ctx.moveTo(c.x(0, end), c.y(p.at(0, field), top));
      for (let i = 1; i < p.count; i++) {
        ctx.lineTo(c.x(i * p.interval, end), c.y(p.at(i - 1, field), top));
        ctx.lineTo(c.x(i * p.interval, end), c.y(p.at(i, field), top));
      }
      ctx.lineTo(c.x(p.now, end), c.y(p.at(p.count - 1, field), top));
      ctx.lineTo(c.x(p.now, end), c.y(p.at(p.count, field), top));
    };
    step(F.staleReplicas);
    ctx.lineTo(c.x(p.now, end), c.y(0, top));
    ctx.lineTo(c.x(0, end), c.y(0, top));
    ctx.closePath();
    ctx.fillStyle = 'rgba(213, 94, 0, 0.28)';
    ctx.fill();
    step(F.staleReplicas);
    ctx.strokeStyle = COLOURS.drop;
    ctx.lineWidth = 1.5;
    ctx.stroke();
    step(F.divergentKeys);
    ctx.strokeStyle = COLOURS.ink;
    ctx.setLineDash([4, 3]);
    ctx.stroke();
    ctx.setLineDash([]);
    const replicas = p.at(p.count, F.staleReplicas);
    const keys = p.at(p.count, F.divergentKeys);
    this.$('plot-behind-now').textContent = replicas === 0
      ? 'every replica has the newest write'
      : `${replicas} replica${replicas === 1 ? '' : 's'} behind, on ${keys} key${keys === 1 ? '' : 's'}`;
  }

  drawRates(p) {
    const c = this.rate;
    const ctx = c.begin();
    const end = this.end(p);
    const per = Math.max(1, Math.ceil(p.count / BARS));
    const parts = stretches(p, per);
    const rates = parts.map(({ from, to, t0, t1 }) => {
      // The stretch still growing counts at least one interval, or its first messages would spike.
      const secs = Math.max(p.interval, t1 - t0) / 1000;
      return {
        t0,
        t1,
        kinds: KINDS.map((k) => (p.at(to, k.field) - p.at(from, k.field)) / secs),
        dropped: (p.at(to, F.dropped) - p.at(from, F.dropped)) / secs,
      };
    });
    let top = 1;
    for (const r of rates) top = Math.max(top, r.kinds.reduce((a, b) => a + b, 0), r.dropped);
    const stepV = Math.max(1, niceStep(top, 3));
    top = Math.ceil(top / stepV) * stepV;
    c.axes(end, top, (v) => (v >= 1000 ? `${v / 1000}k` : String(Math.round(v))));
    for (const r of rates) {
      const x0 = c.x(r.t0, end);
      const x1 = Math.max(x0 + 1, c.x(r.t1, end) - 1);
      let base = 0;
      r.kinds.forEach((rate, k) => {
        if (rate <= 0) return;
        const y0 = c.y(base, top);
        const y1 = c.y(base + rate, top);
        ctx.fillStyle = KINDS[k].colour;
        // A hairline of paper between kinds: segments read apart where colours are hard to tell.
        ctx.fillRect(x0, y1 + 1, x1 - x0, Math.max(1, y0 - y1 - 1));
        base += rate;
      });
    }
    // Dropped copies: a line with square markers, so it reads without its colour.
    ctx.strokeStyle = COLOURS.drop;
    ctx.fillStyle = COLOURS.drop;
    ctx.lineWidth = 1.5;
    ctx.beginPath();
    rates.forEach((r, i) => {
      const x = (c.x(r.t0, end) + c.x(r.t1, end)) / 2;
      const y = c.y(r.dropped, top);
      if (i === 0) ctx.moveTo(x, y);
      else ctx.lineTo(x, y);
    });
    if (rates.some((r) => r.dropped > 0)) {
      ctx.stroke();
      for (const r of rates) {
        if (r.dropped <= 0) continue;
        const x = (c.x(r.t0, end) + c.x(r.t1, end)) / 2;
        ctx.fillRect(x - 2, c.y(r.dropped, top) - 2, 4, 4);
      }
    }
    // "Lately": the last stretch that has run at least half its length.
    const full = per * p.interval;
    const latest = [...rates].reverse().find((r) => r.t1 - r.t0 >= full / 2) ?? rates[rates.length - 1];
    const total = latest ? Math.round(latest.kinds.reduce((a, b) => a + b, 0)) : 0;
    this.$('plot-messages-now').textContent = latest
      ? `${total} sent/s lately${latest.dropped > 0 ? `, ${Math.round(latest.dropped)} dropped/s` : ''}`
      : '';
  }

  drawStale(p) {
    const c = this.stale;
    const ctx = c.begin();
    const end = this.end(p);
    c.axes(end, 100, (v) => `${Math.round(v)}%`);
    const per = Math.max(1, Math.ceil(p.count / BARS));
    for (const { from, to, t0, t1 } of stretches(p, per)) {
      const reads = p.at(to, F.reads) - p.at(from, F.reads);
      if (reads === 0) continue;
      const stale = p.at(to, F.staleReads) - p.at(from, F.staleReads);
      const x0 = c.x(t0, end);
      const x1 = Math.max(x0 + 1, c.x(t1, end) - 1);
      // Fresh reads as a pale bar to 100%, stale ones as a dark bar from 0: both read without colour.
      ctx.fillStyle = '#dfe8f1';
      ctx.fillRect(x0, c.y(100, 100), x1 - x0, c.y(0, 100) - c.y(100, 100));
      if (stale > 0) {
        const y = c.y((100 * stale) / reads, 100);
        ctx.fillStyle = COLOURS.staleInk;
        ctx.fillRect(x0, y, x1 - x0, c.y(0, 100) - y);
      }
    }
    const reads = p.at(p.count, F.reads);
    const stale = p.at(p.count, F.staleReads);
    const failed = p.at(p.count, F.failed);
    const share = reads ? ` (${Math.round((100 * stale) / reads)}%)` : '';
    this.$('plot-stale-now').textContent = reads === 0 && failed === 0
      ? 'no reads yet'
      : `${stale} of ${reads} read${reads === 1 ? '' : 's'} stale${share}${failed ? `; ${failed} request${failed === 1 ? '' : 's'} failed` : ''}`;
  }

  drawConvergence(p) {
    const c = this.converge;
    const ctx = c.begin();
    const counts = p.histogram;
    const top = Math.max(1, ...counts);
    const stepV = Math.max(1, niceStep(top, 3));
    const roof = Math.ceil(top / stepV) * stepV;
    c.valueAxis(roof, stepV);
    const slot = c.plotWidth / counts.length;
    counts.forEach((count, i) => {
      const x = PAD.left + i * slot;
      if (count > 0) {
        const y = c.y(count, roof);
        ctx.fillStyle = COLOURS.replicate;
        ctx.fillRect(x + 1, y, slot - 2, c.y(0, roof) - y);
      }
      // Label every third bucket by its lower bound (they are too narrow for all).
      if (i % 3 === 0) {
        ctx.fillStyle = COLOURS.muted;
        const label = i === 0 ? '0' : duration(this.bounds[i - 1]);
        ctx.fillText(label, x + (i === 0 ? slot / 2 : 0), PAD.top + c.plotHeight + 3);
      }
    });
    const done = counts.reduce((a, b) => a + b, 0);
    const median = medianBucket(counts, this.bounds);
    this.$('plot-converge-now').textContent = done === 0 && p.notYet === 0
      ? 'no writes yet'
      : `${done} everywhere${done ? `, half ${median}` : ''}; ${p.notYet} not yet`;
  }
}

/** Where the median write falls, as "within 100 ms" (the upper bound of its bucket). */
function medianBucket(counts, bounds) {
  const total = counts.reduce((a, b) => a + b, 0);
  let seen = 0;
  for (let i = 0; i < counts.length; i++) {
    seen += counts[i];
    if (seen * 2 >= total) {
      return i < bounds.length ? `within ${duration(bounds[i])}` : `over ${duration(bounds[bounds.length - 1])}`;
    }
  }
  return '-';
}
