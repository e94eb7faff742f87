// Takes a screenshot of the page in headless Chromium, to look at it as a person would.
// Needs www/pkg built (scripts/serve.sh or scripts/test.sh builds it) and npm packages installed.
//
//   node scripts/screenshot.mjs [query] [script] [name] [wait-ms] [width] [height]
//   node scripts/screenshot.mjs "?seed=7" "sim.write(1,'name','Alice')" after-write 300
//
// The script runs in the page (window.sim is there); the PNG goes to tests/e2e/screenshots/.
import { serve, browser, openPage, screenshot } from '../tests/e2e/helpers.mjs';

const [query = '', script = '', name = 'shot', wait = '300', width = '1280', height = '800'] = process.argv.slice(2);
const server = await serve();
const b = await browser();
try {
  const { page, errors } = await openPage(b, server.url, { query, width: Number(width), height: Number(height) });
  if (script) await page.evaluate(script);
  await page.waitForTimeout(Number(wait));
  console.log(await screenshot(page, name));
  if (errors.length) console.log('page errors:', errors);
} finally {
  await b.close();
  await server.close();
}
