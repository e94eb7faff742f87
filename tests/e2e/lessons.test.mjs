// Guided lessons on the page: pick one, read a step, predict, run it, see the answer; every
// lesson listed runs start to finish; a link made during a lesson reopens it at the same step;
// acting during a lesson leaves the script, and "Back to the script" returns to it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { screenshot } from './helpers.mjs';
import { pageSuite, TEST_TIMEOUT_MS, nextFrames, writeViaForm, waitForRow } from './steps.mjs';

const withPage = pageSuite();

const lesson = (page) => page.evaluate(() => sim.lesson());

/** Runs the step shown with its button and waits until it has run (at high speed). */
async function runStep(page) {
  await page.click('#lesson-run');
  await page.waitForFunction(() => sim.lesson().phase === 'after', null, { timeout: 60_000 });
}

test('a lesson from the picker: predict, run, see the answer, step by step to its end', { timeout: TEST_TIMEOUT_MS }, withPage({ query: '?speed=4' }, async (page) => {
  await page.click('#lessons');
  await page.waitForSelector('#lesson-list button[data-lesson="tutorial"]');
  const titles = await page.$$eval('#lesson-list button strong', (els) => els.map((e) => e.textContent));
  assert.ok(titles.length >= 8, `eight lessons or more: ${titles}`);
  assert.equal(titles[0], "1. The tutorial's cluster");
  await page.click('#lesson-list button[data-lesson="tutorial"]');
  await page.waitForFunction(() => sim.lesson() !== null);
  assert.equal(await page.isHidden('#lesson-picker'), true);
  assert.deepEqual(await lesson(page), { id: 'tutorial', title: "1. The tutorial's cluster", step: 1, steps: 4, phase: 'before', offScript: false });
  assert.equal(await page.evaluate(() => sim.now()), 0);
  assert.match(await page.textContent('#lesson-step'), /^Step 1 of 4: Three nodes, one write$/);
  assert.match(await page.textContent('#lesson-text'), /fire and forget/);
  assert.equal(await page.isHidden('#lesson-reveal'), true);

  // Predict B, run: the step plays to its end (1 s) and pauses; the answer shows.
  await page.click('#lesson-choices li:nth-child(2) button');
  assert.equal(await page.getAttribute('#lesson-choices li:nth-child(2) button', 'aria-pressed'), 'true');
  await runStep(page);
  assert.equal(await page.evaluate(() => sim.now()), 1000);
  assert.equal(await page.evaluate(() => sim.playing()), false);
  assert.equal(await page.textContent('#lesson-reveal .verdict'), '✓ You predicted it.');
  assert.match(await page.textContent('#lesson-choices li.right'), /still on its way.*\(what happened\)/);
  await screenshot(page, 'lesson-answered');

  // Step 2, predicted wrongly (A); Space runs it.
  await page.click('#lesson-next');
  assert.match(await page.textContent('#lesson-step'), /^Step 2 of 4/);
  await page.click('#lesson-choices li:nth-child(1) button');
  await page.locator('#cluster').focus();
  await page.keyboard.press('Space');
  await page.waitForFunction(() => sim.lesson().phase === 'after');
  assert.equal(await page.evaluate(() => sim.now()), 2200);
  assert.match(await page.textContent('#lesson-reveal .verdict'), /^✗ Not quite: the answer is B\.$/);
  assert.match(await page.textContent('#lesson-choices li.wrong'), /Node 1 keeps it/);
  await waitForRow(page, 'name', ['Bob', 'Bob', 'Alice']);

  // Back a step: its start again, not yet run; then forward to the end of the lesson.
  await page.click('#lesson-back');
  assert.equal((await lesson(page)).step, 1);
  assert.equal(await page.evaluate(() => sim.now()), 0);
  for (let k = 1; k <= 4; k++) {
    if (k > 1) await page.click('#lesson-next');
    assert.equal((await lesson(page)).step, k);
    await runStep(page);
  }
  assert.equal(await page.evaluate(() => sim.now()), 14200);
  assert.equal((await lesson(page)).offScript, false);
  const row = await waitForRow(page, 'name', ['Bob', 'Bob', 'Alice']);
  assert.ok(row[2].stale, 'node 3 is still behind at the end, as the lesson says');
  assert.equal(await page.textContent('#lesson-next'), 'Next lesson ▶');
}));

