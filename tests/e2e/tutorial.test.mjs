// The tutorial on the page: write name=Alice at node 1, watch it replicate, read it back.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { screenshot } from './helpers.mjs';
import {
  pageSuite, TEST_TIMEOUT_MS, pause, runFor, stats, writeViaForm, readViaForm,
  waitForStatus, waitForRow, countCanvasPixels, countPixelsAlong,
} from './steps.mjs';

const withPage = pageSuite();
const REPLICATE_BLUE = '#0072b2';
// A replication message is a dot of radius 6.5 px: well over 50 pixels of solid blue.
const PIXELS_PER_MESSAGE = 50;

test('a write at node 1 flies to the other replicas, which then all hold Alice', { timeout: TEST_TIMEOUT_MS }, withPage({ query: '?seed=1' }, async (page) => {
  await pause(page);
  assert.equal(await countCanvasPixels(page, REPLICATE_BLUE), 0, 'nothing is in flight before the write');
  assert.equal(await page.textContent('#status'), 'Converged: nothing written yet. Write a key to start.');

  const written = await writeViaForm(page, { node: 1, key: 'name', value: 'Alice' });
  assert.equal(written.error, false);
  assert.deepEqual(written.tags, ['fresh']);
  assert.match(written.text, /name = Alice applied at node 1, sent to 2 peers/);
  assert.equal((await stats(page)).inFlight, 2, 'one message to each of the two other nodes');

  // Messages take 80 to 240 ms: 40 ms on, each is partway along its own link (not under a node
  // box, and not on the link between 2 and 3).
  await runFor(page, 40);
  const [n1, n2, n3] = await page.evaluate(() => [1, 2, 3].map((n) => converge.view.nodePosition(n)));
  for (const [id, to] of [[2, n2], [3, n3]]) {
    const drawn = await countPixelsAlong(page, REPLICATE_BLUE, n1, to, { margin: 40 });
    assert.ok(drawn >= PIXELS_PER_MESSAGE, `the message to node ${id} is drawn on its link (${drawn} pixels)`);
  }
  assert.equal(await countPixelsAlong(page, REPLICATE_BLUE, n2, n3, { margin: 40 }), 0, 'nothing between 2 and 3');
  assert.match(await waitForStatus(page, 'Diverged'), /replicas differ on “name”, messages in flight/);
  assert.equal((await stats(page)).inFlight, 2);
  const before = await waitForRow(page, 'name', ['Alice', 'missing', 'missing']);
  assert.deepEqual(before.map((c) => c.stale), [false, true, true]);
  await screenshot(page, 'tutorial-in-flight');

  // Let the animation itself run the rest of the way.
  await page.click('#play');
  assert.match(await waitForStatus(page, 'Converged'), /every live replica holds the same version of every key/);
  const after = await waitForRow(page, 'name', ['Alice', 'Alice', 'Alice']);
  assert.ok(after.every((c) => !c.stale && !c.missing));
  const s = await stats(page);
  assert.equal(s.inFlight, 0);
  assert.equal(s.delivered, 2);
  await pause(page);
  assert.equal(await countCanvasPixels(page, REPLICATE_BLUE), 0, 'no message is drawn once all have arrived');
  await screenshot(page, 'tutorial-converged');
}));

test('a read through the form says whether the value is fresh or stale', { timeout: TEST_TIMEOUT_MS }, withPage({ query: '?seed=5' }, async (page) => {
  await pause(page);
  await writeViaForm(page, { node: 1, key: 'name', value: 'Alice' });

  const atTheWriter = await readViaForm(page, { node: 1, key: 'name' });
  assert.deepEqual(atTheWriter.tags, ['fresh']);
  assert.match(atTheWriter.text, /node 1: name = Alice \(w1\)/);

  const beforeReplication = await readViaForm(page, { node: 2, key: 'name' });
  assert.deepEqual(beforeReplication.tags, ['stale']);
  assert.match(beforeReplication.text, /node 2: name is not there; the newest write is name = Alice \(w1 at node 1\)/);

  await runFor(page, 1000);
  const afterReplication = await readViaForm(page, { node: 2, key: 'name' });
  assert.equal(afterReplication.error, false);
  assert.deepEqual(afterReplication.tags, ['fresh']);
  assert.match(afterReplication.text, /node 2: name = Alice \(w1\)/);

  const s = await stats(page);
  assert.equal(s.reads, 3);
  assert.equal(s.staleReads, 1);
}));
