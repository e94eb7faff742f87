// The ring view: consistent hashing drawn as a circle. Each node's tokens cut the circle into the
// arcs it owns; a key sits at its hash, and its preference list is the first N distinct nodes met
// clockwise from it. Ranges a Merkle comparison found different light up on the rim.
// A read-only view of the simulation, like draw.js.

import { makeLayer, paintLayer } from './draw.js';
import { COLOURS, FONT } from './palette.js';

// Okabe-Ito, then greys: node i gets NODE_COLOURS[(i - 1) % length]; numbers say the rest.
const NODE_COLOURS = ['#0072b2', '#e69f00', '#009e73', '#cc79a7', '#56b4e9', '#d55e00', '#f0e442', '#7a818c'];
const LEAVES = 64;
const RANGE_SHOW_MS = 4000;
const KEY_INSET = 18; // keys sit this far inside the rim: drawn there, and clicked there

export function nodeColour(id) {
  return NODE_COLOURS[(id - 1) % NODE_COLOURS.length];
}

export class RingView {
  constructor(canvas) {
    this.canvas = canvas;
    this.ctx = canvas.getContext('2d');
    this.tokens = [];
    this.keys = [];
    this.ranges = [];
    this.selected = null; // { key, position, nodes }
    this.now = 0;
    // The arcs, ticks and numbers change only with the ring: drawn once into this layer.
    this.base = makeLayer();
    this.baseTokens = null;
  }

  /** Matches the canvas to its box and the screen's pixel density. */
  resize() {
    const rect = this.canvas.getBoundingClientRect();
    const dpr = window.devicePixelRatio || 1;
    this.width = Math.max(1, rect.width);
    this.height = Math.max(1, rect.height);
    this.dpr = dpr;
    for (const c of [this.canvas, this.base.canvas]) {
      c.width = Math.round(this.width * dpr);
      c.height = Math.round(this.height * dpr);
    }
    this.ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    this.base.dirty = true;
    this.render();
  }

  setState({ ring, keys, ranges, now }) {
    this.tokens = ring ?? [];
    this.keys = keys;
    this.ranges = ranges.filter((r) => now - r.time <= RANGE_SHOW_MS);
    this.now = now;
    this.render();
  }

  /** Shows `place` ({key, position, nodes}) as the selected key, or nothing. */
  select(place) {
    this.selected = place;
    this.render();
  }

  get geometry() {
    const cx = this.width / 2;
    const cy = this.height / 2;
    const r = Math.max(20, Math.min(this.width, this.height) / 2 - 26);
    return { cx, cy, r };
  }

  /** The angle of a ring position (0 to 1): 0 at the top, clockwise. */
  angle(position) {
    return -Math.PI / 2 + position * 2 * Math.PI;
  }

  point(position, radius) {
    const { cx, cy } = this.geometry;
    const a = this.angle(position);
    return { x: cx + Math.cos(a) * radius, y: cy + Math.sin(a) * radius };
  }

  /** The key whose dot is under (x, y), if any. */
  keyAt(x, y) {
    const { r } = this.geometry;
    let best = null;
    let bestDistance = 10;
    for (const k of this.keys) {
      const p = this.point(k.ringPosition, r - KEY_INSET);
      const d = Math.hypot(p.x - x, p.y - y);
      if (d < bestDistance) {
        bestDistance = d;
        best = k;
      }
    }
    return best;
  }

  render() {
    const ctx = this.ctx;
    if (!this.width) return;
    ctx.clearRect(0, 0, this.width, this.height);
    const { cx, cy } = this.geometry;
    const tokens = this.tokens;
    if (this.baseTokens !== tokens) {
      this.baseTokens = tokens;
      this.base.dirty = true;
    }
    paintLayer(this, this.base, () => this.drawTokens());
    ctx.drawImage(this.base.canvas, 0, 0, this.width, this.height);
    ctx.textAlign = 'center';
    ctx.textBaseline = 'middle';
    this.drawRanges();
    this.drawKeys();
    this.drawSelected();
    ctx.fillStyle = COLOURS.muted;
    ctx.font = `400 12px ${FONT}`;
    ctx.fillText(`${tokens.length} tokens`, cx, cy + (this.selected ? 34 : 0));
    const last = this.ranges.at(-1);
    if (last) {
      ctx.fillStyle = '#8a5a00';
      ctx.font = `600 12px ${FONT}`;
      const n = last.leaves.length;
      ctx.fillText(`Merkle: n${last.node} ⇄ n${last.peer} differ in ${n} of ${LEAVES} ranges`, cx, this.height - 8);
    }
  }

