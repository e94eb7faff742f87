// The space-time (Lamport) diagram: a lane per node, time flowing right and ending at the
// moment shown; a mark per event (client write, read, answer, delivery, timer, crash, ...), an
// arrow per message from its send to its delivery, a cross where one was dropped, an open
// line without a head for one still on its way. Hovering an event lights its causal past (what happened
// before it, Lamport's relation: earlier on its lane, or sent to it) and its future; clicking
// an event moves the whole page to the moment after it. It scrolls with time.

import { COLOURS, FONT, messageStyle, traceShape } from './palette.js';
import { CODE, DIAGRAM_STRIDE, DROP_REASON_FACTOR } from './layout.js';

const MIN_GUTTER = 64; // lane labels: widened to the longest
const RIGHT = 14;
const TOP = 8;
const AXIS = 18; // time labels at the bottom
const HIT_PX = 7;
const REFETCH_MS = 100;
const PAST = '#0072b2';
const FUTURE = '#d55e00';
const DROPPED = '#d55e00';
const LANE_PX = 18;

export const WINDOWS_MS = [1000, 4000, 15000, 60000];
// Below this window height the diagram starts hidden: the cluster needs the room more.
const TALL_ENOUGH_PX = 900;
const CHOICE_KEY = 'converge.diagram';
const MANY_NODES = 24;

function readChoice() {
  try {
    const v = localStorage.getItem(CHOICE_KEY);
    return v === null ? null : v === 'shown';
  } catch {
    return null; // storage refused (a private window, a sandbox)
  }
}

function saveChoice(shown) {
  try {
    localStorage.setItem(CHOICE_KEY, shown ? 'shown' : 'hidden');
  } catch {
    // Not remembered, then.
  }
}

export class SpaceTimeDiagram {
  /** `page` is all the diagram may do to the rest of the page: seekEvent(position) and
   *  selectEvent(index) when an event is clicked. */
  constructor(canvas, page) {
    this.canvas = canvas;
    this.page = page;
    this.windowMs = 4000;
    this.events = [];
    this.marks = [];
    this.ended = new Set();
    this.arrivals = new Map();
    this.fetched = { count: -1, from: -1, handled: -1 };
    this.hover = null;
    this.selected = null;
    this.width = 0;
    this.height = 0;
    this.gutter = MIN_GUTTER;
    // Presenter mode draws everything larger: lanes, labels, marks (the width and height below
    // are in these larger units, so the drawing code is the same at every zoom).
    this.zoom = 1;
    this.nodeCount = 3;
  }

  setZoom(zoom) {
    this.zoom = zoom;
    this.fit(this.nodeCount);
    this.resize();
    this.layerKey = null;
  }

  attach() {
    const toggle = document.getElementById('diagram-toggle');
    const wrap = document.getElementById('diagram-wrap');
    this.wrap = wrap;
    const show = (on) => {
      wrap.hidden = !on;
      toggle.textContent = on ? 'Hide diagram' : 'Show diagram';
      toggle.setAttribute('aria-expanded', String(on));
    };
    // Shown where there is room for it beside the cluster's own drawing; a person's choice is
    // remembered.
    const saved = readChoice();
    this.chosen = saved !== null;
    this.show = show;
    show(saved ?? window.innerHeight >= TALL_ENOUGH_PX);
    toggle.addEventListener('click', () => {
      this.chosen = true;
      show(wrap.hidden);
      saveChoice(!wrap.hidden);
    });
    const select = document.getElementById('diagram-window');
    select.addEventListener('change', () => this.setWindow(Number(select.value)));
    new ResizeObserver(() => this.resize()).observe(this.canvas);
    this.resize();
    this.canvas.addEventListener('mousemove', (e) => {
      const hit = this.hitAt(e);
      this.hover = hit;
      this.canvas.classList.toggle('pointing', hit !== null);
      this.canvas.title = hit ? `${describeMark(hit)} at ${(hit.time / 1000).toFixed(3)} s: click to see the moment after it` : '';
    });
    this.canvas.addEventListener('mouseleave', () => {
      this.hover = null;
    });
    this.canvas.addEventListener('click', (e) => {
      const hit = this.hitAt(e);
      if (!hit) return;
      this.selected = hit.index;
      this.page.seekEvent(hit.position);
      this.page.selectEvent(hit.index);
    });
  }

