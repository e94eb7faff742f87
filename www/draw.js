// Draws the cluster on a canvas: node boxes, a link for every pair, each node's key-value card
// beside it, messages flying along their links and dropped ones failing. A read-only view: it
// never changes the simulation.

import { DROP_STRIDE, FLIGHT_STRIDE, KIND, REASON_NAME } from './layout.js';
import { COLOURS, FONT, MESSAGE_STYLES, traceShape } from './palette.js';

const DROP_SHOW_MS = 1400;
/** What a drop's reason says beside its cross, by the core's reason names. */
const DROP_WORDS = { lost: 'lost', linkCut: 'link cut', nodeDown: 'node down', queueFull: 'queue full' };
const CARD_ROWS = 6;
const CUT_DASH = [7, 6];

/** How big things are for a cluster of `n` nodes: boxes and cards for a few, dots for many. */
function scaleFor(n, width, height) {
  const small = Math.min(width, height);
  if (n <= 8) {
    return { shape: 'box', boxW: 112, boxH: 46, font: 17, msg: 6.5, lane: 5, link: 2.5, cards: true, labels: true, drawCuts: true };
  }
  if (n <= 24) {
    return { shape: 'box', boxW: 58, boxH: 30, font: 14, msg: 5, lane: 3.5, link: 1.4, cards: false, labels: true, drawCuts: true };
  }
  const r = Math.max(7, Math.min(13, small / n / 0.9));
  // Many nodes: a cut link is simply not drawn (a partition shows as separate meshes), and
  // drops are small marks without words.
  return { shape: 'dot', boxW: 2 * r, boxH: 2 * r, font: Math.min(11, r), msg: 3, lane: 1.6, link: 0.6, cards: false, labels: r >= 8, drawCuts: false };
}

/** The same cluster in smaller boxes, for a stage too small for full-size ones with cards. */
function compact(s) {
  return { ...s, boxW: 80, boxH: 36, font: 15, msg: 5.5, lane: 4, link: 2, compact: true };
}

export class ClusterView {
  constructor(canvas) {
    this.canvas = canvas;
    this.ctx = canvas.getContext('2d');
    this.nodes = [];
    this.keys = [];
    this.cut = new Set();
    this.positions = [];
    this.drops = [];
    this.hover = null;
    // What changes only with the state or the pointer is painted once into layers: the links
    // under the messages, the nodes and cards over them. Each frame then costs two copies plus
    // the messages, however many links there are.
    this.under = makeLayer();
    this.over = makeLayer();
    // Named after the canvas they are copied to (tests measure the text drawn there).
    for (const layer of [this.under, this.over]) layer.canvas.dataset.of = canvas.id;
    this.reducedMotion = matchMedia('(prefers-reduced-motion: reduce)').matches;
    this.textWidths = new Map();
    // Presenter mode draws everything larger: the view works in units of `zoom` CSS pixels.
    this.zoom = 1;
    // CSS pixels at the bottom of the stage kept clear (for a label over it).
    this.bottomInset = 0;
    this.resize();
  }

  /** Draws everything `zoom` times larger (presenter mode), laid out again to fit. */
  setZoom(zoom) {
    this.zoom = zoom;
    this.resize();
  }

  /** Matches the canvas to its box and the screen's pixel density. */
  resize() {
    const rect = this.canvas.getBoundingClientRect();
    const dpr = (window.devicePixelRatio || 1) * this.zoom;
    this.width = Math.max(1, rect.width / this.zoom);
    this.height = Math.max(1, rect.height / this.zoom);
    this.dpr = dpr;
    for (const c of [this.canvas, this.under.canvas, this.over.canvas]) {
      c.width = Math.round(this.width * dpr);
      c.height = Math.round(this.height * dpr);
    }
    this.ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    this.layout();
  }

  /** Highlights the node or link under the pointer (or nothing). */
  setHover(hit) {
    const same = (a, b) => a === b || (a && b && a.type === b.type && a.id === b.id && a.a === b.a && a.b === b.b);
    if (same(hit, this.hover)) return;
    this.hover = hit;
    this.under.dirty = true;
    this.over.dirty = true;
  }

  /** New state from the simulation: nodes, keys with what each node holds, cut links. */
  setState({ nodes, keys, cutLinks, settings }) {
    // Gossip on a large cluster: a full mesh would hide the rumor, so draw only links in use.
    const activeOnly = nodes.length > 24 && settings?.dissemination === 'gossip';
    if (activeOnly !== this.activeLinksOnly) {
      this.activeLinksOnly = activeOnly;
      this.under.dirty = true;
    }
    const relayout = nodes.length !== this.nodes.length;
    const cut = new Set(cutLinks.map(([a, b]) => `${a - 1}>${b - 1}`));
    if (cut.size !== this.cut.size || [...cut].some((link) => !this.cut.has(link))) this.under.dirty = true;
    this.nodes = nodes;
    this.keys = keys;
    this.cut = cut;
    this.over.dirty = true;
    if (relayout) {
      this.drops = [];
      this.layout();
    }
  }