  /** The arcs each node owns, and the tokens as ticks numbered with their node. */
  drawTokens() {
    const ctx = this.ctx;
    const { cx, cy, r } = this.geometry;
    const tokens = this.tokens;
    // Each arc (previous token, token] belongs to the token's node (Dynamo, Cassandra).
    ctx.lineWidth = 12;
    tokens.forEach((t, i) => {
      const prev = tokens[(i + tokens.length - 1) % tokens.length];
      let from = this.angle(prev.position);
      const to = this.angle(t.position);
      if (tokens.length === 1) from = to - 2 * Math.PI;
      ctx.beginPath();
      ctx.arc(cx, cy, r, from, to <= from ? to + 2 * Math.PI : to);
      ctx.strokeStyle = nodeColour(t.node);
      ctx.globalAlpha = 0.55;
      ctx.stroke();
    });
    ctx.globalAlpha = 1;
    // Token ticks, each numbered with its node where the number does not crowd the previous one.
    ctx.font = `600 11px ${FONT}`;
    ctx.textAlign = 'center';
    ctx.textBaseline = 'middle';
    let first = null;
    let previous = null;
    const far = (a, b) => !a || Math.hypot(a.x - b.x, a.y - b.y) >= 14;
    for (const t of tokens) {
      const inner = this.point(t.position, r - 9);
      const outer = this.point(t.position, r + 9);
      ctx.beginPath();
      ctx.moveTo(inner.x, inner.y);
      ctx.lineTo(outer.x, outer.y);
      ctx.strokeStyle = COLOURS.ink;
      ctx.lineWidth = 1.5;
      ctx.stroke();
      // In ring order, a number can only crowd the one before it (or, last, the first).
      const label = this.point(t.position, r + 18);
      if (far(previous, label) && far(first, label)) {
        first ??= label;
        previous = label;
        ctx.fillStyle = COLOURS.ink;
        ctx.fillText(String(t.node), label.x, label.y);
      }
    }
  }

  /** Keys as dots inside the rim: grey once their replicas agree. */
  drawKeys() {
    const ctx = this.ctx;
    const { r } = this.geometry;
    for (const k of this.keys) {
      const p = this.point(k.ringPosition, r - KEY_INSET);
      ctx.beginPath();
      ctx.arc(p.x, p.y, 3.5, 0, 2 * Math.PI);
      ctx.fillStyle = k.converged ? COLOURS.muted : COLOURS.drop;
      ctx.fill();
    }
  }

  /** Leaf ranges a Merkle comparison found different, as bright arcs outside the rim. */
  drawRanges() {
    const ctx = this.ctx;
    const { cx, cy, r } = this.geometry;
    ctx.lineWidth = 7;
    for (const range of this.ranges) {
      const fade = 1 - (this.now - range.time) / RANGE_SHOW_MS;
      ctx.globalAlpha = Math.max(0.25, fade);
      for (const leaf of range.leaves) {
        ctx.beginPath();
        ctx.arc(cx, cy, r + 9, this.angle(leaf / LEAVES), this.angle((leaf + 1) / LEAVES));
        ctx.strokeStyle = COLOURS.sync;
        ctx.stroke();
      }
    }
    ctx.globalAlpha = 1;
  }

  /** The selected key: its place, and its preference list numbered in ring order. */
  drawSelected() {
    const place = this.selected;
    if (!place) return;
    const ctx = this.ctx;
    const { cx, cy, r } = this.geometry;
    const at = this.point(place.position, r - KEY_INSET);
    ctx.beginPath();
    ctx.arc(at.x, at.y, 6, 0, 2 * Math.PI);
    ctx.fillStyle = COLOURS.ink;
    ctx.fill();
    // Walk clockwise from the key: the first token of each replica, numbered 1..N.
    const sorted = [...this.tokens].sort((a, b) => a.position - b.position);
    const after = sorted.findIndex((t) => t.position >= place.position);
    const first = after < 0 ? 0 : after; // past the last token the walk wraps to the first
    const seen = new Set();
    const markers = [];
    for (let i = 0; i < sorted.length && seen.size < place.nodes.length; i++) {
      const t = sorted[(first + i) % sorted.length];
      if (!place.nodes.includes(t.node) || seen.has(t.node)) continue;
      seen.add(t.node);
      // On the rim at its token; moved inward (with a line back to the token) if it would
      // cover an earlier marker.
      const onRim = this.point(t.position, r);
      let p = onRim;
      for (let out = 1; out <= 3 && markers.some((m) => Math.hypot(m.x - p.x, m.y - p.y) < 19); out++) {
        p = this.point(t.position, r - out * 21);
      }
      markers.push(p);
      if (p !== onRim) {
        ctx.beginPath();
        ctx.moveTo(onRim.x, onRim.y);
        ctx.lineTo(p.x, p.y);
        ctx.strokeStyle = nodeColour(t.node);
        ctx.lineWidth = 2;
        ctx.stroke();
      }
      ctx.beginPath();
      ctx.arc(p.x, p.y, 9, 0, 2 * Math.PI);
      ctx.fillStyle = '#ffffff';
      ctx.fill();
      ctx.strokeStyle = nodeColour(t.node);
      ctx.lineWidth = 3;
      ctx.stroke();
      ctx.fillStyle = COLOURS.ink;
      ctx.font = `700 11px ${FONT}`;
      ctx.fillText(String(seen.size), p.x, p.y + 0.5);
    }
    ctx.font = `700 14px ${FONT}`;
    ctx.fillStyle = COLOURS.ink;
    const label = place.key.length > 22 ? `${place.key.slice(0, 21)}…` : place.key;
    ctx.fillText(`“${label}”`, cx, cy - 10);
    ctx.font = `400 13px ${FONT}`;
    ctx.fillText(`on ${place.nodes.map((n) => `n${n}`).join(' → ')}`, cx, cy + 10);
  }
}
