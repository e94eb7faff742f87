// What a person does on the page, as small steps shared by the end-to-end tests: click the
// transport buttons, fill the Client form, click nodes and links in the drawing and pick from
// their menu, submit the Settings form. window.sim is used only to look at the state, and to
// move virtual time (sim.runFor) while the animation is paused, so that runs are deterministic.
import { before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { serve, browser, openPage, SCREENSHOTS } from './helpers.mjs';

/** Default time limit of one test: the machine is shared and slow. */
export const TEST_TIMEOUT_MS = 90_000;

/**
 * One server and one browser for the whole test file. Returns `withPage([options], body)`,
 * which wraps a test body: a fresh page for each test (closed afterwards), and no console
 * errors allowed once the body is done (but those matching `options.expectErrors`).
 */
export function pageSuite() {
  let server;
  let chromium;
  before(async () => {
    server = await serve();
    chromium = await browser();
  });
  after(async () => {
    await chromium?.close();
    await server?.close();
  });
  return (options, body) => {
    if (typeof options === 'function') [options, body] = [{}, options];
    return async () => {
      const { page, errors, context } = await openPage(chromium, server.url, options);
      try {
        await body(page);
        // A test that provokes errors on purpose names them with `expectErrors` (a RegExp).
        const unexpected = options.expectErrors ? errors.filter((e) => !options.expectErrors.test(e)) : errors;
        assert.deepEqual(unexpected, [], 'the page logged errors to the console');
      } finally {
        await context.close();
      }
    };
  };
}

// ----- Time -----

/** Resolves after the page has drawn `count` more frames (and so refreshed its panels). */
export function nextFrames(page, count = 2) {
  return page.evaluate((n) => new Promise((resolve) => {
    const tick = (left) => (left === 0 ? resolve() : requestAnimationFrame(() => tick(left - 1)));
    tick(n);
  }), count);
}

/**
 * Watches the playing clock frame by frame for `ms` of real time; returns the virtual time it
 * gained and what `speed` promises for the same frames (each gap between frames counted up to
 * 100 ms, as the page does after a stall).
 */
export function clockRate(page, speed, ms = 1000) {
  return page.evaluate(([rate, window]) => new Promise((resolve) => {
    let start = null;
    let last = null;
    let promised = 0;
    const tick = (t) => {
      if (start === null) start = { t, now: sim.now() };
      else promised += Math.min(t - last, 100) * rate;
      last = t;
      if (t - start.t < window) requestAnimationFrame(tick);
      else resolve({ gained: sim.now() - start.now, promised });
    };
    requestAnimationFrame(tick);
  }), [speed, ms]);
}

/** Pauses the animation with the Pause button (if it is playing). */
export async function pause(page) {
  if (await page.evaluate(() => sim.playing())) await page.click('#play');
  await page.waitForFunction(() => !sim.playing() && document.getElementById('play').textContent === 'Play');
}

/** Clicks Restart: the same seed from time zero, so that what follows replays exactly. */
export async function restart(page) {
  await page.click('#reset');
  await page.waitForFunction(() => sim.now() === 0 && sim.stats().events === 0 && document.getElementById('clock').textContent === '0.000 s');
}

/** Moves virtual time by `ms` (the animation should be paused), then lets the panels refresh. */
export async function runFor(page, ms) {
  await page.evaluate((t) => sim.runFor(t), ms);
  await nextFrames(page);
}

export function stats(page) {
  return page.evaluate(() => sim.stats());
}

// ----- Client form -----

/**
 * Picks a node in the Client form, fills key (and value, and session if given), sets the
 * "use the context I read" box if `context` is given, and clicks Write, Read or Delete.
 */
async function useClient(page, button, { node = 1, key, value, session, context }) {
  await page.selectOption('#client-node', String(node));
  await page.fill('#client-key', key); // typing a key unticks "use the context I read"
  if (value !== undefined) await page.fill('#client-value', value);
  if (session !== undefined) await page.fill('#client-session', session);
  if (context !== undefined) await page.setChecked('#client-context', context);
  await page.click(button);
  return result(page, '#client-result');
}

export function writeViaForm(page, { node, key, value, session, context }) {
  return useClient(page, '#write', { node, key, value, session, context });
}

export function readViaForm(page, { node, key, session }) {
  return useClient(page, '#read', { node, key, session });
}

export function deleteViaForm(page, { node, key, session, context }) {
  return useClient(page, '#delete', { node, key, session, context });
}

/** Waits until #client-result's text matches `pattern`; returns the result line. */
export async function waitForClientResult(page, pattern) {
  await page.waitForFunction(
    ([source, flags]) => new RegExp(source, flags).test(document.getElementById('client-result').textContent),
    [pattern.source, pattern.flags],
  );
  return result(page, '#client-result');
}

/** The Requests panel, newest first: each item's text and its tags' kinds. */
export function requestItems(page) {
  return page.$$eval('#requests li:not(.none)', (items) => items.map((li) => ({
    text: li.textContent,
    tags: [...li.querySelectorAll('.tag')].map((t) => t.className.replace('tag', '').trim()),
  })));
}

/** What a result line (#client-result, #settings-result) says, and whether it is an error. */
export function result(page, selector) {
  return page.$eval(selector, (el) => ({
    text: el.textContent,
    error: el.classList.contains('error'),
    tags: [...el.querySelectorAll('.tag')].map((t) => t.className.replace('tag', '').trim()),
  }));
}

// ----- Status line and Replicas table -----

/** Waits until #status starts with `prefix` ("Converged" or "Diverged"); returns its text. */
export async function waitForStatus(page, prefix) {
  await page.waitForFunction((p) => document.getElementById('status').textContent.startsWith(p), prefix);
  return page.textContent('#status');
}

/** The Replicas table's row for `key`: one cell per node, or null if the key has no row. */
export function replicaRow(page, key) {
  return page.evaluate((k) => {
    const row = [...document.querySelectorAll('#replicas tbody tr')].find((tr) => tr.querySelector('th').textContent === k);
    if (!row) return null;
    return [...row.querySelectorAll('td')].map((td) => ({
      text: td.textContent,
      stale: td.classList.contains('stale'),
      missing: td.classList.contains('missing'),
      down: td.classList.contains('down'),
    }));
  }, key);
}

/** Waits until the row for `key` shows `texts` (one per node); returns the row's cells. */
export async function waitForRow(page, key, texts) {
  await page.waitForFunction(([k, want]) => {
    const row = [...document.querySelectorAll('#replicas tbody tr')].find((tr) => tr.querySelector('th').textContent === k);
    return row && JSON.stringify([...row.querySelectorAll('td')].map((td) => td.textContent)) === JSON.stringify(want);
  }, [key, texts]);
  return replicaRow(page, key);
}

// ----- The drawing: nodes, links and their menu -----

/** Where node `id` is drawn, in page coordinates (asked of the view through window.converge). */
export function nodePoint(page, id) {
  return page.evaluate((n) => {
    const rect = document.getElementById('cluster').getBoundingClientRect();
    const p = window.converge.view.nodePosition(n);
    return { x: rect.left + p.x, y: rect.top + p.y };
  }, id);
}

/** Clicks `point` on the canvas and waits for the menu; returns the menu's heading. */
async function openMenuAt(page, point) {
  await page.mouse.click(point.x, point.y);
  await page.waitForSelector('#menu:not([hidden])');
  return page.textContent('#menu h3');
}

/** Clicks node `id` in the drawing; returns the heading of the menu that opens. */
export async function openNodeMenu(page, id) {
  return openMenuAt(page, await nodePoint(page, id));
}

/** Clicks the middle of the line between nodes `a` and `b`; returns the menu's heading. */
export async function openLinkMenu(page, a, b) {
  const [p, q] = [await nodePoint(page, a), await nodePoint(page, b)];
  return openMenuAt(page, { x: (p.x + q.x) / 2, y: (p.y + q.y) / 2 });
}

/** The items the open menu offers. */
export function menuItems(page) {
  return page.$$eval('#menu [role="menuitem"]', (items) => items.map((b) => b.textContent));
}

/** Clicks an item of the open menu; the menu closes. */
export async function chooseFromMenu(page, label) {
  await page.locator('#menu').getByRole('menuitem', { name: label, exact: true }).click();
  await page.waitForSelector('#menu', { state: 'hidden' });
}

// ----- Settings form -----

// Settings form fields by the names the tests use: text and number inputs, selects, radios.
const SETTINGS_INPUTS = {
  nodes: '#set-nodes', seed: '#set-seed', n: '#set-n', vnodes: '#set-vnodes', loss: '#set-loss',
  w: '#set-w', r: '#set-r', timeoutMs: '#set-timeout', hintMs: '#set-hint-ms',
  fanout: '#set-fanout', interest: '#set-interest', gossipMs: '#set-gossip-ms',
  antiEntropyMs: '#set-ae-ms', graceMs: '#set-grace',
};
const SETTINGS_SELECTS = { readRepair: '#set-repair', handoff: '#set-handoff', antiEntropyKind: '#set-ae-kind' };
const SETTINGS_RADIOS = ['conflict', 'coordination', 'dissemination'];

/**
 * Opens the Settings card, changes the given fields and clicks Apply; returns the result line.
 * Fields: antiEntropy (checkbox); conflict, coordination, dissemination (radios); readRepair,
 * handoff, antiEntropyKind (selects); and the inputs named in SETTINGS_INPUTS (nodes, n, w, r...).
 * A new node count or N starts a new run: this waits until the panels show its nodes.
 */
export async function applySettings(page, fields = {}) {
  if (!(await page.$eval('#settings-card', (d) => d.open))) await page.click('#settings-card summary');
  for (const [name, value] of Object.entries(fields)) {
    if (value === undefined) continue;
    if (name === 'antiEntropy') await page.setChecked('#set-ae', value);
    else if (SETTINGS_RADIOS.includes(name)) await page.check(`input[name="${name}"][value="${value}"]`);
    else if (name in SETTINGS_SELECTS) await page.selectOption(SETTINGS_SELECTS[name], value);
    else if (name in SETTINGS_INPUTS) await page.fill(SETTINGS_INPUTS[name], String(value));
    else throw new Error(`applySettings: no field ${name}`);
  }
  await page.click('#settings-form button[type="submit"]');
  const shown = await result(page, '#settings-result');
  if (fields.nodes !== undefined && !shown.error) {
    await page.waitForFunction((n) => document.querySelectorAll('#client-node option').length === n && sim.nodes().length === n, Number(fields.nodes));
    await nextFrames(page);
  }
  return shown;
}

// ----- Canvas pixels -----

/**
 * How many pixels of a canvas (#cluster unless `canvas` names another id) are mostly opaque
 * and within `tolerance` of the colour `hex` (#rrggbb) on every channel; only within `near.radius` CSS
 * pixels of (`near.x`, `near.y`) if `near` is given.
 */
export function countCanvasPixels(page, hex, tolerance = 8, { canvas = 'cluster', near = null } = {}) {
  return page.evaluate(([colour, tol, id, around]) => {
    const el = document.getElementById(id);
    const dpr = el.width / el.getBoundingClientRect().width;
    const { data, width } = el.getContext('2d').getImageData(0, 0, el.width, el.height);
    const want = [1, 3, 5].map((i) => parseInt(colour.slice(i, i + 2), 16));
    let count = 0;
    for (let i = 0; i < data.length; i += 4) {
      if (around) {
        const px = (i / 4) % width;
        const py = Math.floor(i / 4 / width);
        if (Math.hypot(px / dpr - around.x, py / dpr - around.y) > around.radius) continue;
      }
      if (data[i + 3] >= 128 && Math.abs(data[i] - want[0]) <= tol && Math.abs(data[i + 1] - want[1]) <= tol && Math.abs(data[i + 2] - want[2]) <= tol) count++;
    }
    return count;
  }, [hex, tolerance, canvas, near]);
}

/** How many pixels of the cluster canvas within `tolerance` of `hex` lie within `width` CSS
 * pixels of the segment from a to b (CSS points), leaving out `margin` pixels at each end. */
export function countPixelsAlong(page, hex, a, b, { width = 10, margin = 0, tolerance = 12 } = {}) {
  return page.evaluate(([colour, p, q, w, m, tol]) => {
    const el = document.getElementById('cluster');
    const dpr = el.width / el.getBoundingClientRect().width;
    const { data, width } = el.getContext('2d').getImageData(0, 0, el.width, el.height);
    const want = [1, 3, 5].map((i) => parseInt(colour.slice(i, i + 2), 16));
    const dx = q.x - p.x;
    const dy = q.y - p.y;
    const len = Math.hypot(dx, dy);
    let count = 0;
    for (let i = 0; i < data.length; i += 4) {
      const x = ((i / 4) % width) / dpr;
      const y = Math.floor(i / 4 / width) / dpr;
      const along = ((x - p.x) * dx + (y - p.y) * dy) / len;
      if (along < m || along > len - m) continue;
      if (Math.abs((x - p.x) * dy - (y - p.y) * dx) / len > w) continue;
      if (data[i + 3] >= 128 && Math.abs(data[i] - want[0]) <= tol && Math.abs(data[i + 1] - want[1]) <= tol && Math.abs(data[i + 2] - want[2]) <= tol) count++;
    }
    return count;
  }, [hex, a, b, width, margin, tolerance]);
}

/** How many pixels of a canvas are painted at all (not transparent and not near white). */
export function countPaintedPixels(page, canvas = 'cluster') {
  return page.evaluate((id) => {
    const el = document.getElementById(id);
    const { data } = el.getContext('2d').getImageData(0, 0, el.width, el.height);
    let count = 0;
    for (let i = 0; i < data.length; i += 4) {
      if (data[i + 3] > 24 && Math.min(data[i], data[i + 1], data[i + 2]) < 235) count++;
    }
    return count;
  }, canvas);
}

// ----- Screenshots of one part of the page -----

/** Saves a screenshot of the element `selector` alone as screenshots/`name`.png. */
export async function screenshotOf(page, selector, name) {
  await mkdir(SCREENSHOTS, { recursive: true });
  const path = join(SCREENSHOTS, `${name}.png`);
  await page.locator(selector).screenshot({ path });
  return path;
}