  /** Room for a lane per node: readable up to 16 nodes, and still drawn for more. */
  fit(nodes) {
    this.nodeCount = nodes;
    // A big cluster's diagram is a thicket that costs frames: it starts hidden, unless chosen.
    if (!this.chosen) this.show(nodes <= MANY_NODES && window.innerHeight >= TALL_ENOUGH_PX);
    const lanes = Math.min(nodes, 24);
    const px = nodes <= 4 ? 34 : nodes <= 8 ? 24 : nodes <= 16 ? LANE_PX : 11;
    const bar = 30; // the caption above the canvas
    const drawn = (TOP + AXIS + Math.max(3, lanes) * px + 4) * this.zoom;
    document.getElementById('diagram-wrap').style.height = `${Math.round(bar + drawn)}px`;
  }

  setWindow(ms) {
    this.windowMs = ms;
    // Read again at once, from further back if the window is wider (even while paused).
    this.fetched.from = Infinity;
  }

  resize() {
    const ratio = window.devicePixelRatio || 1;
    this.width = this.canvas.clientWidth / this.zoom;
    this.height = this.canvas.clientHeight / this.zoom;
    this.canvas.width = Math.max(1, Math.round(this.canvas.clientWidth * ratio));
    this.canvas.height = Math.max(1, Math.round(this.canvas.clientHeight * ratio));
    this.ratio = ratio * this.zoom;
  }

  /** Reads the events in view when the run moved (new events, a jump, a wider window). */
  fetch(core, t0) {
    const count = core.eventCount();
    const handled = core.eventsHandled();
    const f = this.fetched;
    // Fetch a window's width further back than shown, so scrolling needs no refetch at once.
    if (count === f.count && handled === f.handled && t0 >= f.from) return;
    // While the run plays, new events are read at most ten times a second; a jump (fewer
    // events than before) or scrolling past the data is read at once.
    const now = performance.now();
    const jumped = handled < f.handled || t0 < f.from;
    if (!jumped && now - (f.at ?? 0) < REFETCH_MS) return;
    const from = Math.max(0, Math.floor(t0 - this.windowMs));
    const raw = core.diagram(from);
    const events = [];
    for (let i = 0; i < raw.length; i += DIAGRAM_STRIDE) {
      events.push({
        code: raw[i], time: raw[i + 1], node: raw[i + 2], peer: raw[i + 3], id: raw[i + 4],
        extra: raw[i + 5], progress: raw[i + 6], position: raw[i + 7], index: raw[i + 8],
      });
    }
    this.events = events;
    // Small marks first, so that a client's write or read is never hidden under its answer.
    const order = (e) => ({ [CODE.send]: 0, [CODE.deliver]: 0, [CODE.answer]: 1 }[e.code] ?? 2);
    this.ended = new Set(events.filter((e) => e.code === CODE.deliver || e.code === CODE.drop).map((e) => e.id));
    this.marks = [...events].sort((a, b) => order(a) - order(b) || a.index - b.index);
    // When each message still on its way will arrive (its line grows until then).
    const arrivals = core.flightArrivals();
    this.arrivals = new Map();
    for (let i = 0; i < arrivals.length; i += 2) this.arrivals.set(arrivals[i], arrivals[i + 1]);
    this.fetched = { count, from, handled, at: now };
    this.graph = null;
  }

  /** Lanes and arrows: which events happen before which (built when the events change). */
  buildGraph() {
    const byIndex = new Map();
    const lastOnLane = new Map();
    const sends = new Map();
    const before = new Map(); // index -> indexes of its immediate causes
    const after = new Map();
    const link = (a, b) => {
      if (!before.has(b)) before.set(b, []);
      before.get(b).push(a);
      if (!after.has(a)) after.set(a, []);
      after.get(a).push(b);
    };
    for (const e of this.events) {
      byIndex.set(e.index, e);
      const lane = laneOf(e);
      if (lane === null) continue;
      const prev = lastOnLane.get(lane);
      if (prev !== undefined) link(prev, e.index);
      lastOnLane.set(lane, e.index);
      if (e.code === CODE.send) sends.set(e.id, e.index);
      if (e.code === CODE.deliver && sends.has(e.id)) link(sends.get(e.id), e.index);
    }
    this.graph = { byIndex, before, after, sends };
  }

  /** Every event reachable from `index` along `edges`. */
  reach(index, edges) {
    const seen = new Set([index]);
    const stack = [index];
    while (stack.length > 0) {
      for (const next of edges.get(stack.pop()) ?? []) {
        if (!seen.has(next)) {
          seen.add(next);
          stack.push(next);
        }
      }
    }
    seen.delete(index);
    return seen;
  }

