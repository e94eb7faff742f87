// Owns the animation loop: each frame advances virtual time by elapsed × speed, then draws.
// Boots the wasm core, reads settings from the URL, and exposes the simulation as window.sim.

import init, { Simulation } from './pkg/converge.js';
import { setLayout } from './layout.js';
import { ClusterView } from './draw.js';
import { Controls } from './controls.js';
import { createApi } from './api.js';
import { TimelineBar } from './timeline.js';
import { EventLog } from './events.js';
import { SpaceTimeDiagram } from './diagram.js';
import { Plots } from './plots.js';
import { LessonPlayer } from './lessons.js';
import { Comparison } from './compare.js';
import { linkTo, packSession, sessionInHash, unpackSession } from './session.js';
import { settingsFromUrl } from './url.js';

const VIEW_REFRESH_MS = 100; // panels and cards refresh at most ten times a second
const MAX_FRAME_GAP_MS = 100; // a long pause (a background tab) is not replayed at once
const PREVIEW_CHARS = 80;
const RECENT_WRITES = 30;
const RECENT_REQUESTS = 20;
const MIN_SPEED = 0.1;
const MAX_SPEED = 100;
const DEFAULT_SPEED = 0.25;

class App {
  constructor(core, view, controls, timeline, events, diagram, plots, lesson, comparison) {
    this.comparison = comparison;
    this.diagram = diagram;
    this.plots = plots;
    this.lesson = lesson;
    this.stopAt = null; // {t, done}: playing pauses at virtual time t, then calls done
    this.keptAt = -Infinity; // when the session was last kept (see keepSession), and its length
    this.keptCount = -1;
    this.nodes = [];
    this.core = core;
    this.view = view;
    this.controls = controls;
    this.timeline = timeline;
    this.events = events;
    this.vt = core.now(); // virtual time being drawn: may run up to 1 ms ahead of the core
    this.playing = true;
    this.speed = DEFAULT_SPEED;
    this.lastFrame = null;
    this.lastRefresh = -Infinity;
    this.seenChanges = -1;
    this.forceRefresh = true;
    this.stopped = false;
    this.runningTo = null; // {target, cancelled}: a long runFor going on in slices (see runTo)
  }

  setPlaying(on) {
    this.playing = Boolean(on);
    this.controls.showPlaying(this.playing);
    return this.playing;
  }

  checkSpeed(speed) {
    if (typeof speed !== 'number' || !Number.isFinite(speed) || speed < MIN_SPEED || speed > MAX_SPEED) {
      throw new Error(`speed must be a number from ${MIN_SPEED} to ${MAX_SPEED}, not ${JSON.stringify(speed)}`);
    }
  }

  clampSpeed(speed) {
    return Math.min(MAX_SPEED, Math.max(MIN_SPEED, speed));
  }

  setSpeed(speed) {
    this.checkSpeed(speed);
    this.speed = speed;
    this.controls.showSpeed(speed);
  }

  /** After any command: the drawn clock follows the core, and every view refreshes now. */
  afterCommand() {
    const now = this.core.now();
    if (this.vt < now || this.vt >= now + 1) this.vt = now;
    this.forceRefresh = true;
  }

  /** Shows the moment `t` (ms): playback pauses, and the whole page follows. */
  seek(t) {
    this.setPlaying(false);
    this.core.seek(t);
    this.travelled();
  }

  /** Shows the moment just after event number `n` (how many events had been handled). */
  seekEvent(n) {
    this.setPlaying(false);
    this.core.seekEvent(n);
    this.travelled();
  }

  /** Back one event; false at the start. */
  stepBack() {
    this.setPlaying(false);
    const moved = this.core.stepBack();
    this.travelled();
    return moved;
  }

  /** Forward one event (replaying the remembered future, if any); false if nothing waits. */
  stepForward() {
    this.setPlaying(false);
    const moved = this.core.step() !== undefined;
    this.travelled();
    return moved;
  }

  /** After a jump in time: drops from the replay are not news, and every view redraws. */
  travelled() {
    this.stopAt = null;
    this.cancelRun();
    this.core.drainDrops();
    this.view.clearDrops();
    this.vt = this.core.now();
    this.forceRefresh = true;
    this.lesson.follow();
    this.comparison.travelled();
  }