  /** Nodes on a circle, node 1 at the top, clockwise: as large as fits with the cards. */
  layout() {
    const n = this.nodes.length;
    const angles = Array.from({ length: n }, (_, i) => -Math.PI / 2 + (2 * Math.PI * i) / Math.max(1, n));
    const full = scaleFor(n, this.width, this.height);
    // A stage too small for full-size boxes with their cards (side by side, a small window)
    // tries smaller boxes, with cards, before it gives the cards up.
    const tries = full.cards ? [full, compact(full)] : [full];
    // The size whose cards show the most rows; the larger on a tie.
    let fit = null;
    for (const s of tries) {
      this.scale = s;
      const found = this.fitCards(angles);
      if (found && (!fit || found.rows > fit.rows)) fit = { ...found, scale: s, cardW: this.cardW, placement: this.cardPlacement };
    }
    if (fit) {
      this.scale = fit.scale;
      this.cardW = fit.cardW;
      this.cardPlacement = fit.placement;
      this.cardRows = fit.rows;
      this.cardH = 12 + fit.rows * 22;
    }
    let cx = this.width / 2;
    let cy = this.height / 2;
    let rx;
    let ry;
    if (fit) {
      ({ rx, cx, cy } = fit);
      ry = rx;
    } else {
      // No cards (the Replicas table lists the stores): the nodes spread over an ellipse that
      // fills the stage, in the largest boxes that do not touch.
      const inset = this.bottomInset / this.zoom;
      cy = (this.height - inset) / 2;
      const spread = (s) => {
        const ex = this.width / 2 - s.boxW / 2 - 24;
        const ey = (this.height - inset) / 2 - s.boxH / 2 - 24;
        const room = n < 2 ? Infinity : (2 * Math.PI * Math.min(ex, ey)) / n;
        return { ex, ey, clear: room >= s.boxW + 8 };
      };
      const s = tries.map((t) => ({ ...t, cards: false })).find((t) => spread(t).clear) ?? { ...tries[tries.length - 1], cards: false };
      this.scale = s;
      ({ ex: rx, ey: ry } = spread(s));
    }
    this.under.dirty = true;
    this.over.dirty = true;
    this.positions = angles.map((angle) => ({
      x: n === 1 ? cx : cx + Math.cos(angle) * rx,
      y: n === 1 ? cy : cy + Math.sin(angle) * ry,
      angle,
    }));
  }

  /**
   * The largest circle on which nodes of the current scale and their cards all fit, with the
   * most card rows that fit (each tried with narrower cards before a row is given up), centred
   * by their bounding box: { rx, cx, cy }, and this.cardW, cardRows and cardH set; or null if
   * no card row fits with the nodes apart.
   */
  fitCards(angles) {
    const n = angles.length;
    const s = this.scale;
    this.cardW = Math.min(260, Math.max(150, this.width * 0.24));
    this.cardRows = CARD_ROWS;
    this.cardH = 12 + CARD_ROWS * 22;
    this.cardPlacement = 'outward';
    if (!s.cards) return null;
    const margin = 8;
    // Nodes closer than this would touch (or their cards would).
    const apart = n < 2 ? 0 : Math.max(s.boxW * 0.8, (n * (s.boxW + 16)) / (2 * Math.PI));
    const at = (r, i) => (n === 1 ? { x: 0, y: 0 } : { x: Math.cos(angles[i]) * r, y: Math.sin(angles[i]) * r });
    const bounds = (r, h) => {
      const box = { left: Infinity, right: -Infinity, top: Infinity, bottom: -Infinity };
      angles.forEach((angle, i) => {
        const { x, y } = at(r, i);
        const card = this.cardBox(x, y, angle, h);
        box.left = Math.min(box.left, x - s.boxW / 2, card.left);
        box.right = Math.max(box.right, x + s.boxW / 2, card.left + this.cardW);
        box.top = Math.min(box.top, y - s.boxH / 2, card.top);
        box.bottom = Math.max(box.bottom, y + s.boxH / 2, card.top + h);
      });
      return box;
    };
    const inset = this.bottomInset / this.zoom;
    const fits = (box) => box.right - box.left <= this.width - 2 * margin && box.bottom - box.top <= this.height - 2 * margin - inset;
    const largest = (h) => {
      let lo = 20;
      let hi = Math.max(this.width, this.height);
      for (let k = 0; k < 30; k++) {
        const mid = (lo + hi) / 2;
        if (fits(bounds(mid, h))) lo = mid;
        else hi = mid;
      }
      return Math.min(lo, 1.4 * Math.min(this.width, this.height));
    };
    // Cards must not cover each other nor another node: on a short stage the cards get fewer
    // rows (the rest is counted, and listed in the Replicas table), down to one.
    const apartFrom = (a, b) => a.right + 4 <= b.left || b.right + 4 <= a.left || a.bottom + 4 <= b.top || b.bottom + 4 <= a.top;
    const cardsClear = (r, h) => {
      const nodes = angles.map((_, i) => {
        const { x, y } = at(r, i);
        return { left: x - s.boxW / 2, top: y - s.boxH / 2, right: x + s.boxW / 2, bottom: y + s.boxH / 2 };
      });
      const rects = angles.map((angle, i) => {
        const { x, y } = at(r, i);
        const c = this.cardBox(x, y, angle, h);
        return { left: c.left, top: c.top, right: c.left + this.cardW, bottom: c.top + h };
      });
      return rects.every((a, i) => rects.slice(i + 1).every((b) => apartFrom(a, b)) && nodes.every((b, j) => j === i || apartFrom(a, b)));
    };
    const widest = this.cardW;
    const widths = [widest, 180, 160, 140, 120, 110].filter((w) => w <= widest);
    for (let rows = CARD_ROWS; rows >= 1; rows--) {
      for (const placement of ['outward', 'vertical']) {
        this.cardPlacement = placement;
        for (const w of widths) {
          this.cardW = w;
          const h = 12 + rows * 22;
          const rx = largest(h);
          if ((n < 2 || rx >= apart) && cardsClear(rx, h)) {
            this.cardRows = rows;
            this.cardH = h;
            const box = bounds(rx, h);
            return { rx, rows, cx: this.width / 2 - (box.left + box.right) / 2, cy: (this.height - inset) / 2 - (box.top + box.bottom) / 2 };
          }
        }
      }
    }
    this.cardPlacement = 'outward';
    return null;
  }

