// Time and its controls: the same seed and commands replay exactly; Step handles one event;
// the speed slider and the play/pause button (and the keyboard) drive the animation.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { clockRate, pageSuite, TEST_TIMEOUT_MS, pause, stats, writeViaForm, nextFrames } from './steps.mjs';

const withPage = pageSuite();

/** A run with every kind of randomness (latency, loss, duplication, anti-entropy) and faults. */
function scenario(seed) {
  sim.pause();
  sim.reset({ seed, loss: 0.1, duplication: 0.1, antiEntropy: true, antiEntropyIntervalMs: 300, conflict: 'lww' });
  sim.write(1, 'name', 'Alice');
  sim.runFor(50);
  sim.partition([[1, 2], [3]]);
  sim.write(3, 'name', 'Bob');
  sim.write(2, 'city', 'Paris');
  sim.runFor(700);
  sim.crash(2);
  sim.healAll();
  sim.write(1, 'city', 'Lyon');
  sim.runFor(400);
  sim.recover(2, { wipe: true });
  sim.cut(1, 3, { oneWay: true });
  sim.runFor(3000);
  sim.read(3, 'city');
  return { hash: sim.traceHash(), events: sim.stats().events, now: sim.now() };
}

test('the same seed and the same commands give the same trace in two fresh pages', { timeout: TEST_TIMEOUT_MS }, async (t) => {
  const runs = [];
  for (const seed of [42, 42, 43]) {
    await t.test(`run with seed ${seed}`, withPage(async (page) => {
      runs.push(await page.evaluate(scenario, seed));
    }));
  }
  const [first, second, otherSeed] = runs;
  assert.match(first.hash, /^[0-9a-f]{16}$/);
  assert.ok(first.events > 20, 'the scenario did something');
  assert.deepEqual(second, first, 'same seed, same trace');
  assert.notEqual(otherSeed.hash, first.hash, 'another seed gives another trace');
});

test('Step handles exactly the next event, and pauses the animation', { timeout: TEST_TIMEOUT_MS }, withPage(async (page) => {
  await pause(page);
  // From time zero, so that the same write can be replayed below.
  await page.evaluate(() => sim.reset());
  await writeViaForm(page, { node: 1, key: 'name', value: 'Alice' });

  await page.click('#step');
  await page.waitForFunction(() => sim.now() > 0);
  const first = await page.evaluate(() => ({ now: sim.now(), delivered: sim.stats().delivered, last: sim.events().at(-1) }));
  assert.equal(first.delivered, 1, 'one message was delivered');
  assert.equal(first.last.event, 'deliver');
  assert.equal(first.last.time, first.now, 'the clock stands at the time of the event handled');
  await page.waitForFunction((t) => document.getElementById('clock').textContent === `${(t / 1000).toFixed(3)} s`, first.now);

  // The same run again, moved on one millisecond at a time: its first event is the one Step took.
  const firstDelivery = await page.evaluate(() => {
    sim.reset();
    sim.write(1, 'name', 'Alice');
    while (sim.stats().delivered === 0) sim.runFor(1);
    return sim.now();
  });
  assert.equal(first.now, firstDelivery);

  await page.click('#step');
  await page.waitForFunction(() => sim.stats().delivered === 2);
  await page.click('#step');
  await page.waitForSelector('#toast:not([hidden])');
  assert.match(await page.textContent('#toast'), /Nothing is scheduled/);

  // Step while playing pauses first.
  await page.click('#play');
  await page.waitForFunction(() => sim.playing());
  await page.click('#step');
  await page.waitForFunction(() => !sim.playing() && document.getElementById('play').textContent === 'Play');
}));

test('the speed slider sets the speed', { timeout: TEST_TIMEOUT_MS }, withPage(async (page) => {
  const speedShown = async () => ({
    speed: await page.evaluate(() => sim.settings().speed),
    label: await page.textContent('#speed-out'),
  });
  assert.deepEqual(await speedShown(), { speed: 0.25, label: '0.25×' });
  // The slider is logarithmic: its value is log10(speed).
  await page.fill('#speed', '0');
  assert.deepEqual(await speedShown(), { speed: 1, label: '1×' });
  await page.fill('#speed', '1');
  assert.deepEqual(await speedShown(), { speed: 10, label: '10×' });
  await page.focus('#speed');
  await page.keyboard.press('Home');
  assert.deepEqual(await speedShown(), { speed: 0.1, label: '0.1×' });
  await page.keyboard.press('End');
  assert.deepEqual(await speedShown(), { speed: 100, label: '100×' });

  // At 100× the clock runs a hundred times faster than real time, and at 0.1× ten times slower
  // (measured against the frames the page drew, so a slow machine does not blur it).
  for (const [key, speed] of [['End', 100], ['Home', 0.1]]) {
    await page.keyboard.press(key);
    const { gained, promised } = await clockRate(page, speed, speed < 1 ? 3000 : 1000);
    // The clock shows whole milliseconds: allow one per frame's rounding at 0.1×.
    const slack = speed < 1 ? 2 : 0.03 * promised;
    assert.ok(Math.abs(gained - promised) <= slack, `at ${speed}×: ${gained} ms of virtual time for ${promised.toFixed(1)} promised`);
  }
}));

test('the play/pause button and the space bar stop and start the clock', { timeout: TEST_TIMEOUT_MS }, withPage(async (page) => {
  const now = () => page.evaluate(() => sim.now());
  const waitForClockToMove = async () => {
    const t = await now();
    await page.waitForFunction((t0) => sim.now() > t0, t);
  };
  assert.equal(await page.evaluate(() => sim.playing()), true);
  assert.equal(await page.textContent('#play'), 'Pause');
  await waitForClockToMove();

  await pause(page);
  assert.equal(await page.getAttribute('#play', 'aria-pressed'), 'false');
  const stopped = await now();
  await nextFrames(page, 10);
  assert.equal(await now(), stopped, 'the clock stands still while paused');

  await page.click('#play');
  await page.waitForFunction(() => sim.playing());
  assert.equal(await page.textContent('#play'), 'Pause');
  assert.equal(await page.getAttribute('#play', 'aria-pressed'), 'true');
  await waitForClockToMove();

  // The space bar does the same when the focus is not on a button or a field.
  await page.click('#status');
  await page.keyboard.press('Space');
  await page.waitForFunction(() => !sim.playing());
  await page.keyboard.press('Space');
  await page.waitForFunction(() => sim.playing());
}));

test('Restart starts the run again from time zero with the same seed', { timeout: TEST_TIMEOUT_MS }, withPage({ query: '?seed=11' }, async (page) => {
  await pause(page);
  await writeViaForm(page, { node: 2, key: 'name', value: 'Alice' });
  assert.equal((await stats(page)).writes, 1);
  await page.click('#reset');
  await page.waitForFunction(() => sim.stats().writes === 0 && sim.now() === 0);
  assert.equal(await page.evaluate(() => sim.settings().seed), 11);
  await page.waitForFunction(() => document.getElementById('status').textContent.startsWith('Converged: nothing written yet'));
  assert.equal(await page.textContent('#replicas'), 'No keys yet.');
}));
