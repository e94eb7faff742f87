// window.sim: the simulation for scripting from the browser console, as the tutorial does with curl.
//
//   sim.write(1, 'name', 'Alice')   sim.runFor(500)   sim.read(3, 'name')   sim.converged()
//
// JavaScript runs one thing at a time, so a call made while the animation plays happens whole
// between two frames; afterwards the page redraws at once. Bad arguments throw an Error that
// says what was wrong, and nothing changes. The README documents every method.

import { linkTo, packSession } from './session.js';
import { samplesFrom } from './plots.js';

const PAGE_SETTINGS = ['speed'];

export function createApi(app) {
  const core = () => app.core;
  // Runs a command, then brings the page up to date (the clock, the drawing, the panels).
  const command = (fn) => (...args) => {
    const result = fn(...args);
    app.afterCommand();
    return result;
  };

  const api = {
    // ----- Clients -----
    write: command((node, key, value, options) => core().write(node, key, value, options)),
    read: command((node, key, options) => core().read(node, key, options)),
    delete: command((node, key, options) => core().delete(node, key, options)),
    resolve: command((node, key, value, options) => core().resolve(node, key, value, options)),
    request: (id) => core().request(id),
    requests: (last) => core().requests(last),

    // ----- Time -----
    now: () => core().now(),
    // A long jump (more than a million events) goes on in slices between frames and returns a
    // Promise of the events handled; a short one returns them at once.
    runFor: (ms) => app.runTo(core().timeAfter(ms)),
    runUntil: (t) => app.runTo(t),
    step: command(() => core().step()),
    // ----- Time travel and sessions -----
    seek: (t) => app.seek(t),
    seekEvent: (n) => app.seekEvent(n),
    eventLog: (filter, limit) => core().eventLog(filter, limit),
    eventsJson: (filter) => core().eventsJson(filter),
    stepBack: () => app.stepBack(),
    end: () => core().end(),
    eventsHandled: () => core().eventsHandled(),
    commands: () => core().commands(),
    history: () => ({
      start: core().historyStart(),
      forgotten: core().commandsForgotten(),
      commands: core().commandCount(),
      limit: core().commandLimit(),
      timeLimit: core().timeLimit(),
    }),
    session: () => JSON.parse(app.sessionText()),
    loadSession: (session) => {
      const text = typeof session === 'string' ? session : JSON.stringify(session);
      if (text === undefined) throw new Error('loadSession takes a session object or its JSON text');
      app.loadSession(text);
    },
    shareLink: async () => linkTo(await packSession(app.sessionText()), window.location),
    // ----- Lessons -----
    lessons: () => app.lesson.list(),
    openLesson: (id, step) => {
      // Checked before the run is replaced: a bad step must change nothing.
      if (step !== undefined && !(Number.isInteger(step) && step >= 1)) {
        throw new Error(`the step must be a whole number from 1, not ${String(step).slice(0, 40)}`);
      }
      return app.lesson.open(id, step === undefined ? 0 : step - 1);
    },
    lesson: () => {
      const l = app.lesson;
      return l.view ? { id: l.view.id, title: l.view.title, step: l.step + 1, steps: l.view.steps.length, phase: l.phase, offScript: l.offScript() } : null;
    },
    runStep: () => app.lesson.run(),
    nextStep: () => app.lesson.next(),
    closeLesson: () => app.lesson.close(),
    // ----- Side by side -----
    compare: (change) => {
      app.comparison.start(change);
    },
    stopComparing: () => app.comparison.stop(),
    comparison: () => app.comparison.describe(),

    play: () => app.setPlaying(true),
    pause: () => app.setPlaying(false),
    playing: () => app.playing,

    // ----- Network -----
    cut: command((a, b, options) => core().cut(a, b, options)),
    heal: command((a, b, options) => core().heal(a, b, options)),
    partition: command((groups) => core().partition(groups)),
    healAll: command(() => core().healAll()),
    isolate: command((node) => core().isolate(node)),
    reconnect: command((node) => core().reconnect(node)),
    setLink: command((from, to, model) => core().setLink(from, to, model)),
    link: (from, to) => core().link(from, to),
    cutLinks: () => core().cutLinks(),

    // ----- Nodes -----
    crash: command((node) => core().crash(node)),
    recover: command((node, options) => core().recover(node, options)),
    nodes: () => core().nodes(),

    // ----- What the replicas hold -----
    converged: () => core().converged(),
    divergentKeys: () => core().divergentKeys(),
    keys: () => core().keys(),
    ring: () => core().ring(),
    preferenceList: (key) => core().preferenceList(key),
    recentRanges: () => core().recentRanges(),
    resurrections: () => core().resurrections(),
    writes: (last) => core().writes(last),
    stats: () => core().stats(),
    samples: () => samplesFrom(core()),
    inFlight: () => core().inFlight(),
    events: (since) => core().events(since),
    traceHash: () => core().traceHash(),

    // ----- Settings -----
    settings: () => ({ ...core().settings(), speed: app.speed }),
    configure: command((partial) => {
      const { coreSettings, speed } = splitSettings(partial);
      if (speed !== undefined) app.checkSpeed(speed);
      const restarted = core().configure(coreSettings);
      if (speed !== undefined) app.setSpeed(speed);
      if (restarted) app.restarted();
      return restarted;
    }),
    reset: command((partial) => {
      const { coreSettings, speed } = splitSettings(partial);
      if (speed !== undefined) app.checkSpeed(speed);
      core().reset(coreSettings);
      if (speed !== undefined) app.setSpeed(speed);
      app.restarted();
    }),

    help: () => HELP,
  };
  return Object.freeze(api);
}

