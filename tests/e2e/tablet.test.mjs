// On a tablet: a 1024×768 touch screen, held sideways, and 768×1024 upright. Everything is
// reachable by tapping: a lesson runs, a node's menu opens, the timeline's buttons fit.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { screenshot } from './helpers.mjs';
import { pageSuite, TEST_TIMEOUT_MS, nodePoint } from './steps.mjs';

const withPage = pageSuite();

/** Whether every button of the timeline bar lies within the window, none cut off. */
const timelineFits = (page) => page.evaluate(() => [...document.querySelectorAll('#timeline button, .stage-buttons button')]
  .every((b) => { const r = b.getBoundingClientRect(); return r.left >= 0 && r.right <= window.innerWidth && r.height < 50; }));

for (const [width, height] of [[1024, 768], [768, 1024]]) {
  test(`a ${width}×${height} touch screen: a lesson by taps, a node's menu, the timeline fits`, { timeout: TEST_TIMEOUT_MS }, withPage({ query: '?speed=8', width, height, touch: true }, async (page) => {
    assert.ok(await timelineFits(page), 'the timeline bar fits without cutting a button');
    assert.ok(await page.evaluate(() => document.querySelector('.toolbar').getBoundingClientRect().right <= window.innerWidth));
    await page.tap('#lessons');
    await page.waitForSelector('#lesson-list button[data-lesson="quorums"]');
    await page.tap('#lesson-list button[data-lesson="quorums"]');
    await page.waitForFunction(() => sim.lesson()?.id === 'quorums');
    await page.tap('#lesson-choices li:nth-child(2) button');
    await page.tap('#lesson-run');
    await page.waitForFunction(() => sim.lesson().phase === 'after', null, { timeout: 30_000 });
    assert.equal(await page.textContent('#lesson-reveal .verdict'), '✓ You predicted it.');
    await screenshot(page, `tablet-${width}x${height}`);

    // A tap on a node opens its menu, as a click does.
    await page.locator('#cluster').scrollIntoViewIfNeeded();
    const p = await nodePoint(page, 2);
    await page.touchscreen.tap(p.x, p.y);
    await page.waitForSelector('#menu:not([hidden])');
    assert.match(await page.textContent('#menu'), /Node 2/);
  }));
}