  geometry(nodes, t1) {
    // Until a window's worth of time has passed, time runs from zero at the left edge.
    const t0 = Math.max(0, t1 - this.windowMs);
    const plotW = Math.max(10, this.width - this.gutter - RIGHT);
    const laneGap = (this.height - TOP - AXIS) / Math.max(1, nodes);
    return {
      t0,
      t1,
      x: (t) => this.gutter + ((t - t0) / this.windowMs) * plotW,
      y: (node) => TOP + laneGap * (node - 0.5),
      laneGap,
    };
  }

  /** Where event number `index` is drawn, in page coordinates (for tests), or null. */
  pointOf(index) {
    const e = this.graph?.byIndex.get(index);
    const lane = e ? laneOf(e) : null;
    if (!this.geo || lane === null || e.time < this.geo.t0) return null;
    const rect = this.canvas.getBoundingClientRect();
    return { x: rect.left + this.geo.x(e.time), y: rect.top + this.geo.y(lane) };
  }

  /** The events lit now: `{focus, past, future}` as event numbers (for tests), or null. */
  lit() {
    const focus = this.hover ?? (this.selected !== null ? this.graph?.byIndex.get(this.selected) : null);
    if (!focus || !this.graph) return null;
    return {
      focus: focus.index,
      past: [...this.reach(focus.index, this.graph.before)].sort((a, b) => a - b),
      future: [...this.reach(focus.index, this.graph.after)].sort((a, b) => a - b),
    };
  }

  hitAt(e) {
    if (!this.geo) return null;
    const rect = this.canvas.getBoundingClientRect();
    const px = (e.clientX - rect.left) / this.zoom;
    const py = (e.clientY - rect.top) / this.zoom;
    let best = null;
    let bestD = HIT_PX * HIT_PX;
    for (const ev of this.events) {
      const lane = laneOf(ev);
      if (lane === null || ev.time < this.geo.t0) continue;
      const dx = this.geo.x(ev.time) - px;
      const dy = this.geo.y(lane) - py;
      // A client's request or a fault wins over the sends and deliveries drawn at its place.
      const small = ev.code === CODE.send || ev.code === CODE.deliver || ev.code === CODE.answer;
      const d = dx * dx + dy * dy + (small ? 12 : 0);
      if (d <= bestD + (small ? 12 : 0) && (best === null || d < bestD)) {
        bestD = d;
        best = ev;
      }
    }
    return best;
  }

  render(core, vt, nodes) {
    if (this.width === 0 || this.wrap.hidden) return;
    const t1 = Math.max(vt, 0);
    this.fetch(core, Math.max(0, t1 - this.windowMs));
    if (!this.graph) this.buildGraph();
    const g = this.canvas.getContext('2d');
    if (nodes !== this.measuredNodes) {
      // The lane labels' width, measured when the node list changes (not every frame).
      g.font = `600 12px ${FONT}`;
      const widest = Math.max(0, ...nodes.map((n) => g.measureText(`Node ${n.id} ✕`).width));
      this.gutter = Math.max(MIN_GUTTER, Math.ceil(widest) + 14);
      this.measuredNodes = nodes;
    }
    const geo = this.geometry(nodes.length, t1);
    this.geo = geo;
    g.setTransform(this.ratio, 0, 0, this.ratio, 0, 0);
    g.clearRect(0, 0, this.width, this.height);

    const focus = this.hover ?? (this.selected !== null ? this.graph.byIndex.get(this.selected) : null);
    const tone = this.toner(focus);

    this.drawLanes(g, geo, nodes);
    this.drawAxis(g, geo);
    // Arrows and marks change only with new data or a new focus: they are painted into a layer
    // ten times a second at most, and each frame slides it left as time runs on.
    const key = `${this.fetched.at}|${focus ? focus.index : ''}|${this.selected}|${this.width}x${this.height}|${this.gutter}|${this.windowMs}|${nodes.length}`;
    if (key !== this.layerKey) {
      this.paintLayer(geo, tone);
      this.layerKey = key;
      this.layerT0 = geo.t0;
    }
    const plotW = Math.max(10, this.width - this.gutter - RIGHT);
    const shift = ((geo.t0 - this.layerT0) / this.windowMs) * plotW;
    g.save();
    g.beginPath();
    g.rect(this.gutter - 4, 0, this.width - this.gutter + 4 - RIGHT + 8, this.height - AXIS + 4);
    g.clip();
    g.setTransform(1, 0, 0, 1, 0, 0);
    g.drawImage(this.layer, -Math.round(shift * this.ratio), 0);
    g.setTransform(this.ratio, 0, 0, this.ratio, 0, 0);
    this.drawInFlight(g, geo, t1, tone);
    g.restore();
  }

