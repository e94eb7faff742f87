// The space-time diagram: a lane per node, an arrow per message, crosses for drops; hovering
// an event lights its causal past and future (Lamport's happened-before); clicking it moves the
// page to that moment and selects it in the event log; sixteen nodes stay readable.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { screenshot } from './helpers.mjs';
import { pageSuite, TEST_TIMEOUT_MS, pause, restart, runFor, nextFrames, countCanvasPixels, screenshotOf } from './steps.mjs';

const withPage = pageSuite();

/** Alice written at node 1; node 3 crashes; Bob at node 2 (lost to node 3); node 3 recovers;
 * anti-entropy brings Bob to it; then node 3 reads. */
async function story(page) {
  await pause(page);
  await restart(page);
  await page.evaluate(() => {
    sim.write(1, 'name', 'Alice');
    sim.runFor(300);
    sim.crash(3);
    sim.write(2, 'name', 'Bob');
    sim.runFor(600);
    sim.recover(3);
    sim.configure({ antiEntropy: true, antiEntropyIntervalMs: 700 });
    sim.runFor(1500);
    sim.read(3, 'name');
    sim.runFor(300);
  });
  const log = await page.evaluate(() => sim.eventLog(undefined, 10000).events);
  // Wait until the diagram has drawn the last event (the panels refresh ten times a second).
  await page.waitForFunction((i) => converge.diagram.pointOf(i) !== null, log[log.length - 1].index);
  await nextFrames(page, 3);
  const find = (pred) => log.find(pred);
  return {
    alice: find((e) => e.event === 'write' && e.node === 1),
    bob: find((e) => e.event === 'write' && e.node === 2),
    read: find((e) => e.event === 'read'),
    drop: find((e) => e.event === 'drop'),
    log,
  };
}

async function hover(page, index) {
  const point = await page.evaluate((i) => converge.diagram.pointOf(i), index);
  assert.ok(point, `event ${index} is drawn`);
  await page.mouse.move(point.x, point.y);
  await nextFrames(page);
  return point;
}

test('hovering an event lights what happened before it and what it could affect', { timeout: TEST_TIMEOUT_MS }, withPage({ query: '?seed=7&latency=uniform:100-400', width: 1440, height: 1000 }, async (page) => {
  const { alice, bob, read, drop, log } = await story(page);
  assert.ok(drop, 'a message to the crashed node 3 was dropped');
  // Arrows in the message colours, and the drop's vermillion cross.
  assert.ok(await countCanvasPixels(page, '#0072b2', 12, { canvas: 'diagram' }) > 30, 'write arrows (blue)');
  assert.ok(await countCanvasPixels(page, '#e69f00', 12, { canvas: 'diagram' }) > 30, 'anti-entropy arrows (orange)');

  await hover(page, bob.index);
  const lit = await page.evaluate(() => converge.diagram.lit());
  assert.equal(lit.focus, bob.index);
  assert.ok(lit.past.includes(alice.index), "Alice's write happened before Bob's: node 2 had received it");
  assert.ok(lit.future.includes(read.index), "node 3's read comes after Bob's write: anti-entropy carried it there");
  const deliveredToTwo = log.find((e) => e.event === 'deliver' && e.to === 2 && e.from === 1);
  assert.ok(lit.past.includes(deliveredToTwo.index));
  assert.ok(!lit.future.includes(alice.index) && !lit.past.includes(read.index));
  await screenshotOf(page, '.diagram-wrap', 'diagram-causal');

  // Alice's write, hovered: Bob's is in its future.
  await hover(page, alice.index);
  assert.ok((await page.evaluate(() => converge.diagram.lit())).future.includes(bob.index));
}));

test('clicking an event goes to that moment and selects it in the event log', { timeout: TEST_TIMEOUT_MS }, withPage({ query: '?seed=7&latency=uniform:100-400', width: 1440, height: 1000 }, async (page) => {
  const { bob } = await story(page);
  const point = await hover(page, bob.index);
  await page.mouse.click(point.x, point.y);
  await nextFrames(page);
  assert.equal(await page.evaluate(() => sim.eventsHandled()), bob.position);
  await nextFrames(page, 3);
  assert.equal(await page.evaluate(() => sim.now()), bob.time);
  await page.waitForSelector('#events button.selected', { state: 'attached' });
  const selected = await page.$eval('#events button.selected', (b) => ({ index: Number(b.dataset.index), text: b.textContent }));
  assert.equal(selected.index, bob.index);
  assert.match(selected.text, /write name at node 2/);
  assert.match(await page.textContent('#tl-note'), /^Looking back at 0\.300 s/);
  await screenshot(page, 'diagram-clicked');
}));

test('sixteen nodes get a readable lane each, and the diagram can be hidden', { timeout: TEST_TIMEOUT_MS }, withPage({ query: '?seed=3&nodes=16', width: 1440, height: 1000 }, async (page) => {
  await pause(page);
  await page.evaluate(() => {
    for (let i = 1; i <= 16; i++) sim.write(i, `k${i}`, 'v');
    sim.runFor(400);
  });
  // The diagram makes room for the lanes when the panels first refresh with 16 nodes.
  await page.waitForFunction(() => document.getElementById('diagram').clientHeight >= 16 * 17);
  await nextFrames(page, 3);
  await screenshotOf(page, '.diagram-wrap', 'diagram-16-nodes');
  await page.click('#diagram-toggle');
  assert.equal(await page.isVisible('#diagram'), false);
  assert.equal(await page.textContent('#diagram-toggle'), 'Show diagram');
  await page.reload();
  await page.waitForSelector('html[data-ready="true"]');
  assert.equal(await page.isVisible('#diagram'), false, 'the choice is remembered');
  await page.click('#diagram-toggle');
  assert.equal(await page.isVisible('#diagram'), true);
}));

test('on a short screen the diagram starts hidden, one click away', { timeout: TEST_TIMEOUT_MS }, withPage({ query: '?seed=3', width: 1280, height: 800 }, async (page) => {
  assert.equal(await page.isVisible('#diagram'), false);
  assert.equal(await page.textContent('#diagram-toggle'), 'Show diagram');
  await page.click('#diagram-toggle');
  assert.equal(await page.isVisible('#diagram'), true);
}));
