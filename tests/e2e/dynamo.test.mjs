// Dynamo-grade replication driven through the page: quorum settings and pending requests,
// version-vector siblings resolved in the Client panel, the ring view, tombstones from the
// Delete button (and a deleted value that comes back), session warnings, gossip on a large
// cluster, and hinted handoff. window.sim only observes, and moves time while paused.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { screenshot } from './helpers.mjs';
import {
  pageSuite, TEST_TIMEOUT_MS, pause, restart, runFor, stats, result, writeViaForm, readViaForm, deleteViaForm,
  waitForClientResult, waitForStatus, waitForRow, replicaRow, requestItems, openNodeMenu, chooseFromMenu,
  applySettings, countCanvasPixels, countPaintedPixels, nextFrames, screenshotOf,
} from './steps.mjs';

const withPage = pageSuite();
// Every message takes 80 to 240 ms (the default latency): this is enough for all to arrive.
const REPLICATION_MS = 1000;
const WAITING_BLUE = '#56b4e9'; // the border of the "waiting: 0 of 1 acks" badge
const HINT_PINK = '#cc79a7'; // the border of the "◆ 1 hint" badge
const LINK_GREY = '#c3c8d1';
const NEW_RUN = { text: 'Applied: a new run started.', error: false, tags: [] };
const APPLIED = { text: 'Applied to the running cluster.', error: false, tags: [] };

const settings = (page) => page.evaluate(() => sim.settings());
const preferenceList = async (page, key) => (await page.evaluate((k) => sim.preferenceList(k), key)).nodes;
const pendingAt = (page, node) => page.evaluate((n) => sim.nodes()[n - 1].pending, node);

/** Crashes or recovers `node` through its menu in the drawing, and waits until it is done. */
async function crashFromDrawing(page, node) {
  assert.equal(await openNodeMenu(page, node), `Node ${node} · up`);
  await chooseFromMenu(page, 'Crash');
  await page.waitForFunction((n) => !sim.nodes()[n - 1].up, node);
}
async function recoverFromDrawing(page, node) {
  assert.equal(await openNodeMenu(page, node), `Node ${node} · down`);
  await chooseFromMenu(page, 'Recover');
  await page.waitForFunction((n) => sim.nodes()[n - 1].up, node);
}

/** Pixels of `hex` within `radius` CSS pixels of node `id` in the drawing. */
async function pixelsNearNode(page, hex, id, radius) {
  const p = await page.evaluate((n) => window.converge.view.nodePosition(n), id);
  return countCanvasPixels(page, hex, 8, { near: { x: p.x, y: p.y, radius } });
}

/** The text of the Replicas table's column header for node `id`. */
const columnHeader = (page, id) => page.textContent(`#replicas thead th:nth-child(${id + 1})`);

