// Faults driven through the page: a partition from the panel, a crash and a cut link from the
// drawing's menus, then anti-entropy and last-writer-wins from the Settings form.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { screenshot } from './helpers.mjs';
import {
  pageSuite, TEST_TIMEOUT_MS, pause, runFor, stats, writeViaForm, waitForStatus, waitForRow,
  replicaRow, openNodeMenu, openLinkMenu, menuItems, chooseFromMenu, applySettings,
} from './steps.mjs';

const withPage = pageSuite();
// Long enough for every replication message to arrive (at most 240 ms), or for anti-entropy
// (every 2 s per node) to reconcile every pair.
const REPLICATION_MS = 1000;
const ANTI_ENTROPY_MS = 6000;

const sortedCuts = (page) => page.evaluate(() => sim.cutLinks().map(([a, b]) => `${a}>${b}`).sort());

/** Turns on anti-entropy (and the given conflict rule) through the Settings form. */
async function enableAntiEntropy(page, conflict) {
  const applied = await applySettings(page, { antiEntropy: true, conflict });
  assert.deepEqual(applied, { text: 'Applied to the running cluster.', error: false, tags: [] });
  const settings = await page.evaluate(() => sim.settings());
  assert.equal(settings.antiEntropy, true);
  if (conflict) assert.equal(settings.conflict, conflict);
}

test('a partition makes replicas diverge; healing plus anti-entropy and LWW converges them', { timeout: TEST_TIMEOUT_MS }, withPage({ query: '?seed=2' }, async (page) => {
  await pause(page);
  await page.click('#split');
  // Three nodes split as [1, 2] | [3]: both directions of 1-3 and 2-3 are cut.
  await page.waitForFunction(() => sim.cutLinks().length === 4);
  assert.deepEqual(await sortedCuts(page), ['1>3', '2>3', '3>1', '3>2']);

  await writeViaForm(page, { node: 1, key: 'name', value: 'Alice' });
  await writeViaForm(page, { node: 3, key: 'name', value: 'Bob' });
  await runFor(page, REPLICATION_MS);
  assert.match(await waitForStatus(page, 'Diverged'), /replicas differ on “name”/);
  const diverged = await waitForRow(page, 'name', ['Alice', 'Alice', 'Bob']);
  assert.ok(diverged.some((c) => c.stale), 'some replica is marked as not holding the newest write');
  assert.ok(await page.$('#replicas td.stale'), 'td.stale is in the table');
  assert.equal((await stats(page)).droppedCut, 3, 'Alice to 3, and Bob to 1 and 2, were dropped at the cut');
  await screenshot(page, 'partition-diverged');

  await page.click('#heal-all');
  await page.waitForFunction(() => sim.cutLinks().length === 0);
  await runFor(page, REPLICATION_MS);
  assert.equal(await page.evaluate(() => sim.converged()), false, 'healing alone resends nothing');
  await waitForStatus(page, 'Diverged');

  await enableAntiEntropy(page, 'lww');
  await runFor(page, ANTI_ENTROPY_MS);
  assert.match(await waitForStatus(page, 'Converged'), /every live replica holds the same version/);
  const row = await replicaRow(page, 'name');
  assert.equal(new Set(row.map((c) => c.text)).size, 1, 'every replica holds the same value');
  assert.ok(row.every((c) => !c.stale));
  assert.equal(await page.$('#replicas td.stale'), null);
  await page.locator('#replicas').scrollIntoViewIfNeeded(); // Apply scrolled the panel down
  await screenshot(page, 'healed-converged');
}));

test('a node crashed from the drawing misses a write, and anti-entropy repairs it after recovery', { timeout: TEST_TIMEOUT_MS }, withPage({ query: '?seed=3' }, async (page) => {
  await pause(page);
  assert.equal(await openNodeMenu(page, 3), 'Node 3 · up');
  assert.deepEqual(await menuItems(page), ['Crash', 'Isolate', 'Write or read here…']);
  await chooseFromMenu(page, 'Crash');
  await page.waitForFunction(() => !sim.nodes()[2].up);

  await writeViaForm(page, { node: 1, key: 'name', value: 'Alice' });
  await runFor(page, REPLICATION_MS);
  const crashed = await waitForRow(page, 'name', ['Alice', 'Alice', 'missing']);
  assert.deepEqual(crashed[2], { text: 'missing', stale: true, missing: true, down: true });
  assert.equal(await page.textContent('#replicas thead th:last-child'), '3 ✕');
  assert.match(await waitForStatus(page, 'Converged'), /\(1 node down\)/);
  assert.equal((await stats(page)).droppedDown, 1);
  await screenshot(page, 'crashed');

  assert.equal(await openNodeMenu(page, 3), 'Node 3 · down');
  assert.deepEqual(await menuItems(page), ['Recover', 'Recover with an empty store']);
  await chooseFromMenu(page, 'Recover');
  await page.waitForFunction(() => sim.nodes()[2].up);
  await runFor(page, REPLICATION_MS);
  assert.match(await waitForStatus(page, 'Diverged'), /“name”/);
  assert.equal(await page.evaluate(() => sim.converged()), false, 'the recovered node still misses the write');
  assert.deepEqual((await replicaRow(page, 'name'))[2], { text: 'missing', stale: true, missing: true, down: false });

  await enableAntiEntropy(page);
  await runFor(page, ANTI_ENTROPY_MS);
  await waitForStatus(page, 'Converged');
  await waitForRow(page, 'name', ['Alice', 'Alice', 'Alice']);
  assert.equal(await page.evaluate(() => sim.converged()), true);
}));

test('a link cut from the drawing drops the messages that cross it', { timeout: TEST_TIMEOUT_MS }, withPage({ query: '?seed=4' }, async (page) => {
  await pause(page);
  assert.equal(await openLinkMenu(page, 1, 2), 'Link 1 ⇄ 2 · working');
  assert.deepEqual(await menuItems(page), ['Cut both ways', 'Cut 1 → 2 only', 'Cut 2 → 1 only']);
  await chooseFromMenu(page, 'Cut both ways');
  await page.waitForFunction(() => sim.cutLinks().length === 2);
  assert.deepEqual(await sortedCuts(page), ['1>2', '2>1']);

  await writeViaForm(page, { node: 1, key: 'name', value: 'Alice' });
  await runFor(page, REPLICATION_MS);
  const s = await stats(page);
  assert.equal(s.droppedCut, 1, 'the message to node 2 died on the cut link');
  assert.equal(s.delivered, 1, 'the message to node 3 arrived');
  await waitForRow(page, 'name', ['Alice', 'missing', 'Alice']);
  await screenshot(page, 'link-cut');

  assert.equal(await openLinkMenu(page, 1, 2), 'Link 1 ⇄ 2 · cut');
  await chooseFromMenu(page, 'Heal');
  await page.waitForFunction(() => sim.cutLinks().length === 0);
}));