  /** Plays until virtual time `t`, then pauses there and calls `done` (a lesson's step). */
  playUntil(t, done) {
    this.stopAt = { t, done };
    this.setPlaying(true);
  }

  cancelStop() {
    this.stopAt = null;
  }

  /**
   * Runs to virtual time `target` (runFor, runUntil): at once when that takes at most
   * RUN_AT_ONCE_EVENTS events, returning how many happened; else on in slices between frames,
   * the page drawing the run as it goes, with a progress bar and Cancel, returning a Promise of
   * how many happened. A cancelled run (or one overtaken by a jump in time or a new run) stays
   * where it got to.
   */
  runTo(target) {
    if (this.runningTo !== null) {
      throw new Error(`a run to t = ${this.runningTo.target} ms is still going: wait for it, or cancel it`);
    }
    const core = this.core;
    const before = core.eventsHandled();
    const done = core.runSlice(target, RUN_AT_ONCE_EVENTS);
    this.afterCommand();
    if (done) return core.eventsHandled() - before;
    return this.runSliced(target, before);
  }

  async runSliced(target, before) {
    const core = this.core;
    const run = { target, cancelled: false };
    this.runningTo = run;
    const from = core.now();
    const box = document.getElementById('loading');
    const bar = document.getElementById('loading-bar');
    const said = document.getElementById('loading-text');
    const cancel = document.getElementById('loading-cancel');
    cancel.onclick = () => {
      run.cancelled = true;
    };
    box.hidden = false;
    try {
      for (;;) {
        const share = Math.min(1, (core.now() - from) / Math.max(1, target - from));
        bar.value = share;
        said.textContent = `Running to t = ${(target / 1000).toFixed(1)} s… ${Math.floor(share * 100)}%`;
        await new Promise((resolve) => setTimeout(resolve, 0));
        if (run.cancelled) break;
        const started = performance.now();
        let done;
        do {
          done = core.runSlice(target, RUN_SLICE_EVENTS);
        } while (!done && performance.now() - started < RUN_SLICE_MS);
        this.afterCommand();
        if (done) break;
      }
    } finally {
      if (this.runningTo === run) this.runningTo = null;
      box.hidden = true;
      cancel.onclick = null;
    }
    return core.eventsHandled() - before;
  }

  /** Stops a long run going on in slices where it got to (see runTo). */
  cancelRun() {
    if (this.runningTo !== null) this.runningTo.cancelled = true;
    this.runningTo = null;
  }

  /** The session as JSON text, with the lesson place if a lesson is open. */
  sessionText() {
    return this.core.session(this.lesson.place());
  }

  /**
   * Replaces the run with a saved session (JSON text), shown paused at its moment; a session
   * saved during a lesson reopens the lesson at its step. Returns the lesson place, if any.
   */
  loadSession(text) {
    return this.loaded(this.core.loadSession(text));
  }

  /**
   * The same, replayed a slice at a time between frames: a long session takes seconds, and the
   * page stays alive meanwhile, shows how far the replay has got and offers to cancel (the run
   * shown stays as it was). Resolves to the lesson place (or null), or to `undefined` if
   * cancelled; rejects if the session cannot be used, changing nothing.
   */
  async loadSessionSliced(text) {
    const core = this.core;
    core.beginLoad(text);
    const box = document.getElementById('loading');
    const bar = document.getElementById('loading-bar');
    const said = document.getElementById('loading-text');
    let cancelled = false;
    const cancel = document.getElementById('loading-cancel');
    cancel.onclick = () => {
      cancelled = true;
    };
    const began = performance.now();
    try {
      for (;;) {
        const sliceStarted = performance.now();
        let step;
        do {
          step = core.loadStep(LOAD_STEP_WORK);
        } while (!step.done && performance.now() - sliceStarted < LOAD_SLICE_MS);
        if (step.done) break;
        // Only a load that lasts shows the box (a short one would flash).
        if (performance.now() - began > 250) box.hidden = false;
        bar.value = step.progress;
        said.textContent = `Replaying the session… ${Math.floor(step.progress * 100)}%`;
        await new Promise((resolve) => setTimeout(resolve, 0));
        if (cancelled) {
          core.cancelLoad();
          return undefined;
        }
      }
    } finally {
      box.hidden = true;
      cancel.onclick = null;
    }
    return this.loaded(core.finishLoad());
  }