test('quorum settings from the form: W = all with a replica down is unavailable; W = 1 waits, then answers by itself', { timeout: TEST_TIMEOUT_MS }, withPage({ query: '?seed=7' }, async (page) => {
  await pause(page);
  assert.deepEqual(await applySettings(page, { nodes: 5, n: 3, coordination: 'quorum', w: 'all' }), NEW_RUN);
  const s = await settings(page);
  assert.equal(s.nodes, 5);
  assert.equal(s.replicationFactor, 3);
  assert.equal(s.coordination, 'quorum');
  assert.equal(s.writeQuorum, 'all');

  // A key's three replicas; one of them crashes; a node that holds no replica coordinates.
  const key = 'name';
  const replicas = await preferenceList(page, key);
  assert.equal(replicas.length, 3);
  const down = replicas[2];
  const coordinator = [1, 2, 3, 4, 5].find((n) => !replicas.includes(n));
  await crashFromDrawing(page, down);

  const refused = await writeViaForm(page, { node: coordinator, key, value: 'Alice' });
  assert.equal(refused.error, false);
  assert.deepEqual(refused.tags, ['lost']);
  assert.match(refused.text, new RegExp(`^w1${key} = Alice through node ${coordinator}: unavailable: only 2 of the 3 replicas needed were reachable, so nothing was sent$`));
  assert.equal((await stats(page)).unavailable, 1);
  assert.equal((await stats(page)).sent, 0, 'an unavailable write sends nothing');
  await page.waitForFunction(() => document.querySelector('#requests li')?.textContent.startsWith('unavailable'));
  const [unavailable] = await requestItems(page);
  assert.deepEqual(unavailable.tags, ['lost']);
  assert.match(unavailable.text, new RegExp(`^unavailablewrite ${key} via node ${coordinator} · 2/3 acks`));

  // W = 1: the coordinator sends to the two live replicas and waits for the first ack.
  assert.deepEqual(await applySettings(page, { w: 1 }), APPLIED);
  assert.equal((await settings(page)).writeQuorum, 1);
  assert.equal(await pixelsNearNode(page, WAITING_BLUE, coordinator, 260), 0, 'no badge before the write');
  const waiting = await writeViaForm(page, { node: coordinator, key, value: 'Bob' });
  assert.deepEqual(waiting.tags, ['pending']);
  assert.match(waiting.text, new RegExp(`^w2${key} = Bob through node ${coordinator}: waiting, 0 of 1 acks$`));
  assert.deepEqual(await pendingAt(page, coordinator), [{ request: 2, kind: 'write', key, got: 0, needed: 1 }]);
  await page.waitForFunction(() => document.querySelector('#requests li')?.textContent.startsWith('waiting'));
  await nextFrames(page);
  const badge = await pixelsNearNode(page, WAITING_BLUE, coordinator, 260);
  assert.ok(badge > 100, `the "waiting" badge is drawn beside node ${coordinator} (${badge} pixels)`);
  await screenshot(page, 'dynamo-quorum-waiting');

  // Time passes; the result line updates by itself when the first ack comes back.
  await runFor(page, REPLICATION_MS);
  const done = await waitForClientResult(page, /ok after/);
  assert.deepEqual(done.tags, ['fresh']);
  assert.match(done.text, new RegExp(`^w2${key} = Bob through node ${coordinator}: ok after \\d+ ms, 1 of 1 acks$`));
  assert.deepEqual(await pendingAt(page, coordinator), []);
  await page.waitForFunction(() => document.querySelector('#requests li')?.textContent.startsWith('ok'));
  await nextFrames(page);
  assert.equal(await pixelsNearNode(page, WAITING_BLUE, coordinator, 260), 0, 'the badge is gone');
  // The two live replicas hold Bob; the crashed one nothing; the others are no replicas.
  const row = await replicaRow(page, key);
  for (const [i, cell] of row.entries()) {
    const node = i + 1;
    const want = node === down ? 'missing' : replicas.includes(node) ? 'Bob' : '·';
    assert.equal(cell.text, want, `node ${node}`);
  }
}));

