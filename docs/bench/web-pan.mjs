// Panning the desk's map over a large city: the map pans by PANS steps of
// 600 px at ZOOM, and the script reports the frames drawn per second
// while it moves, the longest frame, and how long each step takes until
// every tile of the new view is drawn (tiles uncached by the browser: a
// fresh context). It prints the figures for docs/benchmarks.md; it
// asserts nothing. Headless chromium draws WebGL in software
// (SwiftShader), so the frame rates are a floor, not a desktop's.
//
//   CITYGRID_URL=http://127.0.0.1:8090 TOKEN=<dispatcher token> CHROMIUM=/usr/bin/chromium \
//     ZOOM=14 PANS=8 CENTER=36.65/117.0 node docs/bench/web-pan.mjs
import { createRequire } from 'node:module';
import path from 'node:path';

const require = createRequire(path.resolve(process.cwd(), 'web', 'package.json'));
const { chromium } = require('playwright-core');

const base = process.env.CITYGRID_URL || 'http://127.0.0.1:8090';
const zoom = Number(process.env.ZOOM || 14);
const pans = Number(process.env.PANS || 8);
const [lat, lon] = (process.env.CENTER || '36.65/117.0').split('/').map(Number);

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium', headless: true,
  args: ['--use-angle=swiftshader', '--enable-unsafe-swiftshader', '--no-sandbox'],
});
const context = await browser.newContext({ viewport: { width: 1440, height: 900 }, locale: 'zh-CN' });
await context.addInitScript(([t]) => sessionStorage.setItem('citygrid.token', t), [process.env.TOKEN || '']);
const page = await context.newPage();
await page.goto(`${base}/#map=${zoom}/${lat}/${lon}`);
await page.waitForFunction(() => window.citygridMap?.loaded() && window.citygridMap.areTilesLoaded(), null, { timeout: 30000, polling: 50 });
const steps = await page.evaluate(async (n) => {
  const m = window.citygridMap;
  const out = [];
  const idle = () => new Promise((ok) => m.once('idle', ok));
  for (let i = 0; i < n; i++) {
    const frames = [];
    let last = performance.now(), running = true;
    const tick = (t) => { frames.push(t - last); last = t; if (running) requestAnimationFrame(tick); };
    requestAnimationFrame(tick);
    const t0 = performance.now();
    // East, then south, then west, then north: a loop over new ground.
    const d = [[600, 0], [0, 600], [-600, 0], [0, -600]][Math.floor(i / 2) % 4];
    m.panBy(d, { duration: 1000 });
    await idle();
    running = false;
    const moving = frames.slice(1);
    out.push({ settled: Math.round(performance.now() - t0), fps: Math.round(1000 * moving.length / moving.reduce((a, b) => a + b, 0)),
      worst: Math.round(Math.max(...moving)) });
  }
  return out;
}, pans);
await browser.close();
for (const [i, s] of steps.entries()) console.log(`pan ${i + 1}: ${s.fps} frames/s while moving, longest frame ${s.worst} ms, settled (every tile drawn) after ${s.settled} ms`);
const med = (k) => steps.map((s) => s[k]).sort((a, b) => a - b)[Math.floor(steps.length / 2)];
console.log(`median of ${steps.length}: ${med('fps')} frames/s, longest frame ${med('worst')} ms, settled after ${med('settled')} ms`);
