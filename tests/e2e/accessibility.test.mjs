// An automated accessibility audit (axe-core, the engine behind Lighthouse's and browser
// extensions' checks) of the page in the states a person meets: at rest, mid-lesson, with each
// dialog open, side by side, and in presenter mode. No serious or critical violation may be
// found; lesser ones are printed so that they are seen.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { readFile } from 'node:fs/promises';
import { pageSuite, TEST_TIMEOUT_MS, pause, nextFrames } from './steps.mjs';

const withPage = pageSuite();
const AXE = await readFile(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');

/** Runs axe on the page as it stands; returns its violations, each with its impact and nodes. */
async function audit(page) {
  await page.addScriptTag({ content: AXE });
  return page.evaluate(async () => {
    const result = await window.axe.run(document, { runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'best-practice'] } });
    return result.violations.map((v) => ({ id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.map((n) => n.target.join(' ')).slice(0, 5) }));
  });
}

const STATES = [
  ['at rest, after a write', async (page) => {
    await page.evaluate(() => { sim.write(1, 'name', 'Alice'); sim.runFor(500); });
  }],
  ['mid-lesson, a question asked', async (page) => {
    await page.evaluate(() => sim.openLesson('version-vectors', 1));
  }],
  ['with the shortcuts dialog open', async (page) => {
    await page.click('#help');
  }],
  ['with the lessons dialog open', async (page) => {
    await page.click('#lessons');
  }],
  ['side by side', async (page) => {
    await page.evaluate(() => { sim.write(1, 'name', 'Alice'); sim.compare({ writeQuorum: 'all' }); sim.runFor(500); });
  }],
  ['in presenter mode', async (page) => {
    await page.click('#presenter');
  }],
];

for (const [name, reach] of STATES) {
  test(`no serious or critical accessibility violation ${name}`, { timeout: TEST_TIMEOUT_MS }, withPage({ query: '?seed=5' }, async (page) => {
    await pause(page);
    await reach(page);
    await nextFrames(page, 4);
    const violations = await audit(page);
    for (const v of violations) console.log(`${name}: ${v.impact} ${v.id}: ${v.help} (${v.nodes.join(', ')})`);
    const grave = violations.filter((v) => v.impact === 'serious' || v.impact === 'critical');
    assert.deepEqual(grave, [], `${name}: ${grave.map((v) => `${v.id} (${v.nodes.join(', ')})`).join('; ')}`);
  }));
}