test('version vectors: two concurrent writes become siblings, and the resolve form merges them', { timeout: TEST_TIMEOUT_MS }, withPage({ query: '?seed=8' }, async (page) => {
  await pause(page);
  await restart(page);
  assert.deepEqual(await applySettings(page, { conflict: 'vv' }), APPLIED);
  assert.equal((await settings(page)).conflict, 'vv');

  // Two writes through two nodes, neither with a context: neither saw the other.
  const first = await writeViaForm(page, { node: 1, key: 'cart', value: 'milk', context: false });
  const second = await writeViaForm(page, { node: 2, key: 'cart', value: 'eggs', context: false });
  assert.deepEqual([first.tags, second.tags], [['fresh'], ['fresh']]);
  await runFor(page, REPLICATION_MS);

  // Every replica keeps both, shown side by side in the Replicas table.
  await page.waitForFunction(() => {
    const row = [...document.querySelectorAll('#replicas tbody tr')].find((tr) => tr.querySelector('th').textContent === 'cart');
    return row && [...row.querySelectorAll('td')].every((td) => td.textContent.includes(' | '));
  });
  const cells = await page.$$eval('#replicas tbody tr td', (tds) => tds.map((td) => ({ text: td.textContent, siblings: td.classList.contains('siblings') })));
  assert.equal(cells.length, 3);
  for (const cell of cells) {
    assert.deepEqual(cell.text.split(' | ').sort(), ['eggs', 'milk']);
    assert.equal(cell.siblings, true);
  }
  assert.equal((await page.evaluate(() => sim.keys()))[0].siblings, true);

  const read = await readViaForm(page, { node: 3, key: 'cart' });
  assert.match(read.text, /node 3: cart has 2 siblings: /);
  assert.match(read.text, /milk \(w1\)/);
  assert.match(read.text, /eggs \(w2\)/);
  await page.waitForSelector('#resolve-form', { state: 'visible' });
  const offered = await page.$$eval('#resolve-pick option', (options) => options.map((o) => o.value).sort());
  assert.deepEqual(offered, ['eggs', 'milk']);
  assert.equal(await page.isChecked('#client-context'), true, 'the read context will go with the next write');
  await screenshotOf(page, 'section[aria-labelledby="client-h"]', 'dynamo-siblings-client');

  await page.fill('#resolve-value', 'eggs, milk');
  await page.click('#resolve-form button[type="submit"]');
  const resolved = await result(page, '#client-result');
  assert.deepEqual(resolved.tags, ['fresh']);
  assert.match(resolved.text, /^w3cart = eggs, milk applied at node 3, sent to 2 peers$/);
  assert.equal(await page.isHidden('#resolve-form'), true);
  await runFor(page, REPLICATION_MS);

  const after = await readViaForm(page, { node: 1, key: 'cart' });
  assert.deepEqual(after.tags, ['fresh']);
  assert.match(after.text, /^freshnode 1: cart = eggs, milk \(w3\) \{/);
  assert.doesNotMatch(after.text, /siblings/);
  assert.equal(await page.isHidden('#resolve-form'), true);
  await waitForRow(page, 'cart', ['eggs, milk', 'eggs, milk', 'eggs, milk']);
  const [cart] = await page.evaluate(() => sim.keys());
  assert.equal(cart.siblings, false);
  assert.ok(cart.replicas.every((r) => r.versions.length === 1 && r.versions[0].value === 'eggs, milk'));
  assert.equal((await stats(page)).lostWrites, 0, 'the merge saw both siblings: no write is lost');
}));

test('version vectors: a blind write past 100 siblings is refused, says why, and writes nothing', { timeout: TEST_TIMEOUT_MS }, withPage({ query: '?seed=8' }, async (page) => {
  await pause(page);
  await restart(page);
  assert.deepEqual(await applySettings(page, { conflict: 'vv' }), APPLIED);
  // 100 blind writes through window.sim (the form would take minutes), then the 101st by hand.
  await page.evaluate(() => { for (let i = 0; i < 100; i++) sim.write(1, 'cart', `item ${i}`); });
  await runFor(page, REPLICATION_MS);
  const sent = (await stats(page)).sent;
  const refused = await writeViaForm(page, { node: 2, key: 'cart', value: 'one too many', context: false });
  assert.deepEqual(refused.tags, ['lost']);
  assert.match(refused.text, /refused: the key would have had 101 siblings, and a key may have at most 100/);
  await page.waitForFunction(() => document.querySelector('#requests li')?.textContent.includes('refused: too many siblings'));
  const [newest] = await requestItems(page);
  assert.match(newest.text, /at node 2, which would have held 101 siblings/);
  await runFor(page, REPLICATION_MS);
  const after = await stats(page);
  assert.equal(after.refused, 1);
  assert.equal(after.sent, sent, 'nothing was sent');
  assert.equal(after.lostWrites, 0);
  const cart = (await page.evaluate(() => sim.keys())).find((k) => k.key === 'cart');
  assert.ok(cart.replicas.every((r) => r.versions.length === 100));
  assert.equal(cart.converged, true, 'a refused write is never the newest');
  const write = await page.$eval('#writes li', (li) => li.textContent);
  assert.match(write, /one too many.*refused: too many siblings · nothing was written/);
}));

test('a long run forgets its oldest writes and says so in the Writes panel, numbers in full', { timeout: TEST_TIMEOUT_MS }, withPage({ query: '?seed=8' }, async (page) => {
  await pause(page);
  assert.equal(await page.isHidden('#writes-forgotten'), true);
  // Past 21,024 writes, the oldest 1,024 are forgotten.
  await page.evaluate(() => {
    for (let i = 0; i < 21_600; i++) {
      sim.write(1 + (i % 3), `k${i % 40}`, `v${i}`);
      if (i % 100 === 0) sim.runFor(50);
    }
  });
  await runFor(page, REPLICATION_MS);
  const s = await stats(page);
  assert.equal(s.writesForgotten, 1024);
  assert.equal(s.writes, 21_600);
  await page.waitForSelector('#writes-forgotten', { state: 'visible' });
  assert.match(await page.textContent('#writes-forgotten'), /^The first 1024 writes were forgotten to keep memory flat/);
  assert.equal((await page.evaluate(() => sim.writes())).length, 21_600 - 1024);
  // The newest write's number is shown whole: the list makes room for five digits.
  const first = await page.$('#writes li');
  const box = await first.boundingBox();
  const list = await (await page.$('#writes')).boundingBox();
  assert.ok(box.x - list.x >= 40, `numbers have ${box.x - list.x} px`);
  await screenshotOf(page, 'section[aria-labelledby="writes-h"]', 'writes-forgotten');
}));

test('the ring view shows the preference list of a key typed, clicked in Replicas or clicked on the ring', { timeout: TEST_TIMEOUT_MS }, withPage({ query: '?seed=7' }, async (page) => {
  await pause(page);
  assert.deepEqual(await applySettings(page, { nodes: 5, n: 3 }), NEW_RUN);
  await page.locator('#ring-form').scrollIntoViewIfNeeded();
  const ring = () => page.evaluate(() => window.converge.ring.selected);
  const ink = () => countCanvasPixels(page, '#14181f', 40, { canvas: 'ring' });
  assert.equal(await ring(), null);
  const before = await ink();

  await page.fill('#ring-key', 'name');
  await page.click('#ring-form button[type="submit"]');
  await page.waitForFunction(() => window.converge.ring.selected?.key === 'name');
  const place = await page.evaluate(() => sim.preferenceList('name'));
  assert.equal(place.nodes.length, 3);
  assert.deepEqual(await ring(), { key: 'name', position: place.position, nodes: place.nodes });
  const after = await ink();
  assert.ok(after > before + 300, `the key, its label and its numbered replicas are drawn (${before} → ${after} dark pixels)`);

  // Two keys in the Replicas table; clicking a row header selects that key.
  await writeViaForm(page, { node: 1, key: 'name', value: 'Alice' });
  await writeViaForm(page, { node: 1, key: 'city', value: 'Paris' });
  await runFor(page, REPLICATION_MS);
  await page.click('#replicas tbody th[data-key="city"]');
  await page.waitForSelector('#replicas tbody th[data-key="city"].selected');
  assert.equal(await page.inputValue('#ring-key'), 'city');
  assert.equal(await page.$('#replicas tbody th[data-key="name"].selected'), null);
  const city = await page.evaluate(() => sim.preferenceList('city'));
  assert.deepEqual(await ring(), { key: 'city', position: city.position, nodes: city.nodes });
  // The row shows the key only on its replicas: "·" under the two other nodes.
  const row = await replicaRow(page, 'city');
  assert.deepEqual(row.map((c, i) => c.text === '·' ? null : i + 1).filter(Boolean), [...city.nodes].sort((a, b) => a - b));

  // Clicking a key's dot on the ring selects it too.
  await page.locator('#ring').scrollIntoViewIfNeeded();
  const dot = await page.evaluate(() => {
    const view = window.converge.ring;
    const k = sim.keys().find((x) => x.key === 'name');
    const p = view.point(k.ringPosition, view.geometry.r - 18 /* KEY_INSET in ring.js */);
    const rect = document.getElementById('ring').getBoundingClientRect();
    return { x: rect.left + p.x, y: rect.top + p.y };
  });
  await page.mouse.click(dot.x, dot.y);
  await page.waitForSelector('#replicas tbody th[data-key="name"].selected');
  assert.equal(await page.inputValue('#ring-key'), 'name');
  assert.equal((await ring()).key, 'name');
  await nextFrames(page);
  await screenshotOf(page, 'section[aria-labelledby="ring-h"]', 'dynamo-ring');
  await screenshotOf(page, 'section[aria-labelledby="replicas-h"]', 'dynamo-ring-replicas');
}));

test('Delete writes a tombstone that replicas collect after the grace period; a replica that missed it brings the value back', { timeout: TEST_TIMEOUT_MS }, withPage({ query: '?seed=9' }, async (page) => {
  await pause(page);
  await restart(page);
  assert.deepEqual(await applySettings(page, { conflict: 'lww', graceMs: 1000 }), APPLIED);
  assert.equal((await settings(page)).tombstoneGraceMs, 1000);

  await writeViaForm(page, { node: 1, key: 'name', value: 'Alice' });
  await runFor(page, REPLICATION_MS);
  await waitForRow(page, 'name', ['Alice', 'Alice', 'Alice']);
  const deleted = await deleteViaForm(page, { node: 2, key: 'name' });
  assert.deepEqual(deleted.tags, ['fresh']);
  assert.match(deleted.text, /^w2delete name applied at node 2, sent to 2 peers$/);
  // Every replica holds the tombstone, for now.
  await runFor(page, 300);
  await waitForRow(page, 'name', ['⊘ deleted', '⊘ deleted', '⊘ deleted']);
  assert.equal((await page.evaluate(() => sim.keys()))[0].deleted, true);
  await screenshot(page, 'dynamo-tombstones');
  // After the grace period each replica collects it: nothing is left, and the key's row goes.
  await runFor(page, 3000);
  await page.waitForFunction(() => ![...document.querySelectorAll('#replicas tbody th')].some((th) => th.textContent === 'name'));
  assert.equal((await page.evaluate(() => sim.keys())).some((k) => k.key === 'name'), false);
  assert.equal((await stats(page)).tombstonesCollected, 3);
  await waitForStatus(page, 'Converged');

  // Node 3 is down while city is deleted; the others collect the tombstone; node 3 comes back
  // with Paris and anti-entropy spreads it: the deleted value is back.
  await writeViaForm(page, { node: 1, key: 'city', value: 'Paris' });
  await runFor(page, REPLICATION_MS);
  await waitForRow(page, 'city', ['Paris', 'Paris', 'Paris']);
  assert.deepEqual(await applySettings(page, { antiEntropy: true }), APPLIED);
  await crashFromDrawing(page, 3);
  await deleteViaForm(page, { node: 1, key: 'city' });
  await runFor(page, 300);
  await waitForRow(page, 'city', ['⊘ deleted', '⊘ deleted', 'Paris']);
  await runFor(page, 3000);
  await waitForRow(page, 'city', ['⊘ collected', '⊘ collected', 'Paris']);
  assert.equal((await stats(page)).resurrections, 0);

  await recoverFromDrawing(page, 3);
  await runFor(page, 8000);
  await waitForRow(page, 'city', ['Paris', 'Paris', 'Paris']);
  const status = await waitForStatus(page, 'Converged');
  assert.match(status, /· [12] deleted values? came back/);
  const back = await page.evaluate(() => sim.resurrections());
  assert.ok(back.length >= 1 && back.every((r) => r.key === 'city' && r.write === 3), JSON.stringify(back));
  await page.locator('#status').scrollIntoViewIfNeeded();
  await screenshot(page, 'dynamo-resurrection');
}));

test('a session that reads another node before replication is warned that read-your-writes broke', { timeout: TEST_TIMEOUT_MS }, withPage({ query: '?seed=10' }, async (page) => {
  await pause(page);
  await restart(page);
  const written = await writeViaForm(page, { node: 1, key: 'name', value: 'Alice', session: 'alice' });
  assert.deepEqual(written.tags, ['fresh']);
  const read = await readViaForm(page, { node: 2, key: 'name' });
  assert.deepEqual(read.tags, ['stale', 'warn']);
  assert.match(read.text, /sessionthis read breaks read your writes for “alice”/);
  await page.waitForFunction(() => document.querySelector('#requests li')?.textContent.includes('read name'));
  const [item] = await requestItems(page);
  assert.match(item.text, /^okread name at node 2, answered at once → nothing stale, behind 1 read-your-writes$/);
  assert.ok(item.tags.includes('warn'));
  assert.match(await waitForStatus(page, 'Diverged'), /1 read broke a session guarantee/);
  assert.equal((await stats(page)).sessionViolations, 1);
  await screenshotOf(page, 'section[aria-labelledby="client-h"]', 'dynamo-session-client');

  // Once the write has arrived, the same session reads it at node 2 with no warning.
  await runFor(page, REPLICATION_MS);
  const later = await readViaForm(page, { node: 2, key: 'name' });
  assert.deepEqual(later.tags, ['fresh']);
  // Without a session, a stale read is only stale.
  await page.fill('#client-session', '');
  await writeViaForm(page, { node: 1, key: 'name', value: 'Bob' });
  const anonymous = await readViaForm(page, { node: 3, key: 'name' });
  assert.deepEqual(anonymous.tags, ['stale']);
  assert.equal((await stats(page)).sessionViolations, 1);
}));

test('gossip on 40 nodes: a write tells two peers, and the drawing shows only the links in use', { timeout: TEST_TIMEOUT_MS }, withPage({ query: '?seed=11' }, async (page) => {
  await pause(page);
  assert.deepEqual(await applySettings(page, { nodes: 40, dissemination: 'gossip' }), NEW_RUN);
  const s = await settings(page);
  assert.equal(s.nodes, 40);
  assert.equal(s.dissemination, 'gossip');
  // Nothing in flight: no link is drawn (a few pixels of that grey are node outlines).
  const idle = await countCanvasPixels(page, LINK_GREY);

  const written = await writeViaForm(page, { node: 1, key: 'name', value: 'Alice' });
  assert.match(written.text, /^w1name = Alice applied at node 1, sent to 2 peers$/);
  const first = await stats(page);
  assert.equal(first.sentReplicate, s.gossipFanout, 'the first round tells gossipFanout peers, not 39');
  assert.equal(first.inFlight, 2);
  await runFor(page, 40);
  const links = await countCanvasPixels(page, LINK_GREY);
  assert.ok(links > idle + 100, `the two links in use are drawn (${idle} → ${links} pixels)`);
  const gossip = await countPaintedPixels(page);
  await screenshot(page, 'dynamo-gossip-40');

  // The same moment under broadcast: every one of the 780 links is drawn.
  assert.deepEqual(await applySettings(page, { dissemination: 'broadcast' }), APPLIED);
  await page.waitForFunction(() => window.converge.view.activeLinksOnly === false);
  await nextFrames(page);
  const broadcast = await countPaintedPixels(page);
  assert.ok(broadcast > 3 * gossip, `the full mesh paints far more (${gossip} → ${broadcast} pixels)`);
  await screenshot(page, 'dynamo-broadcast-40');

  // Back to gossip: the rumor reaches all 40 nodes.
  assert.deepEqual(await applySettings(page, { dissemination: 'gossip' }), APPLIED);
  await runFor(page, 5000);
  await waitForStatus(page, 'Converged');
  assert.equal((await page.evaluate(() => sim.writes()))[0].reached, 40);
  assert.equal(await countCanvasPixels(page, LINK_GREY), idle, 'nothing in flight: no link is drawn again');
}));

test('hinted handoff: with an owner down, another node keeps a hint and hands it over on recovery', { timeout: TEST_TIMEOUT_MS }, withPage({ query: '?seed=7' }, async (page) => {
  await pause(page);
  assert.deepEqual(await applySettings(page, { nodes: 5, n: 3, coordination: 'quorum', handoff: 'sloppy' }), NEW_RUN);
  assert.equal((await settings(page)).hintedHandoff, 'sloppy');
  const key = 'name';
  const replicas = await preferenceList(page, key);
  const [coordinator, owner] = replicas;
  await crashFromDrawing(page, owner);

  await writeViaForm(page, { node: coordinator, key, value: 'Alice' });
  await runFor(page, REPLICATION_MS);
  const done = await waitForClientResult(page, /ok after/);
  assert.match(done.text, /2 of 2 acks$/);

  const holders = await page.evaluate(() => sim.nodes().filter((n) => n.hints.length > 0).map((n) => ({ id: n.id, hints: n.hints })));
  assert.equal(holders.length, 1, JSON.stringify(holders));
  const [{ id: holder, hints }] = holders;
  assert.ok(!replicas.includes(holder), 'the hint is kept by the next node on the ring, not a replica');
  assert.deepEqual(hints, [{ owner, write: 1, key }]);
  await page.waitForFunction((id) => document.querySelector(`#replicas thead th:nth-child(${id + 1})`)?.textContent === `${id} ◆1`, holder);
  assert.match(await page.getAttribute(`#replicas thead th:nth-child(${holder + 1})`, 'title'), /keeping 1 hint/);
  assert.equal(await columnHeader(page, owner), `${owner} ✕`);
  assert.equal((await replicaRow(page, key))[owner - 1].text, 'missing');
  const badge = await pixelsNearNode(page, HINT_PINK, holder, 200);
  assert.ok(badge > 50, `the "◆ 1 hint" badge is drawn beside node ${holder} (${badge} pixels)`);
  await screenshot(page, 'dynamo-hint');

  await recoverFromDrawing(page, owner);
  await runFor(page, 2000);
  await page.waitForFunction((id) => document.querySelector(`#replicas thead th:nth-child(${id + 1})`)?.textContent === String(id), holder);
  assert.deepEqual(await page.evaluate(() => sim.nodes().flatMap((n) => n.hints)), []);
  assert.equal((await replicaRow(page, key))[owner - 1].text, 'Alice');
  assert.ok((await stats(page)).sentHint >= 1);
  await nextFrames(page);
  assert.equal(await pixelsNearNode(page, HINT_PINK, holder, 200), 0, 'the hint badge is gone');
}));

test('badges of neighbouring nodes never cover each other, a node box or a card', { timeout: TEST_TIMEOUT_MS }, withPage({ query: '?seed=7' }, async (page) => {
  await pause(page);
  // Six nodes; a partition leaves hints on three of them; a read and a write wait at two.
  await page.evaluate(() => {
    sim.reset({ seed: 7, nodes: 6, replicationFactor: 3, coordination: 'quorum', conflict: 'vv', hintedHandoff: 'sloppy' });
    sim.pause();
    sim.write(1, 'cart', 'milk');
    sim.runFor(400);
    sim.partition([[1, 2, 3], [4, 5, 6]]);
    sim.write(2, 'cart', 'eggs');
    sim.write(5, 'cart', 'bread');
    sim.runFor(400);
    sim.healAll();
    sim.read(3, 'cart');
    sim.runFor(120);
    sim.crash(4);
    sim.write(1, 'user', 'ann');
    sim.runFor(60);
  });
  await nextFrames(page);
  const { badges, boxes, cards } = await page.evaluate(() => {
    const view = window.converge.view;
    const s = view.scale;
    return {
      badges: view.badgeRects,
      boxes: view.positions.map(({ x, y }, i) => ({ node: i + 1, left: x - s.boxW / 2, top: y - s.boxH / 2, right: x + s.boxW / 2, bottom: y + s.boxH / 2 })),
      cards: view.cardRects.map((r, i) => ({ node: i + 1, ...r })),
    };
  });
  const waiting = await page.evaluate(() => sim.nodes().filter((n) => n.pending.length > 0 || n.hints.length > 0).map((n) => n.id));
  assert.ok(waiting.length >= 3, `several nodes have badges: ${waiting}`);
  assert.deepEqual(badges.map((b) => b.node), waiting, 'one block of badges per node with something to show');
  const overlap = (a, b) => a.left < b.right && b.left < a.right && a.top < b.bottom && b.top < a.bottom;
  for (const [k, badge] of badges.entries()) {
    for (const other of [...badges.slice(k + 1), ...boxes, ...cards]) {
      assert.ok(!overlap(badge, other), `node ${badge.node}'s badges clear ${JSON.stringify(other)}`);
    }
    const box = boxes[badge.node - 1];
    const gap = Math.max(badge.left - box.right, box.left - badge.right, badge.top - box.bottom, box.top - badge.bottom);
    assert.ok(gap <= 80, `node ${badge.node}'s badges are beside it (${gap.toFixed(0)} px away)`);
  }
  await screenshot(page, 'dynamo-badges');
}));

test('eight nodes at 1280x800 keep their key cards beside them, clear of each other and of every node', { timeout: TEST_TIMEOUT_MS }, withPage({ query: '?seed=5&nodes=8', width: 1280, height: 800 }, async (page) => {
  await pause(page);
  await page.evaluate(() => {
    for (let i = 0; i < 3; i++) sim.write(1, `k${i}`, `v${i}`);
    sim.runFor(1000);
  });
  await nextFrames(page, 10);
  const { cardsShown, rows, boxes, cards } = await page.evaluate(() => {
    const view = window.converge.view;
    const s = view.scale;
    return {
      cardsShown: s.cards,
      rows: view.cardRows,
      boxes: view.positions.map(({ x, y }, i) => ({ node: i + 1, left: x - s.boxW / 2, top: y - s.boxH / 2, right: x + s.boxW / 2, bottom: y + s.boxH / 2 })),
      cards: view.cardRects.map((r, i) => ({ node: i + 1, ...r })),
    };
  });
  assert.equal(cardsShown, true, 'the README promises the cards up to 8 nodes');
  assert.ok(rows >= 2, `${rows} rows a card`);
  assert.equal(cards.length, 8);
  const overlap = (a, b) => a.left < b.right && b.left < a.right && a.top < b.bottom && b.top < a.bottom;
  const all = [...boxes, ...cards];
  for (const [k, a] of all.entries()) {
    for (const b of all.slice(k + 1)) assert.ok(!overlap(a, b), `${JSON.stringify(a)} clears ${JSON.stringify(b)}`);
  }
  await screenshot(page, 'eight-nodes-cards');
}));

test('side by side at 1280x800, each half keeps its key cards beside its nodes, clear of the nodes and of its label', { timeout: TEST_TIMEOUT_MS }, withPage({ query: '?seed=5', width: 1280, height: 800 }, async (page) => {
  await pause(page);
  await page.evaluate(() => {
    sim.write(1, 'name', 'Alice');
    sim.write(2, 'cart', 'milk');
    sim.compare({ conflict: 'lww' });
    sim.runFor(1000);
  });
  await nextFrames(page, 10);
  const halves = await page.evaluate(() => {
    const { view, twinView } = window.converge;
    return [view, twinView()].map((v) => {
      const s = v.scale;
      return {
        cardsShown: s.cards,
        rows: v.cardRows,
        height: v.height,
        inset: v.bottomInset / v.zoom,
        boxes: v.positions.map(({ x, y }, i) => ({ node: i + 1, left: x - s.boxW / 2, top: y - s.boxH / 2, right: x + s.boxW / 2, bottom: y + s.boxH / 2 })),
        cards: v.cardRects.map((r, i) => ({ card: i + 1, ...r })),
      };
    });
  });
  const overlap = (a, b) => a.left < b.right && b.left < a.right && a.top < b.bottom && b.top < a.bottom;
  for (const [side, half] of ['A', 'B'].entries()) {
    const h = halves[side];
    assert.equal(h.cardsShown, true, `${half}: the tutorial's three nodes keep their cards side by side`);
    assert.ok(h.rows >= 2, `${half}: both keys shown (${h.rows} rows a card)`);
    assert.equal(h.cards.length, 3);
    const all = [...h.boxes, ...h.cards];
    for (const [k, a] of all.entries()) {
      for (const b of all.slice(k + 1)) assert.ok(!overlap(a, b), `${half}: ${JSON.stringify(a)} clears ${JSON.stringify(b)}`);
      assert.ok(a.bottom <= h.height - h.inset, `${half}: ${JSON.stringify(a)} stays above the run label`);
    }
  }
  await screenshot(page, 'compare-cards');
}));