  /**
   * Draws the diagram as shown onto another context (an SVG one, for a vector picture), in CSS
   * pixels, without its layer: lanes, axis, arrows, marks and messages in flight as shapes.
   */
  renderVector(g, vt, nodes) {
    if (!this.geo || !this.graph) return;
    const t1 = Math.max(vt, 0);
    const geo = this.geometry(nodes.length, t1);
    const focus = this.hover ?? (this.selected !== null ? this.graph.byIndex.get(this.selected) : null);
    const tone = this.toner(focus);
    this.drawLanes(g, geo, nodes);
    this.drawAxis(g, geo);
    g.save();
    g.beginPath();
    g.rect(this.gutter - 4, 0, this.width - this.gutter + 4 - RIGHT + 8, this.height - AXIS + 4);
    g.clip();
    this.drawArrows(g, geo, tone);
    this.drawMarks(g, geo, tone);
    this.drawInFlight(g, geo, t1, tone);
    g.restore();
  }

  /** How an event is drawn while `focus` is lit: itself, its past, its future, or dimmed. */
  toner(focus) {
    if (!focus) return () => 'normal';
    const past = this.reach(focus.index, this.graph.before);
    const future = this.reach(focus.index, this.graph.after);
    return (index) => {
      if (index === focus.index) return 'focus';
      if (past.has(index)) return 'past';
      if (future.has(index)) return 'future';
      return 'dim';
    };
  }

  paintLayer(geo, tone) {
    if (!this.layer) this.layer = document.createElement('canvas');
    const layer = this.layer;
    if (layer.width !== this.canvas.width || layer.height !== this.canvas.height) {
      layer.width = this.canvas.width;
      layer.height = this.canvas.height;
    }
    const g = layer.getContext('2d');
    g.setTransform(1, 0, 0, 1, 0, 0);
    g.clearRect(0, 0, layer.width, layer.height);
    g.setTransform(this.ratio, 0, 0, this.ratio, 0, 0);
    this.drawArrows(g, geo, tone);
    this.drawMarks(g, geo, tone);
  }

  drawLanes(g, geo, nodes) {
    g.font = `600 12px ${FONT}`;
    g.textBaseline = 'middle';
    g.textAlign = 'right';
    for (const n of nodes) {
      const y = geo.y(n.id);
      g.strokeStyle = n.up ? '#d5d9e0' : '#aab1bd';
      g.lineWidth = n.up ? 1 : 3;
      g.setLineDash(n.up ? [] : [4, 4]);
      g.beginPath();
      g.moveTo(this.gutter, y);
      g.lineTo(this.width - RIGHT, y);
      g.stroke();
      g.fillStyle = n.up ? COLOURS.ink : COLOURS.muted;
      g.fillText(`Node ${n.id}${n.up ? '' : ' ✕'}`, this.gutter - 8, y);
    }
    g.setLineDash([]);
  }

  drawAxis(g, geo) {
    const step = niceStep(this.windowMs / 6);
    g.font = `12px ${FONT}`;
    g.textAlign = 'center';
    g.textBaseline = 'top';
    g.fillStyle = COLOURS.muted;
    g.strokeStyle = '#eceef2';
    g.lineWidth = 1;
    for (let t = Math.ceil(Math.max(0, geo.t0) / step) * step; t <= geo.t1; t += step) {
      const x = geo.x(t);
      g.beginPath();
      g.moveTo(x, TOP - 4);
      g.lineTo(x, this.height - AXIS);
      g.stroke();
      g.fillText(`${(t / 1000).toFixed(step < 1000 ? 1 : 0)} s`, x, this.height - AXIS + 3);
    }
    // The moment shown: the right edge.
    g.strokeStyle = COLOURS.ink;
    g.lineWidth = 1.5;
    const x = geo.x(geo.t1);
    g.beginPath();
    g.moveTo(x, TOP - 4);
    g.lineTo(x, this.height - AXIS);
    g.stroke();
  }