  /** A session replaced the run: shown paused at its moment, in its lesson if it had one. */
  loaded(place) {
    this.setPlaying(false);
    this.lesson.close();
    this.restarted();
    this.travelled();
    if (place) {
      this.lesson.resume(place).catch((err) => {
        this.controls.toast(`The session was saved during lesson "${place.id}", which could not be opened: ${err.message}`);
      });
    }
    return place;
  }

  /** Replaces the run with a lesson (its file's text), shown paused at its start. */
  openLesson(id, text) {
    const view = this.core.loadLesson(id, text);
    this.setPlaying(false);
    this.restarted();
    this.travelled();
    return view;
  }

  /** A new run began (reset, or a new node count or seed). */
  restarted() {
    this.cancelRun();
    this.vt = this.core.now();
    this.forceRefresh = true;
    this.controls.restarted();
  }

  /** Reads every view the panels show. Occasional, so serde objects are fine here. */
  refresh(realNow) {
    const core = this.core;
    const state = readState(core);
    // The ring changes only with a new run: fetch its tokens then.
    const { seed, vnodes, replicationFactor } = state.settings;
    const ringId = `${seed}:${state.nodes.length}:${vnodes}:${replicationFactor}`;
    if (this.ringId !== ringId) {
      this.ring = core.ring();
      this.ringId = ringId;
    }
    state.ring = this.ring;
    this.view.setState(state);
    this.controls.update(state);
    this.events.update(core, state.nodes.length);
    this.lesson.update();
    this.comparison.refresh(core, readState);
    if (state.nodes.length !== this.nodes.length) this.diagram.fit(state.nodes.length);
    this.nodes = state.nodes;
    this.seenChanges = core.changes();
    this.lastRefresh = realNow;
    this.forceRefresh = false;
  }

  frame(realNow) {
    const gap = this.lastFrame === null ? 0 : Math.min(realNow - this.lastFrame, MAX_FRAME_GAP_MS);
    this.lastFrame = realNow;
    const core = this.core;
    // A long runFor going on in slices moves time itself (see runTo).
    if (this.playing && this.runningTo === null) {
      this.vt += gap * this.speed;
      const stop = this.stopAt;
      if (stop && this.vt >= stop.t) {
        this.vt = stop.t;
        core.runUntil(stop.t);
        this.stopAt = null;
        this.setPlaying(false);
        this.forceRefresh = true;
        stop.done();
      } else {
        core.runUntil(Math.floor(this.vt));
      }
    }
    this.view.addDrops(core.drainDrops(), realNow);
    // Panels follow at most ten times a second: a burst of commands or events costs one refresh.
    const stale = this.forceRefresh || core.changes() !== this.seenChanges || this.comparison.stale();
    if (stale && realNow - this.lastRefresh >= VIEW_REFRESH_MS) {
      this.refresh(realNow);
    } else {
      this.controls.showTime(core.now());
    }
    this.timeline.show(core);
    this.plots.update(core, realNow);
    const count = core.commandCount();
    if (realNow - this.keptAt >= KEEP_EVERY_MS && count !== this.keptCount) {
      this.keptAt = realNow;
      this.keptCount = count;
      keepSession(this);
    }
    // Last call into wasm this frame: the view it returns is read before any other call.
    const flights = core.flights(this.vt);
    this.view.render(flights, realNow);
    this.comparison.frame(core, this.vt, realNow);
    this.diagram.render(core, this.vt, this.nodes);
  }