  /** Where a node's card goes, relative to the same origin as (x, y): outward from the centre. */
  cardBox(x, y, angle, h) {
    const s = this.scale;
    const w = this.cardW;
    const cos = Math.cos(angle);
    const sin = Math.sin(angle);
    // On a narrow stage the cards go above the upper nodes and below the lower ones.
    if (this.cardPlacement === 'vertical' && this.nodes.length > 1) {
      return { left: x - w / 2, top: sin < -0.01 ? y - s.boxH / 2 - 10 - h : y + s.boxH / 2 + 10 };
    }
    if (this.nodes.length === 1 || cos > 0.35) return { left: x + s.boxW / 2 + 12, top: y - h / 2 };
    if (cos < -0.35) return { left: x - s.boxW / 2 - 12 - w, top: y - h / 2 };
    return { left: x - w / 2, top: sin < 0 ? y - s.boxH / 2 - 10 - h : y + s.boxH / 2 + 10 };
  }

  /** Remembers messages dropped just now, to show them failing for a moment. */
  /** Forgets the drop markers shown (after a jump in time they are not news). */
  clearDrops() {
    this.drops = [];
  }

  addDrops(buffer, realNow) {
    for (let i = 0; i + DROP_STRIDE <= buffer.length; i += DROP_STRIDE) {
      this.drops.push({
        from: buffer[i], to: buffer[i + 1], kind: buffer[i + 2], reason: buffer[i + 3], at: buffer[i + 4], born: realNow,
      });
    }
    // Under a storm of drops keep the newest few hundred: more would be unreadable anyway.
    if (this.drops.length > 600) this.drops.splice(0, this.drops.length - 600);
  }

  /** The node or link under the point (x, y) in CSS pixels, if any. */
  hit(cssX, cssY) {
    const [x, y] = [cssX / this.zoom, cssY / this.zoom];
    const s = this.scale;
    for (let i = 0; i < this.positions.length; i++) {
      const p = this.positions[i];
      if (Math.abs(x - p.x) <= s.boxW / 2 + 4 && Math.abs(y - p.y) <= s.boxH / 2 + 4) {
        return { type: 'node', id: i + 1 };
      }
    }
    let best = null;
    let bestDistance = Math.max(7, s.lane * 2.5);
    for (let a = 0; a < this.positions.length; a++) {
      for (let b = a + 1; b < this.positions.length; b++) {
        const d = distanceToSegment(x, y, this.positions[a], this.positions[b]);
        if (d < bestDistance) {
          bestDistance = d;
          best = { type: 'link', a: a + 1, b: b + 1 };
        }
      }
    }
    return best;
  }

  /** The drop crosses of the last frame, for tests: where (CSS pixels), how opaque, and the
   * reason written above each (null if none was). */
  dropsDrawn() {
    return (this.dropMarks ?? []).map((m) => ({ ...m }));
  }

  /** Where node `id` is drawn, in CSS pixels. */
  nodePosition(id) {
    const p = this.positions[id - 1];
    return p && { x: p.x * this.zoom, y: p.y * this.zoom, angle: p.angle };
  }

  /** Draws one frame: `flights` holds the messages in flight (see Simulation.flights). */
  render(flights, realNow) {
    const ctx = this.ctx;
    ctx.clearRect(0, 0, this.width, this.height);
    if (this.nodes.length === 0) return;
    this.paint(this.under, () => this.drawLinks());
    this.paint(this.over, () => this.drawNodesAndCards());
    ctx.drawImage(this.under.canvas, 0, 0, this.width, this.height);
    if (this.activeLinksOnly) this.drawLinksInUse(flights);
    this.drawMessages(flights);
    this.drawDrops(realNow);
    ctx.drawImage(this.over.canvas, 0, 0, this.width, this.height);
  }