test('every lesson listed runs from start to finish on the page', { timeout: 5 * TEST_TIMEOUT_MS }, withPage({ query: '?speed=100' }, async (page) => {
  const ids = await page.evaluate(() => sim.lessons());
  assert.ok(ids.length >= 8);
  for (const id of ids) {
    await page.evaluate((id) => sim.openLesson(id), id);
    const { steps } = await lesson(page);
    for (let k = 1; k <= steps; k++) {
      if (k > 1) await page.click('#lesson-next');
      assert.equal((await lesson(page)).step, k, `${id}: step ${k}`);
      assert.ok((await page.textContent('#lesson-text')).length > 20, `${id} step ${k} has text`);
      await runStep(page);
      assert.ok((await page.textContent('#lesson-reveal')).length > 20, `${id} step ${k} says what happened`);
    }
    const end = await page.evaluate(() => [sim.now(), sim.end()]);
    assert.equal(end[0], end[1], `${id} ran to the end of its script`);
    assert.equal((await lesson(page)).offScript, false, `${id} stayed on its script`);
  }
}));

test('a link made during a lesson reopens it at the same step; acting leaves the script', { timeout: TEST_TIMEOUT_MS }, withPage({ query: '?lesson=tutorial&step=2&speed=4' }, async (page) => {
  await page.waitForFunction(() => sim.lesson() !== null);
  assert.equal((await lesson(page)).step, 2, '?lesson=tutorial&step=2 opens step 2');
  assert.equal(await page.evaluate(() => sim.now()), 1000);
  await runStep(page);
  const session = await page.evaluate(() => sim.session());
  assert.deepEqual(session.lesson, { id: 'tutorial', step: 1 });
  const link = await page.evaluate(() => sim.shareLink());

  // A fresh page from the link: the same moment, the same lesson step, already run.
  const fresh = await page.context().newPage();
  await fresh.goto(link);
  await fresh.waitForFunction(() => document.documentElement.dataset.ready === 'true' && sim.lesson() !== null);
  assert.equal(await fresh.evaluate(() => sim.now()), 2200);
  assert.deepEqual(await lesson(fresh), { ...(await lesson(page)), offScript: false });
  assert.equal(await fresh.isVisible('#lesson-reveal'), true);
  await fresh.close();

  // A write of one's own: the future is now the reader's; the note offers the script back.
  await writeViaForm(page, { node: 2, key: 'name', value: 'Carol' });
  await page.waitForFunction(() => !document.getElementById('lesson-offscript').hidden);
  assert.equal((await lesson(page)).offScript, true);
  await screenshot(page, 'lesson-offscript');
  await page.click('#lesson-rescript');
  await page.waitForFunction(() => document.getElementById('lesson-offscript').hidden);
  assert.deepEqual(await lesson(page), { id: 'tutorial', title: "1. The tutorial's cluster", step: 2, steps: 4, phase: 'before', offScript: false });
  assert.equal(await page.evaluate(() => sim.now()), 1000);
  await nextFrames(page);
}));

test('a lesson that cannot be opened says so and changes nothing', { timeout: TEST_TIMEOUT_MS }, withPage({ query: '?seed=9&lesson=..%2Fsecrets', expectErrors: /404/ }, async (page) => {
  await page.waitForFunction(() => !document.getElementById('toast').hidden);
  assert.match(await page.textContent('#toast'), /lesson in the address could not be opened: there is no lesson/);
  assert.equal(await page.evaluate(() => sim.lesson()), null);
  assert.equal(await page.evaluate(() => sim.settings().seed), 9);
  await assert.rejects(page.evaluate(() => sim.openLesson('no-such-lesson')), /could not be read \(404\)/);
  assert.equal(await page.evaluate(() => sim.lesson()), null);
  // A step that is not a whole number from 1 is refused before the run is replaced.
  for (const step of ['NaN', '0', '1.5', '"2"']) {
    await assert.rejects(page.evaluate(`sim.openLesson('tutorial', ${step})`), /the step must be a whole number from 1/);
    assert.equal(await page.evaluate(() => sim.lesson()), null);
    assert.equal(await page.evaluate(() => sim.settings().seed), 9);
  }
}));

test('after a long step has run at 1280x800, its title stays at the top of the card and Next step in view', { timeout: TEST_TIMEOUT_MS }, withPage({ query: '?lesson=when-quorums-fail&step=1&speed=100', width: 1280, height: 800 }, async (page) => {
  await page.waitForFunction(() => sim.lesson() !== null);
  await runStep(page);
  await nextFrames(page, 10);
  const inView = async (selector) => {
    const box = await (await page.$(selector)).boundingBox();
    const top = await page.evaluate(() => document.querySelector('header').getBoundingClientRect().bottom);
    return box.y >= top - 1 && box.y + box.height <= 800 + 1;
  };
  assert.ok(await page.evaluate(() => document.querySelector('.panel').scrollTop > 0), 'the answer scrolled the panel');
  assert.equal(await inView('#lesson-title'), true, 'the title is not under the toolbar');
  assert.equal(await inView('#lesson-next'), true, 'Next step is not below the fold');
  await page.click('#lesson-next');
  assert.equal((await lesson(page)).step, 2);
}));
