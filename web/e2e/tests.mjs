// Each test is what a user would check on the screen; the API is asked only
// for what the screen must agree with (the owning unit, a street's name).
import { deflateSync } from 'node:zlib';

const zgc = { lon: 116.3165, lat: 39.984 }; // Zhongguancun, inside a grid (api/coverage_test.go)
const fail = (msg) => { throw new Error(msg); };

// A real PNG (a 64×48 gradient), as a camera would hand over a photo.
const photo = makePNG(64, 48);
function makePNG(w, h) {
  const crcTable = Array.from({ length: 256 }, (_, n) => { let c = n; for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1; return c >>> 0; });
  const crc = (b) => { let c = 0xffffffff; for (const x of b) c = crcTable[(c ^ x) & 0xff] ^ (c >>> 8); return (c ^ 0xffffffff) >>> 0; };
  const chunk = (type, data) => {
    const len = Buffer.alloc(4); len.writeUInt32BE(data.length);
    const td = Buffer.concat([Buffer.from(type), data]);
    const c = Buffer.alloc(4); c.writeUInt32BE(crc(td));
    return Buffer.concat([len, td, c]);
  };
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(w, 0); ihdr.writeUInt32BE(h, 4); ihdr[8] = 8; ihdr[9] = 2;
  const raw = Buffer.alloc((w * 3 + 1) * h);
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) {
    const o = y * (w * 3 + 1) + 1 + x * 3;
    raw[o] = x * 4; raw[o + 1] = y * 5; raw[o + 2] = 160;
  }
  return Buffer.concat([Buffer.from([137, 80, 78, 71, 13, 10, 26, 10]), chunk('IHDR', ihdr), chunk('IDAT', deflateSync(raw)), chunk('IEND', Buffer.alloc(0))]);
}

async function apiGet(env, path, role = 'admin') {
  const r = await fetch(env.base + path, { headers: { Authorization: `Bearer ${env.tokens[role]}` } });
  if (!r.ok) fail(`GET ${path}: HTTP ${r.status}`);
  return r.json();
}

// open signs a new browser context in as role (the token in sessionStorage,
// as the sign-in form leaves it) and loads path.
async function open(env, role, path = '/', { viewport = { width: 1440, height: 900 }, mobile = false, geo } = {}) {
  const context = await env.browser.newContext({
    viewport, deviceScaleFactor: 1, locale: 'zh-CN', timezoneId: 'Asia/Shanghai', isMobile: mobile, hasTouch: mobile,
    ...(geo ? { geolocation: { longitude: geo.lon, latitude: geo.lat, accuracy: 8 }, permissions: ['geolocation'] } : {}),
  });
  if (role) {
    await context.addInitScript(([tok]) => {
      if (!sessionStorage.getItem('citygrid.token')) sessionStorage.setItem('citygrid.token', tok);
    }, [env.tokens[role]]);
  }
  const page = await context.newPage();
  env.pages.push(page);
  page.on('pageerror', (e) => console.error(`  [${env.name}] page error: ${e.message}`));
  await page.goto(env.base + path);
  return page;
}

// mapIdle waits until the map has drawn every tile it asked for.
async function mapIdle(page, timeout = 20000) {
  await page.waitForFunction(() => window.citygridMap?.loaded() && window.citygridMap.areTilesLoaded() && !window.citygridMap.isMoving(), null, { timeout, polling: 200 });
  await page.waitForTimeout(300);
}

const rendered = (page, layers, filterCode) => page.evaluate(([ls, code]) => {
  const m = window.citygridMap;
  return m.queryRenderedFeatures({ layers: ls.filter((l) => m.getLayer(l)) })
    .filter((f) => !code || f.properties.code === code)
    .map((f) => ({ layer: f.layer.id, code: f.properties.code, name: f.properties.name, status: f.properties.status }));
}, [layers, filterCode]);

async function clickLngLat(page, lon, lat) {
  const pt = await page.evaluate(([x, y]) => { const p = window.citygridMap.project([x, y]); return { x: p.x, y: p.y }; }, [lon, lat]);
  const box = await page.locator('#map canvas').boundingBox();
  await page.mouse.click(box.x + pt.x, box.y + pt.y);
}

