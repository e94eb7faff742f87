// Promises of the README that no other test checked: keeping one sibling in the resolve form,
// "use the context I read" against a blind write, every row of the side-by-side table and its
// ▲ marks, and the space-time diagram's windows and marks. Driven through the page's controls;
// window.sim only observes, and moves time while paused.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  pageSuite, TEST_TIMEOUT_MS, pause, restart, runFor, stats, nextFrames, result, writeViaForm, readViaForm,
  waitForRow, replicaRow, applySettings, countCanvasPixels,
} from './steps.mjs';

const withPage = pageSuite();
// Every message takes 80 to 240 ms (the default latency): this is enough for all to arrive.
const REPLICATION_MS = 1000;
const APPLIED = { text: 'Applied to the running cluster.', error: false, tags: [] };
const DROPPED = '#d55e00'; // vermillion: drop crosses, and the crash mark in the diagram

/** Each replica of `key`: the values it holds, sorted (several are siblings). */
const heldValues = async (page, key) => (await page.evaluate((k) => sim.keys().find((x) => x.key === k), key))
  .replicas.map((r) => r.versions.map((v) => v.value).sort());

/** Switches to version vectors through the Settings form. */
async function versionVectors(page) {
  await pause(page);
  await restart(page);
  assert.deepEqual(await applySettings(page, { conflict: 'vv' }), APPLIED);
  assert.equal((await page.evaluate(() => sim.settings())).conflict, 'vv');
}

test('resolve by keeping one sibling: exactly that value is written back, and the other sibling is gone everywhere', { timeout: TEST_TIMEOUT_MS }, withPage({ query: '?seed=8' }, async (page) => {
  await versionVectors(page);
  // Two blind writes of one key through two nodes: concurrent, so every replica keeps both.
  await writeViaForm(page, { node: 1, key: 'cart', value: 'milk', context: false });
  await writeViaForm(page, { node: 2, key: 'cart', value: 'eggs', context: false });
  await runFor(page, REPLICATION_MS);
  await page.waitForFunction(() => {
    const row = [...document.querySelectorAll('#replicas tbody tr')].find((tr) => tr.querySelector('th').textContent === 'cart');
    return row && [...row.querySelectorAll('td')].every((td) => td.textContent.includes(' | '));
  });
  assert.deepEqual(await heldValues(page, 'cart'), [['eggs', 'milk'], ['eggs', 'milk'], ['eggs', 'milk']]);

  const read = await readViaForm(page, { node: 3, key: 'cart' });
  assert.match(read.text, /node 3: cart has 2 siblings: /);
  await page.waitForSelector('#resolve-form', { state: 'visible' });
  const offered = await page.$$eval('#resolve-pick option', (options) => options.map((o) => o.value));
  assert.deepEqual([...offered].sort(), ['eggs', 'milk']);
  // Keep the sibling that is not preselected, so that the choice itself is what counts.
  const preselected = await page.inputValue('#resolve-pick');
  const kept = offered.find((v) => v !== preselected);
  const dropped = preselected;
  await page.selectOption('#resolve-pick', kept);
  assert.equal(await page.inputValue('#resolve-value'), '', 'no merge typed');
  await page.click('#resolve-form button[type="submit"]');

  const written = await result(page, '#client-result');
  assert.deepEqual(written.tags, ['fresh']);
  assert.equal(written.text, `w3cart = ${kept} applied at node 3, sent to 2 peers`);
  assert.equal(await page.isHidden('#resolve-form'), true);
  const [w3] = await page.evaluate(() => sim.writes(1));
  assert.equal(w3.id, 3);
  assert.equal(w3.key, 'cart');
  assert.equal(w3.value, kept, 'the value written is exactly the sibling kept');
  assert.equal(w3.node, 3);

  await runFor(page, REPLICATION_MS);
  await waitForRow(page, 'cart', [kept, kept, kept]);
  const [cart] = await page.evaluate(() => sim.keys());
  assert.equal(cart.siblings, false);
  for (const replica of cart.replicas) {
    assert.deepEqual(replica.versions.map((v) => [v.write, v.value]), [[3, kept]], `node ${replica.node} holds only the resolved version`);
  }
  const cells = await replicaRow(page, 'cart');
  assert.ok(cells.every((c) => !c.text.includes(dropped)), `no cell shows ${dropped} any more`);
  const again = await readViaForm(page, { node: 1, key: 'cart' });
  assert.match(again.text, new RegExp(`^freshnode 1: cart = ${kept} \\(w3\\) \\{`));
  assert.doesNotMatch(again.text, /siblings/);
  assert.equal(await page.isHidden('#resolve-form'), true);
  assert.equal((await stats(page)).lostWrites, 0, 'the resolve saw both siblings: neither is lost');
  const writes = await page.evaluate(() => sim.writes());
  assert.deepEqual(writes.map((w) => [w.id, w.value, w.lost]), [[1, 'milk', false], [2, 'eggs', false], [3, kept, false]]);
}));