  /**
   * Draws the frame onto another context (an SVG one, for a vector picture), in this view's
   * units, without the layers: every link, message, node and card as shapes and text.
   */
  renderVector(ctx, flights, realNow) {
    const main = this.ctx;
    this.ctx = ctx;
    try {
      if (this.nodes.length === 0) return;
      this.drawLinks();
      if (this.activeLinksOnly) this.drawLinksInUse(flights);
      this.drawMessages(flights);
      this.drawDrops(realNow);
      this.drawNodesAndCards();
    } finally {
      this.ctx = main;
    }
  }

  drawNodesAndCards() {
    for (let i = 0; i < this.nodes.length; i++) this.drawNode(i);
    this.cardRects = [];
    if (this.scale.cards) for (let i = 0; i < this.nodes.length; i++) this.drawCard(i);
    this.drawBadges();
  }

  /** Repaints `layer` with `draw` if something it shows changed. */
  paint(layer, draw) {
    paintLayer(this, layer, draw);
  }

  isCut(from, to) {
    return this.cut.has(`${from}>${to}`);
  }

  /** The point `t` of the way along the lane from → to (each direction has its own lane). */
  lanePoint(from, to, t, out) {
    const a = this.positions[from];
    const b = this.positions[to];
    const dx = b.x - a.x;
    const dy = b.y - a.y;
    const len = Math.hypot(dx, dy) || 1;
    const lane = this.scale.lane;
    out.x = a.x + dx * t - (dy / len) * lane;
    out.y = a.y + dy * t + (dx / len) * lane;
    return out;
  }

  drawLinks() {
    const ctx = this.ctx;
    const s = this.scale;
    const n = this.positions.length;
    const hover = this.hover;
    // Every healthy pair in one path: thousands of links cost one stroke.
    ctx.beginPath();
    for (let a = 0; a < n && !this.activeLinksOnly; a++) {
      for (let b = a + 1; b < n; b++) {
        if (this.isCut(a, b) || this.isCut(b, a)) continue;
        ctx.moveTo(this.positions[a].x, this.positions[a].y);
        ctx.lineTo(this.positions[b].x, this.positions[b].y);
      }
    }
    ctx.strokeStyle = COLOURS.link;
    ctx.lineWidth = s.link;
    ctx.globalAlpha = n > 24 ? 0.5 : 1;
    ctx.stroke();
    ctx.globalAlpha = 1;
    if (this.cut.size > 0 && s.drawCuts) this.drawCutLinks();
    if (hover && hover.type === 'link') {
      ctx.globalAlpha = 0.35;
      strokeLine(ctx, this.positions[hover.a - 1], this.positions[hover.b - 1], COLOURS.replicate, Math.max(6, s.link * 4), []);
      ctx.globalAlpha = 1;
    }
  }

  /** The links messages are on right now, faintly (when not every link is drawn). */
  drawLinksInUse(flights) {
    const ctx = this.ctx;
    ctx.beginPath();
    for (let o = 0; o + FLIGHT_STRIDE <= flights.length; o += FLIGHT_STRIDE) {
      const a = this.positions[flights[o]];
      const b = this.positions[flights[o + 1]];
      if (!a || !b) continue;
      ctx.moveTo(a.x, a.y);
      ctx.lineTo(b.x, b.y);
    }
    ctx.strokeStyle = COLOURS.link;
    ctx.lineWidth = 1;
    ctx.stroke();
  }

  /** Cut links: dashed vermillion with a cross; a one-way cut shows its direction. */
  drawCutLinks() {
    const ctx = this.ctx;
    const s = this.scale;
    const n = this.positions.length;
    const cutWidth = Math.max(1.5, s.link);
    const p = { x: 0, y: 0 };
    const q = { x: 0, y: 0 };
    const lane = (from, to, colour, width, dash) => {
      this.lanePoint(from, to, 0, p);
      this.lanePoint(from, to, 1, q);
      strokeLine(ctx, p, q, colour, width, dash);
    };
    for (let a = 0; a < n; a++) {
      for (let b = a + 1; b < n; b++) {
        const ab = this.isCut(a, b);
        const ba = this.isCut(b, a);
        if (!ab && !ba) continue;
        const A = this.positions[a];
        const B = this.positions[b];
        if (ab && ba) {
          strokeLine(ctx, A, B, COLOURS.cut, cutWidth, CUT_DASH);
          if (s.labels) drawCross(ctx, (A.x + B.x) / 2, (A.y + B.y) / 2, s.msg + 3, COLOURS.cut);
          continue;
        }
        // One direction cut: the working lane solid, the cut lane dashed with an arrow.
        const [from, to] = ab ? [a, b] : [b, a];
        lane(to, from, COLOURS.link, s.link, []);
        lane(from, to, COLOURS.cut, cutWidth, CUT_DASH);
        if (s.labels) {
          this.lanePoint(from, to, 0.5, p);
          drawCross(ctx, p.x, p.y, s.msg + 2, COLOURS.cut);
          this.lanePoint(from, to, 0.62, p);
          this.lanePoint(from, to, 0.7, q);
          drawArrowHead(ctx, p, q, s.msg + 3, COLOURS.cut);
        }
      }
    }
  }