export const tests = [
  ['map-grids', async (env) => {
    const page = await open(env, 'dispatcher', `/#map=16.3/${zgc.lat}/${zgc.lon}`);
    await mapIdle(page);
    const grids = await rendered(page, ['grids-fill']);
    if (grids.length < 5) fail(`only ${grids.length} grid features rendered at Zhongguancun`);
    if (!grids.every((g) => /^\d{15}$/.test(g.code))) fail(`grid features without a 15-digit code: ${JSON.stringify(grids[0])}`);
    const streets = await rendered(page, ['street-line', 'alley-line']);
    if (!streets.length) fail('no streets rendered');
    const regions = await rendered(page, ['community-line', 'subdistrict-line', 'district-line']);
    if (!regions.length) fail('no region boundaries rendered');
    const labels = await rendered(page, ['grids-label']);
    if (!labels.length) fail('no grid code labels placed');
    await env.shot(page);
  }],

  ['locate-owner', async (env) => {
    const want = await apiGet(env, `/api/v1/locate?lon=${zgc.lon}&lat=${zgc.lat}`);
    const page = await open(env, 'dispatcher', `/#map=17/${zgc.lat}/${zgc.lon}`);
    await mapIdle(page);
    await page.locator('[data-menu=owners]').click();
    await clickLngLat(page, zgc.lon, zgc.lat);
    await page.locator('#owners').waitFor({ timeout: 10000 });
    const grid = await page.locator('#locate-grid').innerText();
    if (!grid.includes(want.grid.code)) fail(`panel shows grid ${grid}, locate says ${want.grid.code}`);
    const owners = await page.locator('#owners').innerText();
    const parking = want.owners.find((o) => o.theme === 'parking' && o.role === 'lead');
    if (!parking) fail('locate names no lead for parking at Zhongguancun');
    for (const o of want.owners.filter((x) => x.role === 'lead')) {
      if (!owners.includes(o.unit.name)) fail(`lead unit ${o.unit.name} (${o.theme_name}) not in the panel`);
    }
    if (!owners.includes(parking.unit.code)) fail(`parking lead ${parking.unit.code} not shown`);
    // The grid is highlighted on the map.
    const hl = await page.evaluate(() => JSON.stringify(window.citygridMap.getFilter('highlight-grid')));
    if (!hl.includes(want.grid.code)) fail(`grid not highlighted: ${hl}`);
    if (!page.url().includes(`grid=${want.grid.code}`)) fail(`URL does not keep the grid: ${page.url()}`);
    await env.shot(page);
  }],

  ['search-street', async (env) => {
    const found = await apiGet(env, `/api/v1/search?q=${encodeURIComponent('中关村北大街')}`);
    const street = found.results.find((r) => r.kind === 'object' && r.layer === 'street');
    if (!street) fail('the demo has no street 中关村北大街');
    const page = await open(env, 'dispatcher', '/#map=12/39.95/116.25');
    await mapIdle(page);
    await page.locator('#search').fill(street.name);
    await page.locator('#search-results li').first().waitFor({ timeout: 10000 });
    const first = await page.locator('#search-results li').first().innerText();
    if (!first.includes(street.name)) fail(`first result is ${first}`);
    await page.locator('#search').press('Enter');
    await page.waitForTimeout(1200);
    await mapIdle(page);
    const c = await page.evaluate(() => { const m = window.citygridMap; return { ...m.getCenter(), z: m.getZoom() }; });
    const [x0, y0, x1, y1] = street.bbox;
    if (c.lng < x0 - 0.002 || c.lng > x1 + 0.002 || c.lat < y0 - 0.002 || c.lat > y1 + 0.002) fail(`map centre ${c.lng},${c.lat} is not on the street ${street.bbox}`);
    if (c.z < 13) fail(`zoom ${c.z} too far out`);
    const drawn = await rendered(page, ['street-line']);
    if (!drawn.some((f) => f.name === street.name)) fail(`${street.name} not drawn after the fly`);
    await env.shot(page);
  }],

  ['case-live', async (env) => {
    const point = { lon: 116.3162, lat: 39.9838 };
    const other = await open(env, 'dispatcher', '/#map=14/39.984/116.3165');
    await other.locator('#queue-list').waitFor({ state: 'attached' }); // empty until a case is filed
    await other.locator('.live.on').waitFor({ timeout: 10000 });
    const page = await open(env, 'dispatcher', `/#map=17/${point.lat}/${point.lon}`);
    await mapIdle(page);
    await page.locator('.live.on').waitFor({ timeout: 10000 });
    const desc = `e2e 违停 ${Date.now()}`;
    await page.locator('#new-case-button').click();
    await page.locator('#pick-banner').waitFor();
    await clickLngLat(page, point.lon, point.lat);
    await page.locator('#new-case-form').waitFor();
    await page.locator('#draft-category').selectOption('E0504');
    await page.locator('#draft-description').fill(desc);
    await page.locator('#draft-dupes').waitFor();
    await page.locator('#draft-submit').click();
    await page.locator('#case-panel[data-status=reported]').waitFor({ timeout: 10000 });
    const code = await page.locator('#case-panel').getAttribute('data-code');
    env.shared.code = code;
    // The desk's own queue and the map.
    await page.locator('[data-menu=desk]').click();
    await page.locator(`#queue-list li[data-code="${code}"]`).waitFor({ timeout: 10000 });
    await page.waitForFunction((c) => window.citygridMap.queryRenderedFeatures({ layers: ['cases-point'] }).some((f) => f.properties.code === c),
      code, { timeout: 15000, polling: 500 });
    const onMap = await rendered(page, ['cases-point'], code);
    if (onMap[0].status !== 'reported') fail(`map shows ${code} as ${onMap[0].status}`);
    // The second session, never reloaded, sees it through the event stream.
    await other.locator(`#queue-list li[data-code="${code}"]`).waitFor({ timeout: 15000 });
    await env.shot(page);
  }],

  ['dispatch-handle', async (env) => {
    const code = env.shared.code || fail('no case from case-live');
    const desk = await open(env, 'dispatcher', `/#map=17/39.9838/116.3162&case=${code}`);
    await desk.locator(`#case-panel[data-code="${code}"][data-status=reported]`).waitFor({ timeout: 10000 });
    await desk.locator('#case-actions [data-action=register]').click();
    await desk.locator('#action-submit').click();
    await desk.locator('#case-panel[data-status=registered]').waitFor({ timeout: 10000 });
    const k = await apiGet(env, `/api/v1/cases/${code}`, 'dispatcher');
    await desk.keyboard.press('d');
    await desk.locator('#dispatch-unit').waitFor();
    const pre = await desk.locator('#dispatch-unit').inputValue();
    if (pre !== k.proposed_unit.code) fail(`dispatch preselects ${pre}, the proposed unit is ${k.proposed_unit.code}`);
    if (pre !== env.tokens.unit_code) fail(`proposed unit ${pre} is not ${env.tokens.unit_code}`);
    await desk.locator('#action-submit').click();
    await desk.locator('#case-panel[data-status=dispatched]').waitFor({ timeout: 10000 });

    const unit = await open(env, 'unit', '/#map=15/39.984/116.3165');
    await unit.locator(`#queue-list li[data-code="${code}"]`).click({ timeout: 10000 });
    await unit.locator(`#case-panel[data-code="${code}"] [data-action=handle]`).click({ timeout: 10000 });
    await unit.locator('#action-submit').click();
    await unit.locator('#case-panel[data-status=handling]').waitFor({ timeout: 10000 });
    await unit.locator('#case-actions [data-action=handled]').click();
    await unit.locator('#action-form textarea').fill('已劝离违停车辆，现场恢复通行');
    await unit.locator('#action-photos').setInputFiles({ name: 'after.png', mimeType: 'image/png', buffer: photo });
    await unit.locator('#action-submit').click();
    await unit.locator('#case-panel[data-status=handled]').waitFor({ timeout: 10000 });
    await unit.waitForFunction(() => [...document.querySelectorAll('#case-photos img')].some((i) => i.complete && i.naturalWidth > 0), null, { timeout: 10000 });
    const hist = await unit.locator('#case-history').innerText();
    if (!hist.includes('已劝离违停车辆')) fail('the handled note is not in the history');
    // The dispatcher's panel follows without reload.
    await desk.locator('#case-panel[data-status=handled]').waitFor({ timeout: 15000 });
    await env.shot(unit);
    await env.shot(desk, 'desk');
  }],

  ['phone-report', async (env) => {
    const at = { lon: 116.3168, lat: 39.9836 };
    const desk = await open(env, 'dispatcher', '/#map=15/39.984/116.3165');
    await desk.locator('.live.on').waitFor({ timeout: 10000 });
    const phone = await open(env, 'inspector', '/m/', { viewport: { width: 360, height: 740 }, mobile: true, geo: at });
    await phone.locator('#m-category option[value=E0504]').waitFor({ state: 'attached', timeout: 10000 });
    await phone.locator('#m-category').selectOption('E0504');
    const desc = `网格员手机上报 ${Date.now()}`;
    await phone.locator('#m-description').fill(desc);
    await phone.locator('#m-photo').setInputFiles({ name: 'scene.png', mimeType: 'image/png', buffer: photo });
    await phone.locator('#m-submit').click();
    const item = phone.locator('#my-reports .mine-item').first();
    await item.waitFor({ timeout: 15000 });
    if (!(await item.innerText()).includes(desc)) fail('the report is not in my reports');
    const code = await item.getAttribute('data-code');
    const width = await phone.evaluate(() => document.documentElement.scrollWidth);
    if (width > 360) fail(`the page is ${width} px wide on a 360 px screen`);
    await desk.locator(`#queue-list li[data-code="${code}"]`).waitFor({ timeout: 15000 });
    const k = await apiGet(env, `/api/v1/cases/${code}/photos`, 'dispatcher');
    if (!k.photos.length) fail('the phone report has no photo');
    // Without network the report waits in the outbox and goes when online.
    await phone.context().setOffline(true);
    const offDesc = `离线上报 ${Date.now()}`;
    await phone.locator('#m-category').selectOption('E0504');
    await phone.locator('#m-description').fill(offDesc);
    await phone.locator('#m-submit').click();
    await phone.locator('#outbox').waitFor({ timeout: 10000 });
    await phone.context().setOffline(false);
    await phone.locator('#my-reports .mine-item', { hasText: offDesc }).waitFor({ timeout: 15000 });
    if (await phone.locator('#outbox').count()) fail('the outbox kept the report after the network came back');
    // A short patrol: the walked track goes to the patrols API at the end.
    await phone.locator('#patrol-start').click();
    for (const [dx, dy] of [[0.0003, 0.0001], [0.0006, 0.0003]]) {
      await phone.context().setGeolocation({ longitude: at.lon + dx, latitude: at.lat + dy, accuracy: 8 });
      await phone.waitForTimeout(700);
    }
    await phone.locator('#patrol-stop').click();
    await phone.waitForFunction(() => document.getElementById('toast')?.textContent.includes('巡查轨迹已上传'), null, { timeout: 10000 });
    if (await phone.locator('#outbox').count()) fail(`the outbox still holds: ${await phone.locator('#outbox').innerText()}`);
    await mapIdle(phone);
    await phone.evaluate(() => document.getElementById('toast')?.setAttribute('hidden', ''));
    await phone.screenshot({ path: `${env.shots}/${env.name}.png`, fullPage: true });
    await phone.evaluate(() => window.scrollTo(0, 0));
    await env.shot(phone, 'phone');
  }],

  ['lang-switch', async (env) => {
    const page = await open(env, 'dispatcher', '/#map=15/39.984/116.3165');
    await page.locator('#queue-list').waitFor({ state: 'attached' });
    await page.locator('header#top [data-menu=desk]').waitFor();
    const zh = await page.locator('header#top').innerText();
    if (!zh.includes('案件调度')) fail(`no Chinese menu: ${zh}`);
    await page.locator('#lang-switch').click();
    await page.waitForFunction(() => document.documentElement.lang === 'en');
    const en = await page.locator('header#top').innerText();
    if (!en.includes('Dispatch') || en.includes('案件调度')) fail(`menu not in English: ${en}`);
    const side = await page.locator('#queue').innerText();
    if (!side.includes('Case queue') || /上报|立案/.test(side.split('\n').slice(0, 4).join(' '))) fail(`queue not in English: ${side.slice(0, 120)}`);
    const legend = await page.locator('#layer-switcher').innerText();
    if (!legend.includes('Grids')) fail('legend not in English');
    // Who owns here names the duties in English too.
    await mapIdle(page);
    await page.locator('[data-menu=owners]').click();
    await clickLngLat(page, zgc.lon, zgc.lat);
    await page.locator('#owners').waitFor({ timeout: 10000 });
    const duties = await page.locator('#owners').innerText();
    if (!duties.includes('sanitation') || duties.includes('环境卫生')) fail(`duties not in English: ${duties.slice(0, 120)}`);
    await env.shot(page);
    await page.locator('#lang-switch').click();
    await page.waitForFunction(() => document.documentElement.lang === 'zh-CN');
  }],

  // Not a check of its own: the desk as a dispatcher sees it, for docs/.
  ['desk-overview', async (env) => {
    // Zhongguancun, where the earlier tests filed their cases, with
    // 中关村北大街 and 成府路 in view.
    const [lon, lat] = [116.3165, 39.9845];
    const page = await open(env, 'dispatcher', `/#map=15.6/${lat}/${lon}`);
    await page.locator('#queue-list li').first().waitFor({ timeout: 10000 });
    await mapIdle(page);
    const pts = await page.evaluate(() => window.citygridMap.queryRenderedFeatures({ layers: ['cases-point'] }).map((f) => f.geometry.coordinates));
    if (!pts.length) fail('no case markers in view');
    const mid = pts.sort((p, q) => Math.hypot(p[0] - lon, p[1] - lat) - Math.hypot(q[0] - lon, q[1] - lat))[0];
    await clickLngLat(page, mid[0], mid[1]);
    await page.locator('#case-panel[data-status]').waitFor({ timeout: 10000 });
    await mapIdle(page);
    await env.shot(page, 'desk');
    await env.shot(page);
  }],

  // The dispatcher's shortcuts: ? lists them, j and Enter open the first
  // case of the queue, Escape goes back, / goes to the search box.
  ['shortcuts', async (env) => {
    const page = await open(env, 'dispatcher', '/#map=15/39.984/116.3165');
    const first = page.locator('#queue-list li').first();
    await first.waitFor({ timeout: 10000 });
    const code = await first.getAttribute('data-code');
    await page.keyboard.press('?');
    const help = page.locator('[role=dialog] table.keys');
    await help.waitFor({ timeout: 5000 });
    if ((await help.locator('tr').count()) < 6) fail('the help lists fewer than six shortcuts');
    await page.keyboard.press('Escape');
    await help.waitFor({ state: 'detached', timeout: 5000 });
    await page.keyboard.press('j');
    await page.locator('#queue-list li.sel').first().waitFor({ timeout: 5000 });
    await page.keyboard.press('Enter');
    await page.locator(`#case-panel[data-code="${code}"]`).waitFor({ timeout: 10000 });
    await page.keyboard.press('Escape');
    await page.locator('#queue').waitFor({ timeout: 5000 });
    await page.keyboard.press('/');
    if (await page.evaluate(() => document.activeElement?.id) !== 'search') fail('/ does not focus the search box');
    await env.shot(page);
  }],

  ['expired-token', async (env) => {
    const page = await open(env, 'expired', '/');
    const msg = page.locator('#signin-message');
    await msg.waitFor({ timeout: 10000 });
    const text = await msg.innerText();
    if (!text.includes('登录已失效')) fail(`sign-in says: ${text}`);
    if (await page.locator('#token').count() !== 1) fail('no token field');
    if (page.url().includes(env.tokens.expired)) fail('the token is in the URL');
    await env.shot(page);
  }],
];