  start() {
    const loop = (t) => {
      if (this.stopped) return;
      try {
        const started = performance.now();
        this.frame(t);
        // Opt-in measurement for tests/e2e/bench-page.mjs: set window.convergeFrameTimes = [].
        if (Array.isArray(window.convergeFrameTimes)) window.convergeFrameTimes.push(performance.now() - started);
      } catch (err) {
        fatal(err);
        return;
      }
      requestAnimationFrame(loop);
    };
    requestAnimationFrame(loop);
  }
}

/** What the drawing and the panels show of a run. */
function readState(core) {
  return {
    nodes: core.nodes(),
    keys: core.keys(PREVIEW_CHARS),
    cutLinks: core.cutLinks(),
    stats: core.stats(),
    settings: core.settings(),
    writes: core.writes(RECENT_WRITES),
    requests: core.requests(RECENT_REQUESTS),
    divergent: core.divergentKeys(),
    ranges: core.recentRanges(),
    resurrections: core.resurrections(),
  };
}

/**
 * Whether `err` says the wasm instance itself died (a trap: out of memory, or an abort), after
 * which no call into it can work: the next one only says "recursive use of an object".
 */
export function wasmDied(err) {
  return err instanceof WebAssembly.RuntimeError
    || /unreachable|out of memory|memory access out of bounds|recursive use of an object/.test(String(err && err.message));
}

/** Shows that the simulation stopped, and why; the page never dies silently. */
function fatal(err) {
  if (app) app.stopped = true;
  const box = document.getElementById('fatal');
  const said = err && err.message ? err.message : String(err);
  // After the trap, every call says "recursive use of an object": not worth repeating.
  const detail = /recursive use of an object/.test(said) ? '' : ` (the browser said: ${said.slice(0, 120)})`;
  const text = wasmDied(err) ? `It ran out of memory, or hit an internal error, and cannot go on${detail}.` : said;
  document.getElementById('fatal-text').textContent = ` ${text}`;
  const kept = keptSession();
  const again = document.getElementById('fatal-again');
  again.hidden = kept === null;
  if (kept !== null) again.textContent = `Reopen the last moment kept (t = ${(kept.time / 1000).toFixed(1)} s)`;
  box.hidden = false;
  console.error(err);
}

// Loading a session: work (events and versions carried) per call into the core, and how long
// the page replays before it lets a frame through.
const LOAD_STEP_WORK = 50_000;
const LOAD_SLICE_MS = 30;
// runFor and runUntil: the events run at once (a fraction of a second even at 64 nodes), and
// past them, per call into the core and how long the page runs before it lets a frame through.
const RUN_AT_ONCE_EVENTS = 1_000_000;
const RUN_SLICE_EVENTS = 20_000;
const RUN_SLICE_MS = 30;

// The last session the page could save, kept in this tab (sessionStorage) so that after the
// simulation dies the run can be reopened where it was a moment before.
const KEPT_KEY = 'converge-kept-session';
const KEEP_EVERY_MS = 2000;

function keptSession() {
  try {
    const text = sessionStorage.getItem(KEPT_KEY);
    return text === null ? null : { text, time: JSON.parse(text).time };
  } catch {
    return null;
  }
}

/** Keeps the session now, unless it cannot be saved (too long) or the tab refuses it. */
function keepSession(app) {
  try {
    sessionStorage.setItem(KEPT_KEY, app.sessionText());
  } catch {
    // Too long for a session, or for the tab's storage: the last one kept stays.
  }
}

/** A simulation with as many of `settings` as can be used; the rest are named in `problems`. */
function simulationFrom(settings, problems) {
  try {
    return new Simulation(settings);
  } catch {
    // Keep every setting that works on its own with those kept so far; name the others.
    const kept = {};
    for (const [name, value] of Object.entries(settings)) {
      try {
        new Simulation({ ...kept, [name]: value }).free();
        kept[name] = value;
      } catch (err) {
        problems.push(err.message);
      }
    }
    return new Simulation(kept);
  }
}

let app = null;