  /** Messages in flight, batched by kind: one path per kind however many there are. */
  drawMessages(flights) {
    const ctx = this.ctx;
    const r = this.scale.msg;
    const p = { x: 0, y: 0 };
    const count = flights.length / FLIGHT_STRIDE;
    const tiny = r < 4; // many nodes: circles become squares, cheaper and as clear
    for (const style of MESSAGE_STYLES) {
      ctx.beginPath();
      let any = false;
      const code = KIND[style.kind];
      for (let i = 0; i < count; i++) {
        const o = i * FLIGHT_STRIDE;
        if (flights[o + 2] !== code) continue;
        any = true;
        this.lanePoint(flights[o], flights[o + 1], flights[o + 3], p);
        traceShape(ctx, tiny && style.shape !== 'diamond' && style.shape !== 'triangle' ? 'square' : style.shape, p.x, p.y, r);
      }
      if (!any) continue;
      ctx.fillStyle = style.colour;
      ctx.fill();
      if (style.kind === 'repair') {
        ctx.strokeStyle = COLOURS.repairEdge;
        ctx.lineWidth = 1.5;
        ctx.stroke();
      } else if (r >= 5) {
        ctx.strokeStyle = '#ffffff';
        ctx.lineWidth = 1.5;
        ctx.stroke();
      }
    }
  }

  /** Dropped messages: a cross where the message died, fading, with the reason beside it. */
  drawDrops(realNow) {
    const ctx = this.ctx;
    const s = this.scale;
    const p = { x: 0, y: 0 };
    this.drops = this.drops.filter((d) => realNow - d.born < DROP_SHOW_MS && d.from < this.positions.length && d.to < this.positions.length);
    ctx.font = `600 ${Math.max(11, s.font - 4)}px ${FONT}`;
    ctx.textAlign = 'center';
    ctx.textBaseline = 'bottom';
    const labelled = [];
    this.dropMarks = [];
    for (const d of this.drops) {
      const age = (realNow - d.born) / DROP_SHOW_MS;
      this.lanePoint(d.from, d.to, Math.min(d.at, this.outsideBox(d.from, d.to)), p);
      ctx.globalAlpha = this.reducedMotion ? 1 : 1 - age * age;
      const lift = this.reducedMotion ? 0 : age * 10;
      drawCross(ctx, p.x, p.y - lift, s.drawCuts ? s.msg + 2.5 : s.msg, COLOURS.drop, s.drawCuts ? 3 : 1.5);
      // Say why, unless another reason is already written right there.
      const crowded = labelled.some((q) => Math.abs(q.x - p.x) < 70 && Math.abs(q.y - p.y) < 18);
      const reason = s.drawCuts && this.positions.length <= 16 && !crowded ? DROP_WORDS[REASON_NAME[d.reason]] ?? 'dropped' : null;
      if (reason) {
        ctx.fillStyle = COLOURS.drop;
        ctx.fillText(reason, p.x, p.y - lift - s.msg - 6);
        labelled.push({ x: p.x, y: p.y });
      }
      this.dropMarks.push({ x: p.x * this.zoom, y: (p.y - lift) * this.zoom, lift: lift * this.zoom, alpha: ctx.globalAlpha, reason });
    }
    ctx.globalAlpha = 1;
  }

  /** How far along the link from → to a mark can be before the receiver's box hides it. */
  outsideBox(from, to) {
    const a = this.positions[from];
    const b = this.positions[to];
    const s = this.scale;
    const len = Math.hypot(b.x - a.x, b.y - a.y) || 1;
    const ux = Math.abs(b.x - a.x) / len;
    const uy = Math.abs(b.y - a.y) / len;
    const edge = Math.min(ux > 0 ? s.boxW / 2 / ux : Infinity, uy > 0 ? s.boxH / 2 / uy : Infinity);
    return Math.max(0.5, 1 - (edge + s.msg + 6) / len);
  }

