// The "?" list of keyboard shortcuts, the shortcuts themselves, and presenter mode.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { screenshot, SCREENSHOTS } from './helpers.mjs';
import { pageSuite, TEST_TIMEOUT_MS, pause, restart, runFor, nextFrames } from './steps.mjs';

const withPage = pageSuite();

test('"?" lists the shortcuts, and each of them works', { timeout: TEST_TIMEOUT_MS }, withPage({ query: '?seed=5', width: 1440, height: 1000 }, async (page) => {
  await pause(page);
  await restart(page);
  await page.evaluate(() => sim.write(1, 'k', 'v'));
  await runFor(page, 500);
  await page.locator('#cluster').focus();

  await page.keyboard.press('?');
  assert.equal(await page.isVisible('#shortcuts'), true);
  const listed = await page.$$eval('#shortcuts th', (ths) => ths.map((th) => th.textContent));
  assert.deepEqual(listed, ['Space', '→ or S', '←', 'Home / End', 'D', 'P', '?', 'Esc']);
  assert.equal(await page.evaluate(() => document.activeElement.id), 'shortcuts-close', 'focus moves into the list');
  await page.keyboard.press('Escape');
  assert.equal(await page.isVisible('#shortcuts'), false);
  assert.equal(await page.evaluate(() => document.activeElement.id), 'help', 'focus returns to the "?" button');
  await page.locator('#cluster').focus();

  await page.keyboard.press('Home');
  assert.equal(await page.evaluate(() => sim.now()), 0);
  await page.keyboard.press('ArrowRight');
  const one = await page.evaluate(() => sim.eventsHandled());
  await page.keyboard.press('End');
  assert.equal(await page.evaluate(() => sim.now()), 500);
  assert.ok(one < (await page.evaluate(() => sim.eventsHandled())));

  await page.keyboard.press('Space');
  assert.equal(await page.evaluate(() => sim.playing()), true);
  await page.keyboard.press('Space');
  assert.equal(await page.evaluate(() => sim.playing()), false);

  const diagramShown = await page.isVisible('#diagram');
  await page.keyboard.press('d');
  assert.equal(await page.isVisible('#diagram'), !diagramShown);
  await page.keyboard.press('d');

  // Shortcuts wait while a field has the focus.
  await page.focus('#client-key');
  await page.keyboard.press('p');
  assert.equal(await page.evaluate(() => document.body.classList.contains('presenter')), false);
}));

test('presenter mode: large type, the cluster alone, and back with Esc', { timeout: TEST_TIMEOUT_MS }, withPage({ query: '?seed=5&nodes=5', width: 1920, height: 1080 }, async (page) => {
  await pause(page);
  if (await page.isHidden('#diagram-wrap')) await page.click('#diagram-toggle');
  const diagramHeight = () => page.evaluate(() => document.getElementById('diagram-wrap').getBoundingClientRect().height);
  const before = await page.evaluate(() => ({
    font: parseFloat(getComputedStyle(document.body).fontSize),
    stage: document.querySelector('.stage').getBoundingClientRect().width,
  }));
  const diagramBefore = await diagramHeight();
  await page.click('#presenter');
  await nextFrames(page);
  // The space-time diagram grows with the cluster: taller lanes, larger labels.
  assert.ok(await diagramHeight() >= 1.25 * diagramBefore, `the diagram grows: ${diagramBefore} px -> ${await diagramHeight()} px`);
  assert.equal(await page.evaluate(() => window.converge.diagram.zoom), 1.35, 'the diagram is drawn 1.35 times larger, as the cluster');
  const during = await page.evaluate(() => ({
    font: parseFloat(getComputedStyle(document.body).fontSize),
    stage: document.querySelector('.stage').getBoundingClientRect().width,
    panel: document.querySelector('.panel').getBoundingClientRect().width,
    pressed: document.getElementById('presenter').getAttribute('aria-pressed'),
  }));
  assert.ok(during.font >= 1.2 * before.font, `larger type: ${before.font} -> ${during.font}`);
  // Sizes given in rem (hints, notes, the comparison table) grow too, not only the body's text.
  const root = await page.evaluate(() => parseFloat(getComputedStyle(document.documentElement).fontSize));
  assert.ok(root >= 1.2 * 16, `the root size grows too: ${root} px`);
  assert.equal(during.panel, 0, 'the side panel is hidden');
  assert.ok(during.stage > before.stage + 300, 'the cluster takes the width');
  assert.equal(during.pressed, 'true');
  await screenshot(page, 'presenter-mode');
  await page.keyboard.press('Escape');
  assert.equal(await page.evaluate(() => document.body.classList.contains('presenter')), false);
}));

