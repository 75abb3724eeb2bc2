// How long the dispatcher's desk takes to become usable on loopback: a
// fresh browser context (nothing cached) opens the desk signed in, and the
// script reports, per load, when the queue has answered (its count shows)
// and when the map has drawn every tile of the first view. It prints the
// figures for docs/benchmarks.md; it asserts nothing.
//
//   CITYGRID_URL=http://127.0.0.1:8090 TOKEN=<dispatcher token> CHROMIUM=/usr/bin/chromium \
//     LOADS=5 VIEW=13/36.65/117.0 node docs/bench/web-interactive.mjs
//
// Run it from web/ (or with NODE_PATH=web/node_modules) so that
// playwright-core resolves.
import { createRequire } from 'node:module';
import path from 'node:path';

const require = createRequire(path.resolve(process.cwd(), 'web', 'package.json'));
const { chromium } = require('playwright-core');

const base = process.env.CITYGRID_URL || 'http://127.0.0.1:8090';
const token = process.env.TOKEN || '';
const loads = Number(process.env.LOADS || 5);
const view = process.env.VIEW || '';

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium', headless: true,
  args: ['--use-angle=swiftshader', '--enable-unsafe-swiftshader', '--no-sandbox'],
});
const rows = [];
for (let i = 0; i < loads; i++) {
  const context = await browser.newContext({ viewport: { width: 1440, height: 900 }, locale: 'zh-CN' });
  await context.addInitScript(([t]) => sessionStorage.setItem('citygrid.token', t), [token]);
  const page = await context.newPage();
  const t0 = Date.now();
  await page.goto(base + '/' + (view ? `#map=${view}` : ''));
  await page.locator('#queue .muted').first().waitFor({ timeout: 30000 });
  await page.waitForFunction(() => !document.querySelector('#queue')?.textContent.includes('…'), null, { timeout: 30000, polling: 20 });
  const queue = Date.now() - t0;
  await page.waitForFunction(() => window.citygridMap?.loaded() && window.citygridMap.areTilesLoaded(), null, { timeout: 30000, polling: 20 });
  const map = Date.now() - t0;
  const [dcl, bytes] = await page.evaluate(() => [performance.getEntriesByType('navigation')[0].domContentLoadedEventEnd,
    performance.getEntriesByType('resource').filter((e) => e.name.includes('/assets/')).reduce((n, e) => n + e.transferSize, 0)]);
  rows.push({ queue, map, dcl: Math.round(dcl), bytes });
  await context.close();
}
await browser.close();
for (const [i, r] of rows.entries()) {
  console.log(`load ${i + 1}: DOMContentLoaded ${r.dcl} ms, queue answered ${r.queue} ms, map drawn ${r.map} ms, assets ${r.bytes} B on the wire`);
}
const med = (k) => rows.map((r) => r[k]).sort((a, b) => a - b)[Math.floor(rows.length / 2)];
console.log(`median of ${rows.length}: DOMContentLoaded ${med('dcl')} ms, queue ${med('queue')} ms, map ${med('map')} ms`);