async function boot() {
  globalThis.convergePanic = (message) => fatal(new Error(message));
  document.getElementById('fatal-reload').addEventListener('click', () => location.reload());
  document.getElementById('fatal-again').addEventListener('click', async () => {
    const kept = keptSession();
    if (kept === null) return;
    // Not kept again until the reopened run has shown it works: a kept run that dies again
    // must not come back for ever.
    sessionStorage.removeItem(KEPT_KEY);
    location.assign(linkTo(await packSession(kept.text), location));
    location.reload();
  });
  await init();
  setLayout(Simulation.layout());

  const { settings, speed, problems } = settingsFromUrl(location.search);
  const core = simulationFrom(settings, problems);
  const view = new ClusterView(document.getElementById('cluster'));
  const controls = new Controls(document, () => app);
  // The smaller components get only what they may do to the rest of the page.
  const refresh = () => {
    app.forceRefresh = true;
  };
  const seek = (t) => app.seek(t);
  const seekEvent = (position) => app.seekEvent(position);
  const timeline = new TimelineBar(document, {
    seek,
    seekEnd: () => app.seek(app.core.end()),
    stepBack: () => app.stepBack(),
    stepForward: () => app.stepForward(),
    inLesson: () => app.lesson.view !== null && !app.lesson.offScript(),
  });
  const events = new EventLog(document, { refresh, seekEvent, core: () => app.core });
  const diagram = new SpaceTimeDiagram(document.getElementById('diagram'), {
    seekEvent,
    selectEvent: (index) => events.select(index),
  });
  const plots = new Plots(document, { refresh, seek, playing: () => app.playing });
  const lesson = new LessonPlayer(document, () => app, Simulation);
  const comparison = new Comparison(document, () => app, Simulation);
  // Hooks for tests: view.nodePosition(id), view.dropsDrawn(); ring.selected,
  // ring.point(position, radius); diagram.pointOf(index), diagram.lit(); abortForTesting()
  // kills the wasm instance mid-call, as running out of memory does.
  window.converge = Object.freeze({ view, ring: controls.ring, diagram, twinView: () => app.comparison.view, abortForTesting: () => app.core.abortForTesting() });
  app = new App(core, view, controls, timeline, events, diagram, plots, lesson, comparison);
  controls.attach(view);
  timeline.attach();
  events.attach((message) => controls.toast(message));
  diagram.attach();
  plots.attach(Simulation.plotBuckets());
  lesson.attach((message) => controls.toast(message));
  comparison.attach((message) => controls.toast(message));
  if (speed !== undefined) {
    try {
      app.setSpeed(speed);
    } catch (err) {
      problems.push(err.message);
    }
  }
  controls.showSpeed(app.speed);
  controls.showPlaying(app.playing);
  window.sim = createApi(app);
  if (problems.length > 0) {
    controls.toast(`The page address has settings that could not be used, so they were left out: ${problems.join('; ')}.`);
  }
  // A shared link: the session it carries replaces the run (nothing runs if it is bad).
  const packed = sessionInHash(location.hash);
  if (packed) {
    try {
      const text = await unpackSession(packed);
      if (await app.loadSessionSliced(text) === undefined) {
        controls.toast('Opening the link\'s session was cancelled, so a new run started instead.');
      }
    } catch (err) {
      if (wasmDied(err)) throw err; // no new run started: the simulation itself is gone
      controls.toast(`The link's session could not be opened, so a new run started instead: ${err.message}`);
    }
  }
  // ?lesson=quorums (and &step=3, from 1) opens a lesson: a teacher's link to it.
  const params = new URLSearchParams(location.search);
  if (params.has('lesson') && !packed) {
    try {
      await lesson.open(params.get('lesson'), Number(params.get('step') ?? 1) - 1 || 0);
    } catch (err) {
      controls.toast(`The lesson in the address could not be opened: ${err.message}`);
    }
  }
  new ResizeObserver(() => {
    view.resize();
  }).observe(document.getElementById('canvas-wrap'));
  // A reader whose system asks for less motion sees the run still until they press Play (or
  // step through it); drop crosses then stand still too (see ClusterView.drawDrops).
  if (view.reducedMotion) {
    app.setPlaying(false);
    controls.toast('Paused, as your system asks for reduced motion: press Play (or Space) to run.');
  }
  app.start();
  document.documentElement.dataset.ready = 'true';
  console.info('converge is ready: try sim.help()');
}

boot().catch(fatal);
