// The site as the other build paths make it (wasm-pack, trunk): each folder named in SITES
// (separated by spaces) is served as a static host would, and each address in it (`trunk serve`)
// is taken as it is; the page is opened in headless Chromium and driven: the core loads, a write
// replicates, a lesson opens, and the SVG library is there.
// scripts/check-builds.sh builds the folders and runs this; it is not part of tests/e2e/, which
// tests the site scripts/build.sh makes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { serve, browser, openPage } from '../e2e/helpers.mjs';

const sites = (process.env.SITES ?? '').split(' ').filter(Boolean);

test('every build path names a folder to test', () => {
  assert.ok(sites.length > 0, 'SITES names no folder: run scripts/check-builds.sh');
});

for (const site of sites) {
  test(`the site in ${site} loads and runs`, { timeout: 120_000 }, async () => {
    const remote = /^https?:/.test(site);
    const html = remote ? await (await fetch(site)).text() : await readFile(join(site, 'index.html'), 'utf8');
    assert.match(html, /<script type="module" src="main.js">/, 'the page loads its own module');
    const server = remote ? { url: site, close: async () => {} } : await serve(site);
    const b = await browser();
    try {
      const { page, errors } = await openPage(b, server.url, { query: '?seed=5' });
      const converged = await page.evaluate(() => {
        window.sim.pause();
        window.sim.write(1, 'name', 'Alice');
        window.sim.runFor(1000);
        return window.sim.converged() && window.sim.read(3, 'name').versions[0].value;
      });
      assert.equal(converged, 'Alice');
      const lessons = await page.evaluate(() => window.sim.lessons());
      assert.ok(lessons.includes('crdts'), `lessons: ${lessons}`);
      await page.evaluate(() => window.sim.openLesson('crdts', 1));
      assert.equal(await page.evaluate(() => window.sim.lesson().id), 'crdts');
      const svg = await page.evaluate(async () => (await fetch('vendor/svgcanvas.js')).status);
      assert.equal(svg, 200, 'the SVG library is served');
      assert.deepEqual(errors, []);
    } finally {
      await b.close();
      await server.close();
    }
  });
}