test('"PNG" saves the cluster and the diagram as one picture for slides', { timeout: TEST_TIMEOUT_MS }, withPage({ query: '?seed=5', width: 1440, height: 1000 }, async (page) => {
  await pause(page);
  await restart(page);
  await page.evaluate(() => sim.write(1, 'k', 'v'));
  await runFor(page, 150);
  const sizes = await page.evaluate(() => ({
    cluster: [document.getElementById('cluster').width, document.getElementById('cluster').height],
    diagram: [document.getElementById('diagram').width, document.getElementById('diagram').height],
  }));
  const [download] = await Promise.all([page.waitForEvent('download'), page.click('#picture')]);
  assert.equal(download.suggestedFilename(), 'converge-seed5-at-0.150s.png');
  const bytes = await readFile(await download.path());
  assert.deepEqual([...bytes.subarray(0, 8)], [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a], 'a PNG');
  const width = bytes.readUInt32BE(16);
  const height = bytes.readUInt32BE(20);
  assert.equal(width, Math.max(sizes.cluster[0], sizes.diagram[0]));
  assert.ok(height > sizes.cluster[1] + sizes.diagram[1], `the cluster, the diagram and a caption: ${height} px`);
}));

test('"SVG" saves the cluster, the diagram and a twin as shapes and text, not pixels', { timeout: TEST_TIMEOUT_MS }, withPage({ query: '?seed=5', width: 1440, height: 1000 }, async (page) => {
  await pause(page);
  await restart(page);
  await page.evaluate(() => {
    sim.crash(3);
    sim.write(1, 'name', 'Alice');
    // A character XML cannot hold, even escaped.
    sim.write(2, 'odd\u0001key', 'v');
  });
  await runFor(page, 150);
  const [download] = await Promise.all([page.waitForEvent('download'), page.click('#picture-svg')]);
  assert.equal(download.suggestedFilename(), 'converge-seed5-at-0.150s.svg');
  const svg = await readFile(await download.path(), 'utf8');
  assert.match(svg, /^<svg[^>]*xmlns="http:\/\/www.w3.org\/2000\/svg"/);
  const parsed = await page.evaluate((text) => {
    const doc = new DOMParser().parseFromString(text, 'image/svg+xml');
    return { error: doc.querySelector('parsererror')?.textContent ?? null, root: doc.documentElement.nodeName };
  }, svg);
  assert.deepEqual(parsed, { error: null, root: 'svg' }, 'well-formed XML');
  assert.ok(svg.includes('odd\uFFFDkey'), 'the key is there, its control character replaced');
  assert.doesNotMatch(svg, /<image/, 'vector shapes, no embedded bitmap');
  for (const words of ['Node 1', 'Node 3', 'DOWN', 'Alice', 'seed 5 · t = 0.150 s']) {
    assert.ok(svg.includes(words), `the picture says "${words}"`);
  }
  assert.ok((svg.match(/<path/g) ?? []).length > 20, 'links, boxes, lanes and arrows are paths');

  // Side by side: both runs, each labelled.
  await page.evaluate(() => sim.compare({ conflict: 'vv' }));
  await page.waitForSelector('#twin-wrap', { state: 'visible' });
  const [twin] = await Promise.all([page.waitForEvent('download'), page.click('#picture-svg')]);
  const both = await readFile(await twin.path(), 'utf8');
  assert.ok(both.includes('A · this run') && both.includes('B · conflicts = vv'), 'both runs, labelled');
  assert.equal((both.match(/>Node 1</g) ?? []).length, 3, 'node 1 in each run, and its lane in the diagram');
  await writeFile(join(SCREENSHOTS, 'side-by-side.svg'), both);
}));