  drawNode(i) {
    const ctx = this.ctx;
    const s = this.scale;
    const node = this.nodes[i];
    const { x, y } = this.positions[i];
    const up = node.up;
    const hovered = this.hover && this.hover.type === 'node' && this.hover.id === i + 1;
    ctx.lineWidth = hovered ? 3.5 : 2;
    ctx.setLineDash(up ? [] : [5, 4]);
    ctx.fillStyle = up ? COLOURS.node : COLOURS.down;
    ctx.strokeStyle = up ? (hovered ? COLOURS.replicate : COLOURS.nodeBorder) : COLOURS.downBorder;
    ctx.beginPath();
    if (s.shape === 'box') {
      roundRect(ctx, x - s.boxW / 2, y - s.boxH / 2, s.boxW, s.boxH, 8);
    } else {
      ctx.arc(x, y, s.boxW / 2, 0, 2 * Math.PI);
    }
    ctx.fill();
    ctx.stroke();
    ctx.setLineDash([]);
    if (!s.labels && s.shape === 'dot') return;
    ctx.fillStyle = up ? COLOURS.ink : COLOURS.muted;
    ctx.textAlign = 'center';
    ctx.textBaseline = 'middle';
    const label = s.shape === 'box' && s.boxW >= 80 ? `Node ${node.id}` : `${node.id}`;
    ctx.font = `700 ${s.font}px ${FONT}`;
    const dy = s.cards && (!up || node.isolated || node.clockSkewMs !== 0) ? -7 : 0;
    ctx.fillText(label, x, y + dy);
    if (!up) {
      // Crossed out, and said in words: colour is never the only sign.
      const w = ctx.measureText(label).width;
      ctx.beginPath();
      ctx.moveTo(x - w / 2 - 2, y + dy);
      ctx.lineTo(x + w / 2 + 2, y + dy);
      ctx.strokeStyle = COLOURS.muted;
      ctx.lineWidth = 2;
      ctx.stroke();
    }
    if (s.cards) {
      ctx.font = `600 ${s.font - 5}px ${FONT}`;
      if (!up) {
        ctx.fillStyle = COLOURS.drop;
        ctx.fillText('✕ DOWN', x, y + 11);
      } else if (node.isolated) {
        ctx.fillStyle = COLOURS.drop;
        ctx.fillText('isolated', x, y + 11);
      } else if (node.clockSkewMs !== 0) {
        ctx.fillStyle = COLOURS.muted;
        const sign = node.clockSkewMs > 0 ? '+' : '−';
        ctx.fillText(`clock ${sign}${Math.abs(node.clockSkewMs)} ms`, x, y + 11);
      }
    } else if (!up) {
      drawCross(ctx, x + s.boxW / 2 - 2, y - s.boxH / 2 + 2, 5, COLOURS.drop, 2.5);
    }
  }

  /** The badges of node `i`: the request it coordinates ("waiting: 2 of 3 acks") and the hints
   *  it keeps for other nodes. */
  badgesOf(i) {
    const node = this.nodes[i];
    const s = this.scale;
    const badges = [];
    if (node.pending.length > 0) {
      const p = node.pending[0];
      const what = p.kind === 'read' ? 'replies' : 'acks';
      const more = node.pending.length > 1 ? ` +${node.pending.length - 1}` : '';
      const text = s.cards ? `waiting: ${p.got} of ${p.needed} ${what}${more}` : `${p.got}/${p.needed}${more}`;
      badges.push({ text, colour: COLOURS.read, ink: '#0b4f73' });
    }
    if (node.hints.length > 0) {
      const n = node.hints.length;
      badges.push({ text: s.cards ? `◆ ${n} hint${n === 1 ? '' : 's'}` : `◆${n}`, colour: COLOURS.hint, ink: '#6b2852' });
    }
    return badges;
  }

  /** Every node's badges, each node's stacked in a block beside its box: toward the centre if
   *  that spot is free, else below, above or to a side, wherever no box, card or other badge is. */
  drawBadges() {
    const s = this.scale;
    if (!s.labels && s.shape === 'dot') return;
    const ctx = this.ctx;
    const font = `700 ${s.cards ? 13 : 11}px ${FONT}`;
    const rowH = 18;
    const gap = 4;
    const pad = 3;
    const obstacles = this.positions.map(({ x, y }) => ({
      left: x - s.boxW / 2, top: y - s.boxH / 2, right: x + s.boxW / 2, bottom: y + s.boxH / 2,
    }));
    for (const r of this.cardRects) if (r) obstacles.push(r);
    const free = (r) => r.left >= 2 && r.top >= 2 && r.right <= this.width - 2 && r.bottom <= this.height - 2
      && obstacles.every((o) => r.right + pad <= o.left || r.left - pad >= o.right || r.bottom + pad <= o.top || r.top - pad >= o.bottom);
    const cx = this.width / 2;
    const cy = this.height / 2;
    // Where each block went (read by the end-to-end tests).
    this.badgeRects = [];
    this.nodes.forEach((node, i) => {
      const badges = this.badgesOf(i);
      if (badges.length === 0) return;
      const widths = badges.map((b) => this.measure(b.text, font) + 12);
      const w = Math.max(...widths);
      const h = badges.length * rowH + (badges.length - 1) * gap;
      const { x, y } = this.positions[i];
      const d = Math.hypot(cx - x, cy - y) || 1;
      const ux = (cx - x) / d;
      const uy = d < 1 ? 1 : (cy - y) / d;
      // Toward the centre: just past the edge of the box, the whole block clear of it.
      const edge = Math.min(Math.abs(ux) > 1e-6 ? s.boxW / 2 / Math.abs(ux) : Infinity, Math.abs(uy) > 1e-6 ? s.boxH / 2 / Math.abs(uy) : Infinity);
      const reach = edge + 10 + Math.abs(ux) * w / 2 + Math.abs(uy) * h / 2;
      const centres = [
        [x + ux * reach, y + uy * reach],
        [x, y + s.boxH / 2 + 6 + h / 2],
        [x, y - s.boxH / 2 - 6 - h / 2],
        [x + s.boxW / 2 + 8 + w / 2, y],
        [x - s.boxW / 2 - 8 - w / 2, y],
        [x + ux * (reach + h + gap), y + uy * (reach + h + gap)],
      ];
      const rects = centres.map(([bx, by]) => ({ left: bx - w / 2, top: by - h / 2, right: bx + w / 2, bottom: by + h / 2 }));
      const rect = rects.find(free) ?? rects[0];
      obstacles.push(rect);
      this.badgeRects.push({ node: node.id, ...rect });
      ctx.textAlign = 'center';
      ctx.textBaseline = 'middle';
      ctx.font = font;
      badges.forEach((badge, k) => {
        const bx = (rect.left + rect.right) / 2;
        const by = rect.top + rowH / 2 + k * (rowH + gap);
        const bw = widths[k];
        ctx.beginPath();
        roundRect(ctx, bx - bw / 2, by - rowH / 2, bw, rowH, rowH / 2);
        ctx.fillStyle = '#ffffff';
        ctx.fill();
        ctx.strokeStyle = badge.colour;
        ctx.lineWidth = 2;
        ctx.stroke();
        ctx.fillStyle = badge.ink;
        ctx.fillText(badge.text, bx, by + 0.5);
      });
    });
  }

