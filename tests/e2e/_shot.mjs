import { serve, browser, openPage, screenshot } from '/work/main/tests/e2e/helpers.mjs';
const s = await serve(); const b = await browser();
const { page, errors } = await openPage(b, s.url, { query: process.argv[2] ?? '' });
const script = process.argv[3];
if (script) await page.evaluate(script);
await page.waitForTimeout(Number(process.argv[5] ?? 300));
console.log(await screenshot(page, process.argv[4] ?? 'shot'));
console.log('errors:', errors);
await b.close(); await s.close();