  drawArrows(g, geo, tone) {
    const { sends } = this.graph;
    const batch = new Batch();
    for (const e of this.events) {
      if (e.code !== CODE.deliver && e.code !== CODE.drop) continue;
      if (e.time < geo.t0) continue;
      const s = sends.get(e.id);
      const send = s === undefined ? null : this.graph.byIndex.get(s);
      const sendTime = send ? send.time : geo.t0 - this.windowMs; // sent before the data began
      const x0 = geo.x(sendTime);
      const y0 = geo.y(e.node);
      const yTo = geo.y(e.peer);
      const t = tone(e.index);
      if (e.code === CODE.deliver) {
        batch.arrow(x0, y0, geo.x(e.time), yTo, lineColour(style(e.extra).colour, t), t === 'dim' ? 0.8 : 1.6);
      } else {
        // A drop ends where the message was lost (or at the receiver: a cut link, a node down).
        const x1 = geo.x(e.time);
        const y1 = y0 + (yTo - y0) * e.progress;
        batch.line(x0, y0, x1, y1, lineColour(DROPPED, t), 1.4, true);
        batch.cross(x1, y1, 5, lineColour(DROPPED, t));
      }
    }
    batch.draw(g);
  }

  drawInFlight(g, geo, t1, tone) {
    const { sends } = this.graph;
    const batch = new Batch();
    const ended = this.ended;
    // Still on their way: an open line reaching as far as the message has got.
    for (const [id, arrive] of this.arrivals) {
      const s = sends.get(id);
      if (s === undefined || ended.has(id)) continue;
      const send = this.graph.byIndex.get(s);
      const span = arrive - send.time;
      const progress = span <= 0 ? 1 : Math.min(1, Math.max(0, (t1 - send.time) / span));
      const x0 = geo.x(send.time);
      const y0 = geo.y(send.node);
      const y1 = y0 + (geo.y(send.peer) - y0) * progress;
      // Solid and thin, without a head (dashing thousands of lines is slow to paint).
      batch.line(x0, y0, geo.x(Math.min(t1, arrive)), y1, lineColour(style(send.extra).colour, tone(send.index)), 0.9);
    }
    batch.draw(g);
  }

  drawMarks(g, geo, tone) {
    // Small marks first, so that a client's write or read is never hidden under its answer.
    for (const e of this.marks) {
      if (e.time < geo.t0) continue;
      const x = geo.x(e.time);
      const t = tone(e.index);
      if (e.code === CODE.configure) {
        line(g, x, TOP - 4, x, this.height - AXIS, lineColour(COLOURS.muted, t), 1, [2, 4]);
        continue;
      }
      if (e.code === CODE.link) {
        const ya = geo.y(e.node);
        const yb = geo.y(e.peer);
        line(g, x, ya, x, yb, lineColour(e.extra ? '#d55e00' : COLOURS.reply, t), 1, [6, 4]);
        continue;
      }
      const lane = laneOf(e);
      if (lane === null) continue;
      const y = geo.y(lane);
      mark(g, e, x, y, t, this.selected === e.index || t === 'focus');
    }
  }
}

/** The node an event happens at (null for drops, links and setting changes: not on one lane). */
function laneOf(e) {
  switch (e.code) {
    case CODE.send: return e.node;
    case CODE.deliver: return e.peer;
    case CODE.drop: case CODE.link: case CODE.configure: return null;
    default: return e.node;
  }
}

/** Lines, arrowheads and crosses gathered by style and drawn in one path each. */
class Batch {
  constructor() {
    this.strokes = new Map();
    this.heads = new Map();
  }

  path(key) {
    if (!this.strokes.has(key)) this.strokes.set(key, []);
    return this.strokes.get(key);
  }

  line(x0, y0, x1, y1, colour, width, dashed = false) {
    this.path(`${colour}|${width}|${dashed ? 1 : 0}`).push(x0, y0, x1, y1);
  }

  arrow(x0, y0, x1, y1, colour, width) {
    this.line(x0, y0, x1, y1, colour, width);
    const angle = Math.atan2(y1 - y0, x1 - x0);
    const head = 6;
    if (!this.heads.has(colour)) this.heads.set(colour, []);
    this.heads.get(colour).push(
      x1, y1,
      x1 - head * Math.cos(angle - 0.4), y1 - head * Math.sin(angle - 0.4),
      x1 - head * Math.cos(angle + 0.4), y1 - head * Math.sin(angle + 0.4),
    );
  }

  cross(x, y, r, colour) {
    const path = this.path(`${colour}|2|0`);
    path.push(x - r, y - r, x + r, y + r, x + r, y - r, x - r, y + r);
  }

