// Time travel and sessions on the page: drag the timeline back and the whole page shows that
// moment; forward again replays the same future; acting in the past forks a new one. A copied
// link and a saved file reopen exactly the same moment in a fresh browser; damaged ones are
// refused with a message and change nothing.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { screenshot, openPage, browser } from './helpers.mjs';
import {
  pageSuite, TEST_TIMEOUT_MS, pause, restart, runFor, nextFrames, writeViaForm, waitForRow, replicaRow,
} from './steps.mjs';

const withPage = pageSuite();

const state = (page) => page.evaluate(() => ({
  now: sim.now(),
  events: sim.eventsHandled(),
  hash: sim.traceHash(),
  end: sim.end(),
  playing: sim.playing(),
}));

/** Three actions through the page: Alice at node 1, node 3 crashes, Bob at node 2; then 3 recovers. */
async function story(page) {
  await pause(page);
  await restart(page);
  await writeViaForm(page, { node: 1, key: 'name', value: 'Alice' });
  await runFor(page, 300);
  await page.selectOption('#node-pick', '3');
  await page.click('#node-crash');
  await writeViaForm(page, { node: 2, key: 'name', value: 'Bob' });
  await runFor(page, 600);
  await page.click('#node-recover');
  await runFor(page, 400);
  const atOne = await state(page); // t = 1.3 s: node 3 is back but missed Bob
  await runFor(page, 1700);
  return atOne;
}

/** Drags the timeline's slider to `t` (ms), as a person would with the mouse or keys. */
async function dragTo(page, t) {
  await page.locator('#tl-range').fill(String(t));
  await page.waitForFunction((want) => sim.now() === want, t);
  await nextFrames(page);
}

test('dragging the timeline back shows the past; forward replays the same future', { timeout: TEST_TIMEOUT_MS }, withPage({ query: '?seed=4' }, async (page) => {
  const atPast = await story(page);
  const atEnd = await state(page);
  assert.equal(atEnd.end, atEnd.now);
  assert.equal(await page.textContent('#tl-note'), '');

  await dragTo(page, atPast.now);
  assert.deepEqual(await state(page), { ...atPast, end: atEnd.end, playing: false }, 'the same run as it was at that moment');
  assert.match(await page.textContent('#tl-note'), /^Looking back at 1\.300 s of 3\.000 s/);
  assert.equal(await page.textContent('#clock'), '1.300 s');
  const row = await waitForRow(page, 'name', ['Bob', 'Bob', 'Alice']);
  assert.ok(row[2].stale, 'node 3 is shown missing the newest write, as it was then');
  await screenshot(page, 'timeline-looking-back');

  // Event by event: the button and the left arrow go back one event each, the right arrow forward.
  await page.click('#tl-back');
  await nextFrames(page);
  assert.equal((await state(page)).events, atPast.events - 1);
  await page.locator('#cluster').focus();
  await page.keyboard.press('ArrowLeft');
  assert.equal((await state(page)).events, atPast.events - 2);
  await page.keyboard.press('ArrowRight');
  await page.keyboard.press('ArrowRight');
  assert.equal((await state(page)).events, atPast.events);

  // Forward to the end again: the same future, actions included.
  await page.click('#tl-end');
  await nextFrames(page);
  assert.deepEqual(await state(page), atEnd);
  await waitForRow(page, 'name', ['Bob', 'Bob', 'Alice']);
  assert.equal(await page.textContent('#tl-note'), '');
}));

test('an action in the past starts a new future and forgets the old one', { timeout: TEST_TIMEOUT_MS }, withPage({ query: '?seed=4' }, async (page) => {
  await story(page);
  await dragTo(page, 500);
  const before = await page.evaluate(() => sim.commands());
  assert.equal(before.commands.length, 4);
  assert.equal(before.applied, 3, 'by 0.5 s Alice and Bob were written and node 3 had crashed');
  await writeViaForm(page, { node: 1, key: 'name', value: 'Carol' });
  const after = await page.evaluate(() => sim.commands());
  assert.deepEqual(after.commands.map((c) => c.command.do), ['write', 'crash', 'write', 'write']);
  assert.equal(after.applied, 4);
  const s = await state(page);
  assert.equal(s.end, s.now, 'the old future is gone');
  await nextFrames(page);
  assert.equal(await page.textContent('#tl-note'), '');
  await runFor(page, 1000);
  const row = await replicaRow(page, 'name');
  assert.ok(row[2].down, 'node 3 stays down: its recovery was in the old future');
  assert.ok(row.slice(0, 2).some((c) => c.text === 'Carol'), 'the new write is there');
  const writes = await page.evaluate(() => sim.writes().map((w) => w.value));
  assert.deepEqual(writes.sort(), ['Alice', 'Bob', 'Carol']);
}));