  /** The node's key-value table, outward from the centre so that it never covers a link.
   *  Every key is listed; a value that is not the newest write (or is missing) is marked ≠. */
  drawCard(i) {
    const ctx = this.ctx;
    const node = this.nodes[i];
    const { x, y, angle } = this.positions[i];
    const w = this.cardW;
    const lineH = 22;
    // The keys this node is a replica of (with N below the cluster size, not every key).
    const mine = this.keys.filter((k) => k.replicas[i].replica);
    // At most cardRows lines, the last one saying how many more there are if they do not fit.
    // A card of one row shows its first key, and how many more at the row's end.
    const oneRow = this.cardRows === 1 && mine.length > 1;
    const shown = oneRow ? mine.slice(0, 1) : mine.length > this.cardRows ? mine.slice(0, this.cardRows - 1) : mine;
    const more = mine.length - shown.length;
    const h = 12 + Math.max(1, shown.length + (more > 0 && !oneRow ? 1 : 0)) * lineH;
    const suffix = oneRow ? ` +${more}` : '';
    const box = this.cardBox(x, y, angle, h);
    const left = Math.max(6, Math.min(this.width - w - 6, box.left));
    const top = Math.max(6, Math.min(this.height - h - 6, box.top));
    this.cardRects[i] = { left, top, right: left + w, bottom: top + h };

    ctx.globalAlpha = node.up ? 1 : 0.6;
    ctx.beginPath();
    roundRect(ctx, left, top, w, h, 8);
    ctx.fillStyle = COLOURS.card;
    ctx.fill();
    ctx.strokeStyle = COLOURS.cardBorder;
    ctx.lineWidth = 1;
    ctx.stroke();
    ctx.textBaseline = 'middle';
    ctx.textAlign = 'left';
    if (mine.length === 0) {
      ctx.font = `400 15px ${FONT}`;
      ctx.fillStyle = COLOURS.muted;
      ctx.fillText('(empty)', left + 10, top + 6 + lineH / 2);
    }
    shown.forEach((k, row) => {
      const cell = k.replicas[i];
      const cy = top + 6 + row * lineH + lineH / 2;
      let cx = left + 8;
      const plain = `400 15px ${FONT}`;
      const bold = `600 15px ${FONT}`;
      const marked = cell.stale;
      if (marked) {
        ctx.fillStyle = COLOURS.stale;
        ctx.fillRect(left + 3, cy - lineH / 2 + 1, w - 6, lineH - 2);
        ctx.fillStyle = COLOURS.staleInk;
        ctx.font = `700 15px ${FONT}`;
        ctx.fillText('≠', cx, cy);
        cx += 14;
      }
      ctx.font = bold;
      ctx.fillStyle = COLOURS.ink;
      const key = this.fit(k.key, (w - (cx - left) - 10) * 0.5, bold);
      ctx.fillText(key, cx, cy);
      cx += this.measure(key, bold) + 4;
      ctx.font = plain;
      ctx.fillStyle = COLOURS.muted;
      ctx.fillText('=', cx, cy);
      cx += this.measure('=', plain) + 4;
      const room = left + w - 8 - cx - (suffix ? this.measure(suffix, `italic 400 14px ${FONT}`) + 2 : 0);
      if (suffix) {
        ctx.font = `italic 400 14px ${FONT}`;
        ctx.fillStyle = COLOURS.muted;
        ctx.textAlign = 'right';
        ctx.fillText(suffix, left + w - 8, cy);
        ctx.textAlign = 'left';
      }
      if (cell.versions.length === 0) {
        ctx.font = `italic 400 15px ${FONT}`;
        ctx.fillStyle = cell.stale ? COLOURS.staleInk : COLOURS.muted;
        ctx.fillText(cell.stale ? 'missing' : '⊘ collected', cx, cy);
      } else {
        ctx.fillStyle = marked ? COLOURS.staleInk : COLOURS.ink;
        ctx.fillText(this.fit(versionsText(cell.versions, cell.merged), room, plain), cx, cy);
      }
    });
    if (more > 0 && !oneRow) {
      ctx.fillStyle = COLOURS.muted;
      ctx.font = `italic 400 14px ${FONT}`;
      // As much of it as the card holds: "+ 2 more (see Replicas)", "+ 2 more", or "2 keys".
      const room = w - 18;
      const plain = shown.length === 0 ? `${more} keys (see Replicas)` : `+ ${more} more (see Replicas)`;
      const short = shown.length === 0 ? `${more} keys` : `+ ${more} more`;
      const said = this.measure(plain, ctx.font) <= room ? plain : short;
      ctx.fillText(this.fit(said, room, ctx.font), left + 10, top + 6 + shown.length * lineH + lineH / 2);
    }
    ctx.globalAlpha = 1;
  }