/** Separates the page's own settings (speed) from the simulation's. */
function splitSettings(partial) {
  if (partial === undefined || partial === null) return { coreSettings: undefined, speed: undefined };
  if (typeof partial !== 'object' || Array.isArray(partial)) {
    throw new Error(`settings must be an object such as { loss: 0.1 }, not ${JSON.stringify(partial)}`);
  }
  const coreSettings = { ...partial };
  let speed;
  for (const name of PAGE_SETTINGS) {
    if (name in coreSettings) {
      speed = coreSettings[name];
      delete coreSettings[name];
    }
  }
  return { coreSettings, speed };
}

const HELP = `converge: the simulation behind this page, for the console.
  sim.write(1, 'name', 'Alice')      write through node 1: {request, write, status, ...}
  sim.read(3, 'name')                read through node 3: {status, versions, context, stale, ...}
  sim.request(id)                    a request's outcome, once its coordinator answers
  sim.delete(1, 'name') / sim.resolve(2, 'cart', 'milk, eggs')
  sim.write(1, 'k', 'v', {session: 'alice', context: r.context, w: 'all'})
  sim.runFor(500)                    advance virtual time by 500 ms
  sim.crash(3) / sim.recover(3, {wipe: true})
  sim.cut(1, 2) / sim.cut(1, 2, {oneWay: true}) / sim.heal(1, 2) / sim.healAll()
  sim.partition([[1, 2], [3]])       split the cluster into groups
  sim.converged() / sim.divergentKeys() / sim.keys() / sim.writes() / sim.stats()
  sim.samples()                      what the plots draw: the run sampled every intervalMs
  sim.configure({conflict: 'vv', coordination: 'quorum', readQuorum: 1, speed: 2})
  sim.reset({seed: 42, nodes: 5}) / sim.play() / sim.pause() / sim.step()
  sim.seek(1500) / sim.stepBack() / sim.end()   go back in time; acting there forks a new future
  sim.session() / sim.loadSession(s) / await sim.shareLink()   save, reopen and share this moment
  sim.history()                      how far back the run remembers (past 20,000 actions it forgets the earliest)
  await sim.lessons() / await sim.openLesson('quorums') / sim.lesson() / sim.runStep() / sim.nextStep()
  sim.compare({writeQuorum: 'all'}) / sim.comparison() / sim.stopComparing()   side by side
The README lists every method and setting.`;
