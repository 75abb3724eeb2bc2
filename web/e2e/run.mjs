// A stand-in for the app's browser tests, to prove the Go harness
// (api/browser_test.go): the webapp branch replaces it with the real suite.
// Same interface: CITYGRID_URL, CITYGRID_TOKENS, CHROMIUM, SCREENSHOTS; one
// line per test (ok NAME / FAIL NAME: why), a screenshot per test, exit 1
// when any failed.
import { chromium } from 'playwright-core';
import path from 'node:path';

const url = process.env.CITYGRID_URL;
const tokens = JSON.parse(process.env.CITYGRID_TOKENS || '{}');
const shots = process.env.SCREENSHOTS;
let failed = 0;

const t0 = Date.now();
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM,
  headless: true,
  args: ['--use-angle=swiftshader', '--enable-unsafe-swiftshader', '--no-sandbox'],
});
console.log(`chromium launched in ${Date.now() - t0} ms`);

async function test(name, fn) {
  const t = Date.now();
  const ctx = await browser.newContext({ locale: 'zh-CN', viewport: { width: 1280, height: 800 } });
  const page = await ctx.newPage();
  try {
    await fn(page);
    console.log(`ok ${name} (${Date.now() - t} ms)`);
  } catch (e) {
    failed++;
    console.log(`FAIL ${name}: ${String(e.message || e).split('\n')[0]}`);
  }
  await page.screenshot({ path: path.join(shots, `${name}.png`) }).catch(() => {});
  await ctx.close();
}

await test('desk-title', async (page) => {
  const res = await page.goto(url + '/');
  if (res.status() !== 200) throw new Error(`GET / answered ${res.status()}`);
  const title = await page.title();
  if (!title.includes('城市网格')) throw new Error(`title is ${JSON.stringify(title)}`);
});

await test('api-from-page', async (page) => {
  await page.goto(url + '/');
  const me = await page.evaluate(async (tok) => {
    const r = await fetch('/api/v1/me', { headers: { Authorization: 'Bearer ' + tok } });
    return r.status + ' ' + (await r.json()).role;
  }, tokens.dispatcher);
  if (me !== '200 dispatcher') throw new Error(`/api/v1/me: ${me}`);
  const exp = await page.evaluate(async (tok) => (await fetch('/api/v1/me', { headers: { Authorization: 'Bearer ' + tok } })).status, tokens.expired);
  if (exp !== 401) throw new Error(`expired token: ${exp}`);
});

await test('webgl', async (page) => {
  await page.goto(url + '/');
  const gl = await page.evaluate(() => {
    const gl = document.createElement('canvas').getContext('webgl2');
    if (!gl) return null;
    const info = gl.getExtension('WEBGL_debug_renderer_info');
    return gl.getParameter(info ? info.UNMASKED_RENDERER_WEBGL : gl.RENDERER);
  });
  if (!gl) throw new Error('no WebGL2 context');
  console.log(`  WebGL renderer: ${gl}`);
});

await browser.close();
process.exit(failed ? 1 : 0);