  draw(g) {
    for (const [key, segments] of this.strokes) {
      const [colour, width, dashed] = key.split('|');
      g.strokeStyle = colour;
      g.lineWidth = Number(width);
      g.setLineDash(dashed === '1' ? [4, 3] : []);
      g.beginPath();
      for (let i = 0; i < segments.length; i += 4) {
        g.moveTo(segments[i], segments[i + 1]);
        g.lineTo(segments[i + 2], segments[i + 3]);
      }
      g.stroke();
    }
    g.setLineDash([]);
    for (const [colour, points] of this.heads) {
      g.fillStyle = colour;
      g.beginPath();
      for (let i = 0; i < points.length; i += 6) {
        g.moveTo(points[i], points[i + 1]);
        g.lineTo(points[i + 2], points[i + 3]);
        g.lineTo(points[i + 4], points[i + 5]);
        g.closePath();
      }
      g.fill();
    }
  }
}

function style(kind) {
  return messageStyle(kind % DROP_REASON_FACTOR);
}

function lineColour(colour, tone) {
  if (tone === 'past') return PAST;
  if (tone === 'future') return FUTURE;
  if (tone === 'dim') return '#dfe2e7';
  return colour;
}

function line(g, x0, y0, x1, y1, colour, width, dash = []) {
  g.strokeStyle = colour;
  g.lineWidth = width;
  g.setLineDash(dash);
  g.beginPath();
  g.moveTo(x0, y0);
  g.lineTo(x1, y1);
  g.stroke();
  g.setLineDash([]);
}

function cross(g, x, y, r, colour) {
  g.strokeStyle = colour;
  g.lineWidth = 2;
  g.beginPath();
  g.moveTo(x - r, y - r);
  g.lineTo(x + r, y + r);
  g.moveTo(x + r, y - r);
  g.lineTo(x - r, y + r);
  g.stroke();
}

/** An event's mark: its shape says its kind (colour is never the only sign). */
function mark(g, e, x, y, tone, selected) {
  const fill = {
    [CODE.write]: COLOURS.replicate, [CODE.read]: COLOURS.read, [CODE.answer]: COLOURS.reply,
    [CODE.send]: COLOURS.muted, [CODE.deliver]: COLOURS.ink, [CODE.timer]: COLOURS.sync,
    [CODE.hint]: COLOURS.hint, [CODE.collect]: COLOURS.muted, [CODE.crash]: '#d55e00', [CODE.recover]: COLOURS.reply,
  }[e.code] ?? COLOURS.ink;
  const colour = tone === 'normal' ? fill : lineColour(fill, tone);
  const focus = tone === 'focus' || selected;
  const r = focus ? 6 : { [CODE.send]: 2, [CODE.deliver]: 2.6, [CODE.answer]: 3.2 }[e.code] ?? 5;
  g.fillStyle = tone === 'focus' ? COLOURS.ink : colour;
  g.strokeStyle = '#ffffff';
  g.lineWidth = 1.5;
  if (e.code === CODE.crash) {
    cross(g, x, y, r, colour);
    return;
  }
  const shape = { [CODE.read]: 'triangle', [CODE.answer]: 'square', [CODE.timer]: 'square', [CODE.collect]: 'square', [CODE.hint]: 'diamond' }[e.code] ?? 'circle';
  g.beginPath();
  traceShape(g, shape, x, y, shape === 'square' ? r * 0.8 : r);
  g.fill();
  if (e.code !== CODE.send && e.code !== CODE.deliver) g.stroke();
  if (selected) {
    g.strokeStyle = COLOURS.ink;
    g.lineWidth = 2;
    g.beginPath();
    g.arc(x, y, r + 3, 0, Math.PI * 2);
    g.stroke();
  }
}

export function describeMark(e) {
  const names = ['write', 'read', 'answer', 'send', 'delivery', 'drop', 'anti-entropy timer', 'hint', 'tombstone collected', 'crash', 'recovery', 'link change', 'settings change'];
  const at = e.code === CODE.deliver ? `at node ${e.peer} from node ${e.node}` : e.code === CODE.send ? `from node ${e.node} to node ${e.peer}` : `at node ${e.node}`;
  return `${names[e.code] ?? 'event'} ${at}`;
}

function niceStep(raw) {
  const p = 10 ** Math.floor(Math.log10(raw));
  for (const m of [1, 2, 5, 10]) if (m * p >= raw) return m * p;
  return 10 * p;
}
