// Side by side: the same scenario with one setting changed, in lock step. Every action given
// through the page reaches both runs at the same moment; time travel moves both; a change that
// cannot be made is refused in the form and nothing changes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { screenshot } from './helpers.mjs';
import { pageSuite, TEST_TIMEOUT_MS, pause, restart, runFor, nextFrames, writeViaForm, readViaForm } from './steps.mjs';

const withPage = pageSuite();

const QUERY = '?seed=3&nodes=5&coordination=quorum&replicationFactor=3&writeQuorum=one&readQuorum=one&latency=constant:100';

/** The comparison table as rows of [label, A, B]. */
const table = (page) => page.$$eval('#compare-table-body tr', (rows) => rows.map((r) => [...r.children].map((c) => c.textContent)));

test('W = one beside W = all: the same actions, different outcomes, in lock step through time', { timeout: TEST_TIMEOUT_MS }, withPage({ query: QUERY }, async (page) => {
  await pause(page);
  await restart(page);
  await page.click('#compare');
  assert.equal(await page.isVisible('#compare-box'), true);
  await page.selectOption('#compare-setting', 'writeQuorum');
  assert.equal(await page.textContent('#compare-current'), 'this run: one');
  assert.equal(await page.inputValue('#compare-value'), 'quorum', 'a value other than this run\'s is offered');
  await page.fill('#compare-value', 'all');
  await page.click('#compare-form button[type=submit]');
  await page.waitForSelector('#twin-wrap', { state: 'visible' });
  assert.equal(await page.textContent('#label-b'), 'B · W (write quorum) = all');

  // "name" lives on nodes 4, 2 and 1 (seed 3). Node 4 is cut off; a write through node 1
  // needs every replica in B, one in A.
  assert.deepEqual((await page.evaluate(() => sim.preferenceList('name'))).nodes, [4, 2, 1]);
  await page.evaluate(() => sim.isolate(4));
  await writeViaForm(page, { node: 1, key: 'name', value: 'Alice' });
  await runFor(page, 2000);
  await readViaForm(page, { node: 2, key: 'name' });
  await runFor(page, 500);
  await page.waitForFunction(() => document.querySelectorAll('#compare-table-body tr').length > 0);
  const c = await page.evaluate(() => sim.comparison());
  assert.deepEqual(c.change, { writeQuorum: 'all' });
  assert.equal(c.a.stats.now, c.b.stats.now, 'both at the same moment');
  assert.equal(c.a.stats.writes, 1);
  assert.equal(c.b.stats.writes, 1, 'the write was given to B too');
  assert.equal(c.a.stats.unavailable + c.a.stats.timedOut, 0, 'W = one: the write succeeds');
  assert.equal(c.b.stats.unavailable + c.b.stats.timedOut, 1, 'W = all fails: a replica is cut off');
  await nextFrames(page, 4);
  const rows = await table(page);
  const failed = rows.find((r) => r[0] === 'Failed requests');
  assert.deepEqual(failed.slice(1), ['0', '1 ▲']);
  await screenshot(page, 'compare');

  // Back in time: B follows; an action there forks both.
  await page.evaluate(() => sim.seek(300));
  await nextFrames(page, 2);
  let now = await page.evaluate(() => sim.comparison());
  assert.equal(now.b.stats.now, 300);
  assert.equal(now.b.stats.reads, 0, 'the read came later');
  await page.evaluate(() => sim.write(2, 'city', 'Oslo'));
  await runFor(page, 1000);
  now = await page.evaluate(() => sim.comparison());
  assert.equal(now.b.stats.now, 1300);
  assert.equal(now.b.stats.writes, 2, 'Alice, then the new future\'s Oslo');
  assert.equal(now.b.stats.reads, 0, 'the old future (the read) is gone in both');
  assert.deepEqual(now.skipped, []);

  await page.click('#compare-stop');
  assert.equal(await page.isHidden('#twin-wrap'), true);
  assert.equal(await page.evaluate(() => sim.comparison()), null);
}));

test('a change that cannot be made is refused in the form, and nothing changes', { timeout: TEST_TIMEOUT_MS }, withPage({ query: QUERY }, async (page) => {
  await pause(page);
  await page.click('#compare');
  await page.selectOption('#compare-setting', 'replicationFactor');
  await page.fill('#compare-value', '9');
  await page.click('#compare-form button[type=submit]');
  await page.waitForFunction(() => document.getElementById('compare-error').textContent !== '');
  assert.match(await page.textContent('#compare-error'), /replicationFactor/);
  assert.equal(await page.isVisible('#compare-box'), true);
  assert.equal(await page.isHidden('#twin-wrap'), true);
  await page.keyboard.press('Escape');
  await assert.rejects(page.evaluate(() => sim.compare({ nonsense: 1 })), /nonsense/);
  await assert.rejects(page.evaluate(() => sim.compare({})), /change of settings/);
  assert.equal(await page.evaluate(() => sim.comparison()), null);
}));
