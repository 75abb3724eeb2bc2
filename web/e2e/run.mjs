// The browser tests of the map app: `node web/e2e/run.mjs` against a running
// citygrid with the Beijing demo. Environment: CITYGRID_URL, CITYGRID_TOKENS
// (JSON: admin, dispatcher, unit, unit_code, inspector, expired), CHROMIUM,
// SCREENSHOTS. Prints `ok <name>` or `FAIL <name>: <why>` per test, saves
// <name>.png for each, and exits 1 if any failed.
import { chromium } from 'playwright-core';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { tests } from './tests.mjs';

const base = (process.env.CITYGRID_URL || 'http://127.0.0.1:8080').replace(/\/$/, '');
const tokens = JSON.parse(process.env.CITYGRID_TOKENS || '{}');
const shots = process.env.SCREENSHOTS || 'e2e-screenshots';
const only = process.env.E2E_ONLY ? new Set(process.env.E2E_ONLY.split(',')) : null;
mkdirSync(shots, { recursive: true });

for (const k of ['admin', 'dispatcher', 'unit', 'inspector', 'expired']) {
  if (!tokens[k]) { console.log(`FAIL setup: CITYGRID_TOKENS has no ${k} token`); process.exit(1); }
}

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium', headless: true,
  args: ['--use-angle=swiftshader', '--enable-unsafe-swiftshader', '--no-sandbox', '--ignore-gpu-blocklist'],
});
const started = Date.now();
const ctx = { base, tokens, shots, browser, shared: {} };
let failed = 0, passed = 0;
try {
  for (const [name, fn] of tests) {
    if (only && !only.has(name)) continue;
    const t0 = Date.now();
    const pages = [];
    const env = { ...ctx, name, pages, shot: async (page, file = name) => page.screenshot({ path: join(shots, `${file}.png`) }) };
    try {
      await withTimeout(fn(env), 60000, `${name} timed out`);
      console.log(`ok ${name} (${((Date.now() - t0) / 1000).toFixed(1)} s)`);
      passed++;
    } catch (err) {
      failed++;
      console.log(`FAIL ${name}: ${String(err?.message || err).split('\n')[0]}`);
      // The failing screen, for whoever reads the log.
      const p = pages[pages.length - 1];
      if (p && !p.isClosed()) await p.screenshot({ path: join(shots, `${name}.png`) }).catch(() => {});
    } finally {
      for (const p of pages) await p.context().close().catch(() => {});
    }
  }
} finally {
  await browser.close();
}
console.log(`${passed} passed, ${failed} failed (${((Date.now() - started) / 1000).toFixed(1)} s)`);
process.exit(failed ? 1 : 0);

function withTimeout(p, ms, msg) {
  let timer;
  return Promise.race([p, new Promise((_, reject) => { timer = setTimeout(() => reject(new Error(msg)), ms); })]).finally(() => clearTimeout(timer));
}
