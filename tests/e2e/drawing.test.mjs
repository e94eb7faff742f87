// What the drawing shows, checked in its pixels: messages where they are on their links, a
// dropped message's cross where it died with the reason above it, cut links dashed (one-way cuts
// with their direction), a page that holds still for readers who ask for reduced motion, a text
// description on every canvas.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { screenshot } from './helpers.mjs';
import { pageSuite, TEST_TIMEOUT_MS, pause, runFor, nextFrames, writeViaForm, countCanvasPixels } from './steps.mjs';

const withPage = pageSuite();
const BLUE = '#0072b2'; // a write on its way
const VERMILLION = '#d55e00'; // drops and cut links
const LINK_GREY = '#c3c8d1';
const LANE = 5; // CSS pixels between a link's centre line and each direction's lane (≤ 8 nodes)

/** Where node `id` is drawn (CSS pixels of the cluster canvas). */
const nodeAt = (page, id) => page.evaluate((n) => converge.view.nodePosition(n), id);

/** The point `t` of the way from node a's centre to node b's, moved `side` pixels to the left
 * of the direction a → b (the lane of messages from a to b is LANE pixels that way). */
function along(a, b, t, side = 0) {
  const dx = b.x - a.x;
  const dy = b.y - a.y;
  const len = Math.hypot(dx, dy);
  return { x: a.x + dx * t - (dy / len) * side, y: a.y + dy * t + (dx / len) * side };
}

/** The colour of the cluster canvas at each CSS point, as [r, g, b, a]. */
function coloursAt(page, points) {
  return page.evaluate((pts) => {
    const el = document.getElementById('cluster');
    const dpr = el.width / el.getBoundingClientRect().width;
    const ctx = el.getContext('2d');
    return pts.map((p) => Array.from(ctx.getImageData(Math.round(p.x * dpr), Math.round(p.y * dpr), 1, 1).data));
  }, points);
}

const near = (rgba, hex, tol = 40) => rgba[3] >= 128 && [1, 3, 5].every((i, c) => Math.abs(rgba[c] - parseInt(hex.slice(i, i + 2), 16)) <= tol);

/** How many separate stretches of `hex` a run of samples crosses. */
function stretches(samples, hex) {
  let count = 0;
  let inside = false;
  for (const s of samples) {
    const on = near(s, hex);
    if (on && !inside) count++;
    inside = on;
  }
  return count;
}

const blueNear = (page, p, radius = 14) => countCanvasPixels(page, BLUE, 12, { near: { ...p, radius } });

test('each message is drawn where it is on its link, and moves along it', { timeout: TEST_TIMEOUT_MS }, withPage({ query: '?seed=1&latency=constant:400' }, async (page) => {
  await pause(page);
  const [n1, n2, n3] = [await nodeAt(page, 1), await nodeAt(page, 2), await nodeAt(page, 3)];
  await writeViaForm(page, { node: 1, key: 'name', value: 'Alice' });
  // 120 ms of 400: 30% of the way to each peer, on the lane of its direction.
  await runFor(page, 120);
  await nextFrames(page);
  const at30 = [along(n1, n2, 0.3, LANE), along(n1, n3, 0.3, LANE)];
  const at60 = [along(n1, n2, 0.6, LANE), along(n1, n3, 0.6, LANE)];
  for (const [i, p] of at30.entries()) {
    assert.ok(await blueNear(page, p) >= 60, `the message to node ${i + 2} is drawn 30% along its link (${await blueNear(page, p)} blue pixels)`);
  }
  for (const p of at60) assert.equal(await blueNear(page, p), 0, 'nothing is drawn further on yet');
  await screenshot(page, 'drawing-messages-30');
  await runFor(page, 120);
  await nextFrames(page);
  for (const [i, p] of at60.entries()) {
    assert.ok(await blueNear(page, p) >= 60, `the message to node ${i + 2} has moved on to 60% (${await blueNear(page, p)} blue pixels)`);
  }
  for (const p of at30) assert.equal(await blueNear(page, p), 0, 'and is no longer where it was');
  // The link between 2 and 3 carries nothing.
  assert.equal(await blueNear(page, along(n2, n3, 0.5), 40), 0);
}));