test('the "?", Lessons and Compare dialogs are modal: Tab stays inside, the page behind is inert, Esc closes', { timeout: TEST_TIMEOUT_MS }, withPage({ query: '?seed=5' }, async (page) => {
  await pause(page);
  for (const [opener, dialog] of [['#help', '#shortcuts'], ['#lessons', '#lesson-picker'], ['#compare', '#compare-box']]) {
    await page.click(opener);
    await page.waitForSelector(dialog, { state: 'visible' });
    assert.equal(await page.$eval(dialog, (d) => d.tagName === 'DIALOG' && d.open && d.matches(':modal')), true, `${dialog} is a modal <dialog>`);
    if (dialog === '#lesson-picker') await page.waitForSelector('#lesson-list button');
    // Round and round with Tab, forwards and back: focus never reaches the page behind (it
    // may pass through the browser's own controls, where nothing in the page has it).
    let inside = 0;
    for (let i = 0; i < 25; i++) {
      await page.keyboard.press(i < 15 ? 'Tab' : 'Shift+Tab');
      const where = await page.evaluate((sel) => {
        const active = document.activeElement;
        if (active === null || active === document.body) return 'browser';
        return document.querySelector(sel).contains(active) ? 'dialog' : `page: ${active.id || active.tagName}`;
      }, dialog);
      assert.ok(where === 'dialog' || where === 'browser', `${dialog}: after ${i + 1} presses focus is on the ${where}`);
      if (where === 'dialog') inside += 1;
    }
    assert.ok(inside >= 10, `${dialog}: focus was in the dialog ${inside} times of 25`);
    await page.keyboard.press('Escape');
    await page.waitForSelector(dialog, { state: 'hidden' });
  }
  const play = await (await page.$('#play')).boundingBox();
  await page.click('#compare');
  await page.waitForSelector('#compare-box', { state: 'visible' });
  await page.mouse.click(play.x + play.width / 2, play.y + play.height / 2);
  assert.equal(await page.evaluate(() => sim.playing()), false, 'the page behind is inert');
  assert.equal(await page.isVisible('#compare-box'), true);
  await page.click('#compare-cancel');
  await page.waitForSelector('#compare-box', { state: 'hidden' });
}));

test('presenter mode at 1920x1080: every word drawn in the cluster and the diagram, and the comparison table, reads from the back row', { timeout: TEST_TIMEOUT_MS }, withPage({ query: '?seed=5&nodes=5&latency=constant:400', width: 1920, height: 1080 }, async (page) => {
  await pause(page);
  if (await page.isHidden('#diagram-wrap')) await page.click('#diagram-toggle');
  // The size of every piece of text drawn on a canvas, in CSS pixels as it lands on the screen.
  await page.evaluate(() => {
    window.drawnSizes = {};
    const fill = CanvasRenderingContext2D.prototype.fillText;
    CanvasRenderingContext2D.prototype.fillText = function (text, x, y, max) {
      const id = this.canvas.id || this.canvas.dataset?.of;
      const px = parseFloat(this.font.match(/([\d.]+)px/)[1]) * this.getTransform().a / window.devicePixelRatio;
      (window.drawnSizes[id] ??= []).push(px);
      return fill.call(this, text, x, y, max);
    };
  });
  await page.evaluate(() => {
    sim.write(1, 'name', 'Alice');
    sim.compare({ writeQuorum: 'all' });
    sim.runFor(200);
  });
  await page.click('#presenter');
  await nextFrames(page, 3);
  await page.evaluate(() => { window.drawnSizes = {}; window.converge.view.under.dirty = true; });
  await page.evaluate(() => sim.runFor(150));
  await nextFrames(page, 6);
  const sizes = await page.evaluate(() => {
    const out = {};
    for (const [id, list] of Object.entries(window.drawnSizes)) out[id] = Math.min(...list);
    return out;
  });
  const table = await page.evaluate(() => parseFloat(getComputedStyle(document.querySelector('.compare-table')).fontSize));
  for (const id of ['cluster', 'twin', 'diagram']) {
    assert.ok(sizes[id] >= 16, `the smallest text drawn in #${id} is ${sizes[id]} px: ${JSON.stringify(sizes)}`);
  }
  assert.ok(table >= 17, `the comparison table's text is ${table} px`);
  await screenshot(page, 'presenter-compare');
}));
