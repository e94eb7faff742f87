// The plots: replicas behind, messages per second, stale reads, time to reach every replica.
// They follow the run as it plays, show the past when time goes back (the same as they were
// then), and a click on one moves the page to that moment.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { screenshot } from './helpers.mjs';
import { pageSuite, TEST_TIMEOUT_MS, pause, restart, runFor, nextFrames } from './steps.mjs';

const withPage = pageSuite();

const caption = (page, id) => page.textContent(`#${id}`);

/** Whether a canvas has anything drawn in its plot area other than axes (non-grey pixels). */
const inked = (page, id) => page.evaluate((id) => {
  const c = document.getElementById(id);
  const data = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
  let coloured = 0;
  for (let i = 0; i < data.length; i += 4) {
    const [r, g, b, a] = [data[i], data[i + 1], data[i + 2], data[i + 3]];
    if (a > 0 && Math.max(r, g, b) - Math.min(r, g, b) > 40) coloured++;
  }
  return coloured;
}, id);

test('the plots follow the run, show the past as it was, and a click moves time there', { timeout: TEST_TIMEOUT_MS }, withPage({ query: '?seed=5&nodes=3&latency=constant:50' }, async (page) => {
  await pause(page);
  await restart(page);
  await page.evaluate(() => {
    sim.crash(3);
    sim.write(1, 'name', 'Alice');
    sim.read(2, 'name');
    sim.runFor(400);
    sim.read(1, 'name');
  });
  await runFor(page, 600);
  await page.locator('#plots-card').scrollIntoViewIfNeeded();
  await page.waitForFunction(() => document.getElementById('plot-behind-now').textContent.startsWith('1 replica behind'));
  assert.equal(await caption(page, 'plot-behind-now'), '1 replica behind, on 1 key');
  assert.match(await caption(page, 'plot-stale-now'), /^1 of 2 reads stale \(50%\)/);
  assert.match(await caption(page, 'plot-converge-now'), /^0 everywhere; 1 not yet$/);
  const atOne = await page.evaluate(() => ({ now: sim.now(), samples: sim.samples() }));
  assert.equal(atOne.samples.samples.length, 11, 'samples at 0, 100, ..., 1000 ms');
  assert.equal(atOne.samples.samples[5].staleReplicas, 1);

  // Node 3 comes back and anti-entropy repairs it: the area drops to zero, the histogram fills.
  await page.evaluate(() => {
    sim.recover(3);
    sim.configure({ antiEntropy: true, antiEntropyIntervalMs: 300 });
  });
  await runFor(page, 2000);
  await page.waitForFunction(() => document.getElementById('plot-behind-now').textContent === 'every replica has the newest write');
  assert.match(await caption(page, 'plot-converge-now'), /^1 everywhere, half within (1|2) s; 0 not yet$/);
  assert.match(await caption(page, 'plot-messages-now'), /sent\/s lately/);
  for (const id of ['plot-behind', 'plot-messages', 'plot-stale', 'plot-converge']) {
    assert.ok(await inked(page, id) > 50, `${id} has something drawn`);
  }
  await screenshot(page, 'plots');

  // Back in time: the samples are exactly those of the straight run at that moment.
  await page.evaluate((t) => sim.seek(t), atOne.now);
  assert.deepEqual(await page.evaluate(() => sim.samples()), atOne.samples);
  await page.waitForFunction(() => document.getElementById('plot-behind-now').textContent.startsWith('1 replica behind'));

  // A click a quarter of the way along the stale-reads plot shows that moment.
  await page.click('#tl-end');
  await nextFrames(page);
  const end = await page.evaluate(() => sim.now());
  const box = await page.locator('#plot-stale').boundingBox();
  const left = 34; const right = 8; // the plots' padding (www/plots.js)
  await page.mouse.click(box.x + left + (box.width - left - right) / 4, box.y + box.height / 2);
  const t = await page.evaluate(() => sim.now());
  assert.ok(Math.abs(t - end / 4) < end / 50, `clicked a quarter of the way: ${t} of ${end}`);
  assert.equal(await page.evaluate(() => sim.playing()), false);
}));