/** Waits until the drawing shows `count` drop crosses, and returns them. */
async function dropsShown(page, count) {
  await page.waitForFunction((c) => converge.view.dropsDrawn().length >= c, count);
  return page.evaluate(() => converge.view.dropsDrawn());
}

/** Distance from point p to the segment a-b. */
function offSegment(p, a, b) {
  const dx = b.x - a.x;
  const dy = b.y - a.y;
  const t = Math.max(0, Math.min(1, ((p.x - a.x) * dx + (p.y - a.y) * dy) / (dx * dx + dy * dy)));
  return Math.hypot(p.x - (a.x + dx * t), p.y - (a.y + dy * t));
}

for (const { reason, setUp, to } of [
  { reason: 'lost', to: 2, setUp: (page) => page.evaluate(() => sim.setLink(1, 2, { loss: 1 })) },
  { reason: 'node down', to: 3, setUp: (page) => page.evaluate(() => sim.crash(3)) },
  { reason: 'link cut', to: 2, setUp: (page) => page.evaluate(() => sim.cut(1, 2, { oneWay: true })) },
]) {
  test(`a message that is ${reason === 'lost' ? 'lost' : `dropped (${reason})`} shows a cross on its link with the reason above it`, { timeout: TEST_TIMEOUT_MS }, withPage({ query: '?seed=2&latency=constant:300' }, async (page) => {
    await pause(page);
    await setUp(page);
    await writeViaForm(page, { node: 1, key: 'k', value: 'v' });
    await runFor(page, 300);
    await dropsShown(page, 1);
    // The panels refresh up to a tenth of a second later, and may move the drawing (a status
    // line that wraps): read the cross where it is after that, then count its pixels at once
    // (it fades within 1.4 s of real time, and a loaded machine is slow).
    await nextFrames(page, 10);
    const [mark] = await page.evaluate(() => converge.view.dropsDrawn());
    const cross = await countCanvasPixels(page, VERMILLION, 40, { near: { x: mark.x, y: mark.y, radius: 12 } });
    // The word sits above the cross, in the same colour: count its pixels in a band there.
    const words = await countCanvasPixels(page, VERMILLION, 40, { near: { x: mark.x, y: mark.y - 22, radius: 12 } });
    assert.equal(mark.reason, reason);
    const [from, dest] = [await nodeAt(page, 1), await nodeAt(page, to)];
    assert.ok(offSegment(mark, from, dest) <= LANE + 12, `the cross lies on the link 1 → ${to}`);
    assert.ok(cross >= 25, `the cross is drawn (${cross} vermillion pixels)`);
    assert.ok(words >= 15, `the reason is written above the cross (${words} pixels)`);
    if (reason === 'node down') await screenshot(page, 'drawing-drop-node-down');
  }));
}