  measure(text, font) {
    const id = `${font}|${text}`;
    let w = this.textWidths.get(id);
    if (w === undefined) {
      this.ctx.font = font;
      w = this.ctx.measureText(text).width;
      if (this.textWidths.size > 5000) this.textWidths.clear();
      this.textWidths.set(id, w);
    }
    return w;
  }

  /** `text` shortened with an ellipsis to fit `max` pixels. */
  fit(text, max, font) {
    if (this.measure(text, font) <= max) return text;
    let lo = 0;
    let hi = text.length;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (this.measure(`${text.slice(0, mid)}…`, font) <= max) lo = mid;
      else hi = mid - 1;
    }
    return `${text.slice(0, lo)}…`;
  }
}

/**
 * What a replica holds for a key, in a few characters: siblings joined by a bar, a delete as ⊘;
 * under a data type (set, counter) the value its versions make, `merged`.
 */
export function versionsText(versions, merged) {
  if (merged != null) return merged;
  return versions.map((v) => (v.value === null ? '⊘ deleted' : v.value)).join(' | ');
}

/** A straight line from `a` to `b`; `dash` as for setLineDash (the dash is reset after). */
function strokeLine(ctx, a, b, colour, width, dash) {
  ctx.setLineDash(dash);
  ctx.beginPath();
  ctx.moveTo(a.x, a.y);
  ctx.lineTo(b.x, b.y);
  ctx.strokeStyle = colour;
  ctx.lineWidth = width;
  ctx.stroke();
  ctx.setLineDash([]);
}

/** An offscreen canvas that keeps what changes rarely, repainted only when marked dirty. */
export function makeLayer() {
  const canvas = document.createElement('canvas');
  return { canvas, ctx: canvas.getContext('2d'), dirty: true };
}

/** Repaints `layer` with `draw` if it is dirty: `draw` paints on `view.ctx`, which points at
 *  the layer meanwhile. `view` has ctx, dpr, width and height. */
export function paintLayer(view, layer, draw) {
  if (!layer.dirty) return;
  const main = view.ctx;
  view.ctx = layer.ctx;
  view.ctx.setTransform(view.dpr, 0, 0, view.dpr, 0, 0);
  view.ctx.clearRect(0, 0, view.width, view.height);
  draw();
  view.ctx = main;
  layer.dirty = false;
}

function roundRect(ctx, x, y, w, h, r) {
  ctx.moveTo(x + r, y);
  ctx.arcTo(x + w, y, x + w, y + h, r);
  ctx.arcTo(x + w, y + h, x, y + h, r);
  ctx.arcTo(x, y + h, x, y, r);
  ctx.arcTo(x, y, x + w, y, r);
  ctx.closePath();
}

function drawCross(ctx, x, y, r, colour, width = 2.5) {
  ctx.beginPath();
  ctx.moveTo(x - r, y - r);
  ctx.lineTo(x + r, y + r);
  ctx.moveTo(x + r, y - r);
  ctx.lineTo(x - r, y + r);
  ctx.strokeStyle = '#ffffff';
  ctx.lineWidth = width + 3;
  ctx.stroke();
  ctx.strokeStyle = colour;
  ctx.lineWidth = width;
  ctx.stroke();
}

function drawArrowHead(ctx, from, to, size, colour) {
  const angle = Math.atan2(to.y - from.y, to.x - from.x);
  ctx.beginPath();
  ctx.moveTo(to.x, to.y);
  ctx.lineTo(to.x - size * Math.cos(angle - 0.5), to.y - size * Math.sin(angle - 0.5));
  ctx.lineTo(to.x - size * Math.cos(angle + 0.5), to.y - size * Math.sin(angle + 0.5));
  ctx.closePath();
  ctx.fillStyle = colour;
  ctx.fill();
}

function distanceToSegment(x, y, a, b) {
  const dx = b.x - a.x;
  const dy = b.y - a.y;
  const len2 = dx * dx + dy * dy || 1;
  const t = Math.max(0, Math.min(1, ((x - a.x) * dx + (y - a.y) * dy) / len2));
  return Math.hypot(x - (a.x + t * dx), y - (a.y + t * dy));
}