test('"use the context I read" replaces what the read saw; the same write without it is a sibling', { timeout: TEST_TIMEOUT_MS }, withPage({ query: '?seed=8' }, async (page) => {
  await versionVectors(page);
  await writeViaForm(page, { node: 1, key: 'cart', value: 'milk', context: false });
  await runFor(page, REPLICATION_MS);
  await waitForRow(page, 'cart', ['milk', 'milk', 'milk']);

  // Read, then write through the same form with the box ticked: read-modify-write.
  const read = await readViaForm(page, { node: 2, key: 'cart' });
  assert.match(read.text, /^freshnode 2: cart = milk \(w1\) \{n1:1\}$/);
  assert.equal(await page.isChecked('#client-context'), true, 'a read ticks the box');
  const replacing = await writeViaForm(page, { node: 2, key: 'cart', value: 'milk, eggs', context: true });
  assert.equal(replacing.text, 'w2cart = milk, eggs applied at node 2, sent to 2 peers');
  await runFor(page, REPLICATION_MS);
  const replaced = await waitForRow(page, 'cart', ['milk, eggs', 'milk, eggs', 'milk, eggs']);
  assert.ok(replaced.every((c) => !c.stale && !c.missing));
  assert.deepEqual(await heldValues(page, 'cart'), [['milk, eggs'], ['milk, eggs'], ['milk, eggs']]);
  let [cart] = await page.evaluate(() => sim.keys());
  assert.equal(cart.siblings, false);
  assert.ok(cart.replicas.every((r) => r.versions.length === 1 && r.versions[0].write === 2));
  let writes = await page.evaluate(() => sim.writes());
  assert.deepEqual(writes.map((w) => [w.id, w.value, w.lost]), [[1, 'milk', false], [2, 'milk, eggs', false]]);
  const checked = await readViaForm(page, { node: 3, key: 'cart' });
  assert.match(checked.text, /^freshnode 3: cart = milk, eggs \(w2\) \{/);

  // The same again, the read then a write, but with the box unticked: a blind write.
  assert.equal(await page.isChecked('#client-context'), true, 'the read ticked it again');
  const blind = await writeViaForm(page, { node: 3, key: 'cart', value: 'bread', context: false });
  assert.equal(blind.text, 'w3cart = bread applied at node 3, sent to 2 peers');
  await runFor(page, REPLICATION_MS);
  await page.waitForFunction(() => {
    const row = [...document.querySelectorAll('#replicas tbody tr')].find((tr) => tr.querySelector('th').textContent === 'cart');
    return row && [...row.querySelectorAll('td')].every((td) => td.textContent.includes(' | '));
  });
  const row = await replicaRow(page, 'cart');
  for (const cell of row) assert.deepEqual(cell.text.split(' | ').sort(), ['bread', 'milk, eggs']);
  assert.deepEqual(await heldValues(page, 'cart'), [['bread', 'milk, eggs'], ['bread', 'milk, eggs'], ['bread', 'milk, eggs']]);
  [cart] = await page.evaluate(() => sim.keys());
  assert.equal(cart.siblings, true);
  writes = await page.evaluate(() => sim.writes());
  assert.deepEqual(writes.map((w) => [w.id, w.value, w.lost]), [[1, 'milk', false], [2, 'milk, eggs', false], [3, 'bread', false]]);
  const siblings = await readViaForm(page, { node: 1, key: 'cart' });
  assert.match(siblings.text, /node 1: cart has 2 siblings: /);
  assert.match(siblings.text, /milk, eggs \(w2\)/);
  assert.match(siblings.text, /bread \(w3\)/);
  assert.equal((await stats(page)).lostWrites, 0);
}));

// Side by side: W = one (A) beside W = all (B) under version vectors, node 4 cut off.
const COMPARE_QUERY = '?seed=3&nodes=5&coordination=quorum&replicationFactor=3&writeQuorum=one&readQuorum=one&latency=constant:100&conflict=vv';

/** The comparison table as rows of [label, A, B]. */
const table = (page) => page.$$eval('#compare-table-body tr', (rows) => rows.map((r) => [...r.children].map((c) => c.textContent)));

// Every row the README names, with the page's label, the value sim.comparison() gives for one
// run, and which value is worse where that is beyond doubt (null: no side is plainly worse).
const ROWS = [
  { label: 'Converged', value: (s) => (s.converged ? 'yes' : 'no'), worse: (a, b) => (a.converged === b.converged ? null : a.converged ? 'B' : 'A') },
  { label: 'Keys diverging', value: (s) => String(s.divergent), worse: more((s) => s.divergent) },
  { label: 'Lost writes', value: (s) => String(s.stats.lostWrites), worse: more((s) => s.stats.lostWrites) },
  { label: 'Stale reads', value: (s) => `${s.stats.staleReads} of ${s.stats.reads}`, worse: more((s) => s.stats.staleReads) },
  { label: 'Failed requests', value: (s) => String(s.stats.unavailable + s.stats.timedOut), worse: more((s) => s.stats.unavailable + s.stats.timedOut) },
  { label: 'Siblings kept', value: (s) => String(s.siblings), worse: null },
  { label: 'Messages sent', value: (s) => String(s.stats.sent), worse: null },
  { label: 'Bytes sent', value: (s) => String(s.stats.bytesSent), worse: null },
];
function more(of) {
  return (a, b) => (of(a) === of(b) ? null : of(a) > of(b) ? 'A' : 'B');
}

test('the comparison table has every row the README lists, the numbers of both runs, and ▲ on the worse one', { timeout: TEST_TIMEOUT_MS }, withPage({ query: COMPARE_QUERY }, async (page) => {
  await pause(page);
  await restart(page);
  await page.click('#compare');
  await page.selectOption('#compare-setting', 'writeQuorum');
  assert.equal(await page.textContent('#compare-current'), 'this run: one');
  await page.fill('#compare-value', 'all');
  await page.click('#compare-form button[type=submit]');
  await page.waitForSelector('#twin-wrap', { state: 'visible' });
  assert.equal(await page.textContent('#label-b'), 'B · W (write quorum) = all');

  // "name" lives on nodes 4, 2 and 1 (seed 3). Node 4 is cut off (the Nodes and links panel).
  assert.deepEqual((await page.evaluate(() => sim.preferenceList('name'))).nodes, [4, 2, 1]);
  await page.selectOption('#node-pick', '4');
  await page.click('#node-isolate');
  await page.waitForFunction(() => sim.nodes()[3].isolated);
  // Two blind writes at once: in A (W = one) both succeed and become siblings on nodes 1 and
  // 2; in B (W = all) both are unavailable. Then node 4 reads: stale in A, fresh in B.
  await writeViaForm(page, { node: 1, key: 'name', value: 'Alice', context: false });
  await writeViaForm(page, { node: 2, key: 'name', value: 'Bob', context: false });
  await runFor(page, 2000);
  await readViaForm(page, { node: 4, key: 'name' });
  await runFor(page, 500);

  const c = await page.evaluate(() => sim.comparison());
  assert.deepEqual(c.change, { writeQuorum: 'all' });
  assert.equal(c.a.stats.now, c.b.stats.now, 'both at the same moment');
  // The scenario has what the table is about: failed requests, stale reads, siblings.
  assert.equal(c.a.stats.unavailable + c.a.stats.timedOut, 0);
  assert.equal(c.b.stats.unavailable + c.b.stats.timedOut, 2, 'W = all: both writes fail');
  assert.equal(c.a.stats.staleReads, 1, 'A: node 4 missed both writes');
  assert.equal(c.b.stats.staleReads, 0);
  assert.equal(c.a.siblings, 1);
  assert.equal(c.b.siblings, 0);
  assert.equal(c.a.converged, false);
  assert.equal(c.b.converged, true);

  // Wait until the table shows this moment in every cell (the panels refresh ten times a
  // second, and only when something changed).
  const shows = (rows) => rows.length === ROWS.length && ROWS.every((want, i) => rows[i][1].replace(/ ▲$/, '') === want.value(c.a) && rows[i][2].replace(/ ▲$/, '') === want.value(c.b));
  for (let tries = 0; tries < 100 && !shows(await table(page)); tries++) await nextFrames(page, 3);
  const rows = await table(page);
  assert.deepEqual(rows.map((r) => r[0]), ROWS.map((r) => r.label), 'every row the README lists, in its order');
  assert.ok(rows.every((r) => r.length === 3), 'a label, A and B in every row');

  const problems = [];
  for (const [i, want] of ROWS.entries()) {
    const [label, cellA, cellB] = rows[i];
    const shown = { A: cellA.replace(/ ▲$/, ''), B: cellB.replace(/ ▲$/, '') };
    assert.equal(shown.A, want.value(c.a), `${label}: A's cell is sim.comparison().a's number`);
    assert.equal(shown.B, want.value(c.b), `${label}: B's cell is sim.comparison().b's number`);
    const marked = ['A', 'B'].filter((side) => (side === 'A' ? cellA : cellB).includes('▲'));
    assert.ok(marked.length <= 1, `${label}: ▲ on one run at most`);
    if (shown.A === shown.B) {
      if (marked.length > 0) problems.push(`${label}: ${shown.A} both, yet ▲ on ${marked[0]}`);
      continue;
    }
    const worse = want.worse ? want.worse(c.a, c.b) : null;
    if (worse === null) continue; // no side is plainly worse: a mark is neither asked nor refused
    if (marked[0] !== worse) problems.push(`${label}: A ${shown.A}, B ${shown.B}: ▲ expected on ${worse}, shown on ${marked[0] ?? 'neither'}`);
  }
  assert.deepEqual(problems, [], 'the ▲ mark is on the run that does worse wherever the numbers differ');
}));

/** The diagram's window select, by its label in the page. */
const WINDOWS = [['1 s', 1000], ['4 s', 4000], ['15 s', 15000], ['60 s', 60000]];

test('the space-time diagram shows exactly the last 1, 4, 15 or 60 s, time running right to the moment shown', { timeout: TEST_TIMEOUT_MS }, withPage({ query: '?seed=7', width: 1440, height: 1000 }, async (page) => {
  await pause(page);
  await restart(page);
  assert.equal(await page.isVisible('#diagram'), true, 'shown on a 1000 px tall screen');
  assert.deepEqual(await page.$$eval('#diagram-window option', (os) => os.map((o) => [o.textContent, Number(o.value)])), WINDOWS);
  // Writes spread over a minute, so that each window holds some events and leaves out others.
  const at = [0, 30000, 50000, 58000, 60500];
  for (const [i, t] of at.entries()) {
    await runFor(page, t - (await page.evaluate(() => sim.now())));
    await writeViaForm(page, { node: 1 + (i % 3), key: `k${i}`, value: `v${i}` });
  }
  await runFor(page, 61000 - (await page.evaluate(() => sim.now())));
  const end = await page.evaluate(() => sim.now());
  assert.equal(end, 61000);
  const log = await page.evaluate(() => sim.eventLog(undefined, 10000).events);
  // Events drawn on a lane (drops, link and setting changes are not on one lane).
  const onLanes = log.filter((e) => !['drop', 'link', 'configure'].includes(e.event));
  assert.ok(onLanes.length > 20);

  const spans = [];
  const problems = [];
  for (const [label, ms] of WINDOWS) {
    await page.selectOption('#diagram-window', String(ms));
    await nextFrames(page, 3);
    const points = await page.evaluate((indexes) => indexes.map((i) => converge.diagram.pointOf(i)), onLanes.map((e) => e.index));
    const t0 = end - ms;
    const inside = onLanes.filter((e) => e.time >= t0);
    const outside = onLanes.filter((e) => e.time < t0);
    assert.ok(inside.length > 0 && outside.length > 0, `${label}: the run has events on both sides of the window`);
    // Every event from t0 on is drawn, none before (gathered for all windows, checked below).
    const wrong = onLanes.map((e, i) => ({ e, p: points[i] })).filter(({ e, p }) => (e.time >= t0) !== (p !== null));
    problems.push(...wrong.map(({ e, p }) => `${label} window (from ${t0} ms): ${e.event} #${e.index} at ${e.time} ms is ${p ? 'drawn' : 'not drawn'}`));
    // x grows with time, in proportion: the same pixels per millisecond for every pair.
    const drawn = onLanes.map((e, i) => ({ t: e.time, x: points[i]?.x })).filter((d) => d.x !== undefined).sort((a, b) => a.t - b.t);
    const first = drawn[0];
    const last = drawn[drawn.length - 1];
    assert.ok(last.t > first.t, `${label}: events at more than one moment`);
    const perMs = (last.x - first.x) / (last.t - first.t);
    assert.ok(perMs > 0, `${label}: later events are further right`);
    for (const d of drawn) {
      assert.ok(Math.abs(first.x + (d.t - first.t) * perMs - d.x) < 0.5, `${label}: an event at ${d.t} ms is at x ${d.x}, on the line through the others`);
    }
    // The window's width in pixels: the moment shown at the right edge, the window's start at
    // the left of the plot; the same width whatever the window.
    const rect = await page.evaluate(() => document.getElementById('diagram').getBoundingClientRect().toJSON());
    const right = first.x + (end - first.t) * perMs;
    const left = right - ms * perMs;
    assert.ok(right > rect.right - 30 && right <= rect.right, `${label}: the moment shown is the right edge (x ${right}, canvas ${rect.left} to ${rect.right})`);
    assert.ok(left > rect.left && left < rect.left + 120, `${label}: the window's start is the left of the plot (x ${left})`);
    spans.push(right - left);
  }
  for (const span of spans) assert.ok(Math.abs(span - spans[0]) < 0.5, `every window spans the plot: ${spans.join(', ')} px`);
  assert.deepEqual(problems, [], `each window ending at ${end} ms draws every event inside it and none before`);
}));

test('the diagram marks a crash with a cross on its lane and a dropped message with a vermillion cross where it was dropped', { timeout: TEST_TIMEOUT_MS }, withPage({ query: '?seed=7', width: 1440, height: 1000 }, async (page) => {
  await pause(page);
  await restart(page);
  await page.selectOption('#diagram-window', '1000');
  // A write at node 1 goes to nodes 2 and 3; node 3 crashes before its copy arrives.
  await writeViaForm(page, { node: 1, key: 'name', value: 'Alice' });
  await runFor(page, 10);
  await page.selectOption('#node-pick', '3');
  await page.click('#node-crash');
  await page.waitForFunction(() => !sim.nodes()[2].up);
  await runFor(page, 600);
  const log = await page.evaluate(() => sim.eventLog(undefined, 10000).events);
  const send = log.find((e) => e.event === 'send' && e.to === 3);
  const crash = log.find((e) => e.event === 'crash');
  const drop = log.find((e) => e.event === 'drop');
  const write = log.find((e) => e.event === 'write');
  assert.ok(send && crash && drop && write);
  assert.equal(drop.id, send.id, 'the copy to node 3 was dropped');
  assert.equal(drop.reason, 'nodeDown');
  assert.equal(crash.node, 3);
  // Wait until the diagram has drawn the last event on a lane (it refreshes ten times a second).
  const lastOnLane = log.filter((e) => !['drop', 'link', 'configure'].includes(e.event)).pop();
  await page.waitForFunction((i) => converge.diagram.pointOf(i) !== null, lastOnLane.index);
  await nextFrames(page, 3);

  const rect = await page.evaluate(() => document.getElementById('diagram').getBoundingClientRect().toJSON());
  const local = (p) => ({ x: p.x - rect.left, y: p.y - rect.top });
  const pointOf = async (i) => page.evaluate((n) => converge.diagram.pointOf(n), i);
  const crashAt = local(await pointOf(crash.index));
  const sendAt = local(await pointOf(send.index));
  const writeAt = local(await pointOf(write.index));
  // A drop is on no lane, so pointOf gives none: its cross is where the message got, at the
  // drop's moment, `progress` of the way from the sender's lane to the receiver's.
  assert.equal(await pointOf(drop.index), null);
  const perMs = (crashAt.x - sendAt.x) / (crash.time - send.time);
  const dropAt = { x: sendAt.x + (drop.time - send.time) * perMs, y: sendAt.y + (crashAt.y - sendAt.y) * (drop.progress / 1000) };
  assert.ok(dropAt.x - crashAt.x > 30, 'the two crosses are apart');

  const near = (p, radius = 7) => ({ canvas: 'diagram', near: { x: p.x, y: p.y, radius } });
  const crashInk = await countCanvasPixels(page, DROPPED, 40, near(crashAt));
  assert.ok(crashInk > 15, `the crash's cross on node 3's lane (${crashInk} pixels)`);
  const dropInk = await countCanvasPixels(page, DROPPED, 40, near(dropAt));
  assert.ok(dropInk > 15, `the drop's vermillion cross (${dropInk} pixels)`);
  // Where nothing happened: node 3's lane after the drop, and the write at node 1.
  const after = { x: (dropAt.x + rect.width) / 2, y: crashAt.y };
  assert.equal(await countCanvasPixels(page, DROPPED, 40, near(after)), 0, 'no vermillion where nothing happened');
  assert.equal(await countCanvasPixels(page, DROPPED, 40, near(writeAt, 4)), 0, 'the write is not marked as a drop');
}));