test('a copied link reopens the same moment in a fresh browser', { timeout: TEST_TIMEOUT_MS }, withPage({ query: '?seed=4' }, async (page) => {
  const atPast = await story(page);
  await dragTo(page, atPast.now);
  await page.click('#share');
  await page.waitForSelector('#share-box:not([hidden])');
  const link = await page.inputValue('#share-link');
  assert.match(link, /#session=z[A-Za-z0-9_-]+$/);
  const shown = await replicaRow(page, 'name');

  const other = await browser(); // another browser: nothing shared but the link
  try {
    const url = new URL(link);
    const { page: fresh, errors, context } = await openPage(other, `${url.origin}${url.pathname}`, { query: `${url.search}${url.hash}` });
    await fresh.waitForFunction((t) => sim.now() === t, atPast.now);
    assert.deepEqual(await state(fresh), { ...atPast, end: 3000, playing: false });
    await nextFrames(fresh);
    assert.deepEqual(await replicaRow(fresh, 'name'), shown);
    assert.match(await fresh.textContent('#tl-note'), /^Looking back at 1\.300 s/);
    // The remembered future comes with it.
    await fresh.click('#tl-end');
    assert.equal((await state(fresh)).now, 3000);
    assert.deepEqual(errors, []);
    await context.close();
  } finally {
    await other.close();
  }
}));

test('saving a session then opening it gives the same session', { timeout: TEST_TIMEOUT_MS }, withPage({ query: '?seed=4' }, async (page) => {
  await story(page);
  await dragTo(page, 2000);
  const [download] = await Promise.all([page.waitForEvent('download'), page.click('#save-session')]);
  assert.match(download.suggestedFilename(), /^converge-seed4-at-2\.0s\.json$/);
  const path = join(tmpdir(), `converge-e2e-${process.pid}.json`);
  await download.saveAs(path);
  const saved = JSON.parse(await readFile(path, 'utf8'));
  assert.equal(saved.format, 'converge-session');
  assert.equal(saved.time, 2000);
  assert.equal(saved.commands.length, 4);
  const original = await state(page);

  await page.evaluate(() => sim.reset({ seed: 99 }));
  await page.setInputFiles('#open-session', path);
  await page.waitForFunction(() => sim.now() === 2000);
  assert.deepEqual(await state(page), original);
  assert.deepEqual(await page.evaluate(() => sim.session()), saved);
  assert.match(await page.textContent('#toast'), /^Opened "converge-e2e-\d+\.json" at 2\.000 s/);
}));

test('a damaged link or file is refused with a message and changes nothing', { timeout: TEST_TIMEOUT_MS }, withPage({ query: '?seed=4#session=zNotReallyDeflate' }, async (page) => {
  assert.match(await page.textContent('#toast'), /The link's session could not be opened, so a new run started instead: the session in the link is damaged/);
  await pause(page);
  await restart(page);
  await writeViaForm(page, { node: 1, key: 'k', value: 'v' });
  await runFor(page, 500);
  const before = await state(page);
  const bad = join(tmpdir(), `converge-bad-${process.pid}.json`);
  for (const [text, says] of [
    ['{"format": "converge-session", "version": 7}', /newer converge/],
    ['{"format": "converge-sess', /not JSON/],
    ['<html>not a session</html>', /not JSON/],
  ]) {
    await writeFile(bad, text);
    await page.setInputFiles('#open-session', bad);
    await page.waitForFunction((source) => new RegExp(source).test(document.getElementById('toast').textContent), says.source);
    assert.match(await page.textContent('#toast'), /could not be opened, so nothing changed/);
    assert.deepEqual(await state(page), before);
  }
}));

test('a session whose keys and values hold markup shows them as text', { timeout: TEST_TIMEOUT_MS }, withPage({ query: '?seed=4' }, async (page) => {
  await pause(page);
  await restart(page);
  const key = '<img src=x onerror="window.pwned=1">';
  await page.evaluate((k) => sim.write(1, k, '<script>window.pwned=2</script>'), key);
  await runFor(page, 500);
  const link = await page.evaluate(() => sim.shareLink());
  const url = new URL(link);
  await page.goto(`${url.origin}${url.pathname}${url.hash}`);
  await page.reload(); // the fragment alone does not reload a page
  await page.waitForSelector('html[data-ready="true"]');
  await page.waitForFunction(() => sim.now() === 500);
  await nextFrames(page);
  assert.equal(await page.evaluate(() => window.pwned), undefined);
  const row = await replicaRow(page, key);
  assert.deepEqual(row.map((c) => c.text), Array(3).fill('<script>window.pwned=2</script>'));
}));

test('the event log lists every event, filters by node, kind and key, jumps, and exports', { timeout: TEST_TIMEOUT_MS }, withPage({ query: '?seed=4' }, async (page) => {
  await story(page);
  await page.locator('#events-card').scrollIntoViewIfNeeded(); // the list fills when it is seen
  await page.waitForSelector('#events button.event');
  const all = await page.evaluate(() => sim.eventLog(undefined, 100000));
  assert.equal(all.matching, all.kept);
  const rows = () => page.$$eval('#events button.event', (bs) => bs.map((b) => ({
    position: Number(b.dataset.position), kind: b.querySelector('.ev-kind').textContent, what: b.querySelector('.ev-what').textContent, now: b.classList.contains('now'),
  })));
  const shown = await rows();
  assert.equal(shown.length, Math.min(120, all.matching));
  assert.equal(shown[0].position, all.events.at(-1).position, 'newest first');

  // Faults only: the crash and the recovery of node 3, in words.
  await page.selectOption('#ev-kind', 'crash,recover,link,configure');
  await page.waitForFunction(() => document.querySelectorAll('#events button.event').length === 2);
  assert.deepEqual((await rows()).map((r) => r.what), ['node 3 recovers', 'node 3 crashes']);
  // Client requests of one key at one node.
  await page.selectOption('#ev-kind', 'write,read,answer');
  await page.selectOption('#ev-node', '2');
  await page.fill('#ev-key', 'name');
  await page.waitForFunction(() => document.querySelectorAll('#events button.event').length === 1);
  assert.deepEqual((await rows()).map((r) => [r.kind, r.what]), [['write', 'write name at node 2 (w2)']]);
  // The messages about that key: every one names it.
  await page.selectOption('#ev-node', '');
  await page.selectOption('#ev-kind', 'send,deliver,drop');
  await page.waitForFunction(() => document.querySelectorAll('#events button.event').length > 2);
  const about = await rows();
  assert.ok(about.every((r) => / of name\b/.test(r.what)), JSON.stringify(about.slice(0, 3)));
  await page.fill('#ev-key', 'nothing-like-it');
  await page.waitForFunction(() => document.getElementById('ev-count').textContent === 'No recorded event matches.');

  // Click a delivery: the page shows the moment just after it.
  await page.selectOption('#ev-node', '');
  await page.fill('#ev-key', '');
  await page.selectOption('#ev-kind', 'send,deliver,drop');
  await page.waitForFunction(() => document.querySelectorAll('#events button.event.ev-deliver').length > 0);
  const deliver = (await rows()).findLast((r) => r.kind === 'deliver');
  await page.click(`#events button.event.ev-deliver[data-position="${deliver.position}"]`);
  await page.waitForFunction((p) => sim.eventsHandled() === p, deliver.position);
  // The log now ends at that moment (it refreshes up to ten times a second).
  await page.waitForFunction((p) => document.querySelector('#events button.event')?.dataset.position === String(p), deliver.position);
  assert.ok((await rows())[0].now, 'and marks it');
  assert.equal(await page.evaluate(() => sim.playing()), false);

  // Export: the events that match, as JSON.
  const [download] = await Promise.all([page.waitForEvent('download'), page.click('#ev-export')]);
  const file = JSON.parse(await readFile(await download.path(), 'utf8'));
  assert.equal(file.format, 'converge-events');
  assert.deepEqual(file.filter.kinds, ['send', 'deliver', 'drop']);
  assert.ok(file.events.length > 0 && file.events.every((e) => ['send', 'deliver', 'drop'].includes(e.event)));
  assert.equal(file.events.at(-1).position, deliver.position);
  await screenshot(page, 'event-log-jumped');

  await assert.rejects(page.evaluate(() => sim.eventLog({ kinds: ['wrote'] })), /no event kind "wrote"/);
}));

test('a run past what a session holds warns first, then forgets its earliest actions and says so', { timeout: TEST_TIMEOUT_MS }, withPage({ query: '?seed=4' }, async (page) => {
  await pause(page);
  await restart(page);
  const act = (from, to) => page.evaluate(([a, b]) => {
    for (let i = a; i < b; i++) {
      sim.write(1 + (i % 3), `k${i % 50}`, 'v');
      sim.runFor(5);
    }
  }, [from, to]);
  const { limit } = await page.evaluate(() => sim.history());
  assert.equal(limit, 20000);
  await act(0, 18500);
  await page.waitForFunction(() => /^18500 actions: past 20000, the earliest are forgotten/.test(document.getElementById('tl-note').textContent));
  assert.deepEqual(await page.evaluate(() => sim.history()), { start: 0, forgotten: 0, commands: 18500, limit: 20000, timeLimit: 86400000 });

  await act(18500, 20500);
  await page.waitForFunction(() => /^The first \d+ actions of this run were forgotten to keep memory flat: going back reaches \d+\.\d+ s at the earliest/.test(document.getElementById('tl-note').textContent));
  const kept = await page.evaluate(() => ({ ...sim.history(), min: Number(document.getElementById('tl-range').min) }));
  assert.ok(kept.forgotten > 0 && kept.forgotten + kept.commands === 20500, JSON.stringify(kept));
  assert.ok(kept.commands <= limit, JSON.stringify(kept));
  assert.ok(kept.start > 0 && kept.min === kept.start, JSON.stringify(kept));
  await screenshot(page, 'history-forgotten');

  // The slider goes back as far as what is kept; Save says why it cannot, and writes nothing.
  await page.locator('#tl-range').fill(String(kept.start));
  await page.waitForFunction((t) => sim.now() === t, kept.start);
  let downloaded = false;
  page.on('download', () => { downloaded = true; });
  await page.click('#save-session');
  await page.waitForSelector('#toast:not([hidden])');
  assert.match(await page.textContent('#toast'), /^this run cannot be saved: it is longer than a session can hold \(20000 commands\), and its first \d+ commands were forgotten/);
  await assert.rejects(page.evaluate((t) => sim.seek(t - 1), kept.start), /were forgotten to keep memory flat: the earliest moment kept is/);
  assert.equal(await page.evaluate(() => sim.now()), kept.start, 'a refused seek changes nothing');
  assert.equal(downloaded, false);
}));

test('a run past one day still goes to its end, and says Save and Link cannot hold it', { timeout: TEST_TIMEOUT_MS }, withPage({ query: '?seed=4&antiEntropy=false' }, async (page) => {
  await pause(page);
  await restart(page);
  await page.evaluate(() => {
    sim.write(1, 'k', 'v');
    sim.runFor(80000000);
  });
  await page.waitForFunction(() => /^This run nears one day of virtual time/.test(document.getElementById('tl-note').textContent));
  await page.evaluate(() => sim.runFor(10000000));
  await page.waitForFunction(() => /^This run is past one day of virtual time/.test(document.getElementById('tl-note').textContent));
  const end = await page.evaluate(() => sim.end());
  assert.equal(end, 90000000);
  await page.evaluate(() => sim.seek(1000));
  await page.click('#tl-end');
  await page.waitForFunction((t) => sim.now() === t, end);
  await page.click('#save-session');
  await page.waitForSelector('#toast:not([hidden])');
  assert.match(await page.textContent('#toast'), /^this run cannot be saved: it has run past one day of virtual time \(90000000 ms\)/);
}));

test('a long session opens in slices: the page shows how far it has got, and can cancel', { timeout: 3 * TEST_TIMEOUT_MS }, withPage({ query: '?seed=4' }, async (page) => {
  await pause(page);
  // Anti-entropy every 10 ms over 1,000 keys on 32 nodes: each exchange carries every key.
  const text = await page.evaluate(() => {
    sim.reset({ nodes: 32, antiEntropy: true, antiEntropyIntervalMs: 10 });
    for (let i = 0; i < 1000; i++) sim.write(1 + (i % 32), `k${i}`, 'v');
    sim.runFor(2500);
    const saved = JSON.stringify(sim.session());
    sim.reset({ nodes: 3, antiEntropy: false });
    return saved;
  });
  const before = await page.evaluate(() => ({ nodes: sim.settings().nodes, hash: sim.traceHash() }));
  const file = { name: 'heavy.json', mimeType: 'application/json', buffer: Buffer.from(text) };

  // Cancel: the run stays as it was.
  await page.setInputFiles('#open-session', file);
  await page.waitForSelector('#loading:not([hidden])');
  await page.waitForFunction(() => document.getElementById('loading-bar').value > 0);
  assert.match(await page.textContent('#loading-text'), /^Replaying the session… \d+%$/);
  await page.click('#loading-cancel');
  await page.waitForSelector('#loading', { state: 'hidden' });
  assert.match(await page.textContent('#toast'), /^Opening "heavy\.json" was cancelled, so nothing changed\./);
  assert.deepEqual(await page.evaluate(() => ({ nodes: sim.settings().nodes, hash: sim.traceHash() })), before);

  // Let it finish: the run it saved, at its moment.
  await page.setInputFiles('#open-session', file);
  await page.waitForSelector('#loading:not([hidden])');
  await screenshot(page, 'loading-session');
  await page.waitForFunction(() => /^Opened "heavy\.json"/.test(document.getElementById('toast').textContent), null, { timeout: 2 * TEST_TIMEOUT_MS });
  assert.deepEqual(await page.evaluate(() => ({ nodes: sim.settings().nodes, now: sim.now() })), { nodes: 32, now: 2500 });
}));