test('cut links are dashed with a cross; a one-way cut dashes only its direction, with an arrow', { timeout: TEST_TIMEOUT_MS }, withPage({ query: '?seed=3' }, async (page) => {
  await pause(page);
  await page.evaluate(() => { sim.cut(1, 2); sim.cut(2, 3, { oneWay: true }); });
  await nextFrames(page);
  const [n1, n2, n3] = [await nodeAt(page, 1), await nodeAt(page, 2), await nodeAt(page, 3)];
  const samples = (a, b, from, to, side) => coloursAt(page, Array.from({ length: 120 }, (_, i) => along(a, b, from + ((to - from) * i) / 119, side)));

  // Both ways: the centre line alternates vermillion and gaps, with a cross in the middle.
  const both = await samples(n1, n2, 0.2, 0.42, 0);
  assert.ok(stretches(both, VERMILLION) >= 3, `dashed: ${stretches(both, VERMILLION)} dashes`);
  assert.ok(both.some((s) => !near(s, VERMILLION)), 'with gaps between the dashes');
  const mid = along(n1, n2, 0.5);
  assert.ok(await countCanvasPixels(page, VERMILLION, 40, { near: { ...mid, radius: 10 } }) >= 25, 'a cross at the middle');

  // One way (2 → 3): that lane dashed vermillion, the other lane (3 → 2) solid grey.
  const cutLane = await samples(n2, n3, 0.2, 0.42, LANE);
  const workingLane = await samples(n3, n2, 0.2, 0.8, LANE);
  assert.ok(stretches(cutLane, VERMILLION) >= 3, `the cut direction is dashed (${stretches(cutLane, VERMILLION)} dashes)`);
  assert.equal(workingLane.filter((s) => near(s, VERMILLION)).length, 0, 'the working direction has no vermillion');
  const grey = workingLane.filter((s) => near(s, LINK_GREY, 24)).length;
  assert.ok(grey >= 0.9 * workingLane.length, `the working direction is one solid grey line (${grey} of ${workingLane.length})`);
  // The arrow head points 2 → 3, two thirds of the way along the cut lane.
  const arrow = along(n2, n3, 0.66, LANE);
  assert.ok(await countCanvasPixels(page, VERMILLION, 40, { near: { ...arrow, radius: 10 } }) >= 20, 'an arrow head on the cut lane');
  await screenshot(page, 'drawing-cut-links');
}));

/** A write to a crashed node 2: its drop cross as first drawn, and 0.9 s of real time later. */
async function agedDrop(page) {
  await page.evaluate(() => sim.crash(2));
  await writeViaForm(page, { node: 1, key: 'k', value: 'v' });
  await runFor(page, 100);
  const [first] = await dropsShown(page, 1);
  const shownAt = await page.evaluate(() => performance.now());
  await page.waitForFunction((t) => performance.now() - t > 900, shownAt);
  const [later] = await page.evaluate(() => converge.view.dropsDrawn());
  assert.ok(later, 'the cross is still shown (for 1.4 s)');
  return { first, later };
}

test('with reduced motion the run starts still, and drop crosses neither fade nor float', { timeout: TEST_TIMEOUT_MS }, withPage({ query: '?seed=2&latency=constant:100', reducedMotion: 'reduce' }, async (page) => {
  assert.equal(await page.evaluate(() => sim.playing()), false, 'nothing moves until the reader presses Play');
  assert.equal(await page.textContent('#play'), 'Play');
  await nextFrames(page, 10);
  assert.equal(await page.evaluate(() => sim.now()), 0, 'the clock stands still');
  const { later } = await agedDrop(page);
  assert.equal(later.alpha, 1, 'still fully there');
  // Lifted by nothing (the page may have moved it with a change of layout, so not y itself),
  // and drawn where it says.
  assert.equal(later.lift, 0, 'it does not float up');
  const cross = await countCanvasPixels(page, VERMILLION, 40, { near: { x: later.x, y: later.y, radius: 12 } });
  assert.ok(cross >= 25, `the cross is drawn there (${cross} vermillion pixels)`);
}));

test('without reduced motion a drop cross fades and floats up as it goes', { timeout: TEST_TIMEOUT_MS }, withPage({ query: '?seed=2&latency=constant:100' }, async (page) => {
  await pause(page);
  const { first, later } = await agedDrop(page);
  assert.ok(later.alpha < 0.8, `fading (${later.alpha})`);
  assert.ok(later.y < first.y && later.lift > first.lift, 'floating up');
}));

test('every canvas has a text description', { timeout: TEST_TIMEOUT_MS }, withPage(async (page) => {
  // (The timeline's tick marks are decoration, hidden from screen readers: the slider beside
  // them says the moment shown.)
  const canvases = await page.$$eval('canvas:not([aria-hidden="true"])', (all) => all.map((c) => ({ id: c.id, label: c.getAttribute('aria-label') ?? '' })));
  assert.ok(canvases.length >= 7, `${canvases.length} canvases`);
  for (const { id, label } of canvases) {
    assert.ok(label.length >= 40, `#${id} says what it shows: "${label}"`);
  }
}));
