// The grid inspector's phone page (/m): the map at the phone's position,
// "report a problem here" with camera photos, the inspector's own recent
// reports, patrol recording, and an outbox that keeps reports made without
// network until they can be sent. Each report's Idempotency-Key is fixed
// when it is made, so a resend after a lost answer files it only once.
import 'maplibre-gl/dist/maplibre-gl.css';
import { html, render, nothing } from 'lit-html';
import { get, set } from 'idb-keyval';
import './style.css';
import './mobile.css';
import { api, errorText, loadConfig, categories, authHeaders, ApiError } from './api.js';
import { t, onLang, num, dateTime, relative, catName } from './i18n.js';
import { buildStyle, statusColors, localFonts, attachGridLabels, loadMapLibre } from './mapstyle.js';
import { session, onExpired, toast, uuid, langButton } from './shell.js';

const outboxKey = 'citygrid.outbox';
const mineKey = 'citygrid.my-reports';
const state = { me: null, cats: [], outbox: [], mine: [], pos: null, geoError: '', busy: false, error: '',
  patrol: null, patrolBusy: false };
let map, me;

async function start() {
  onExpired();
  const root = document.getElementById('app');
  const [cfg, user] = await Promise.all([loadConfig(), session(root)]);
  state.me = user;
  render(html`<header id="mtop"></header><div id="mmap"></div><main id="mbody"></main>`, root);
  onLang(draw);
  const origin = location.origin;
  const ml = await loadMapLibre();
  map = new ml.Map({
    container: 'mmap', style: buildStyle(origin, cfg.basemap), center: cfg.center, zoom: 16,
    attributionControl: false, localIdeographFontFamily: localFonts,
    transformRequest: (url) => (url.startsWith(`${origin}/tiles/`) ? { url, headers: authHeaders() } : { url }),
  });
  window.citygridMap = map;
  attachGridLabels(map);
  map.addControl(new ml.AttributionControl({ compact: true, customAttribution: '© OpenStreetMap contributors' }), 'bottom-right');
  map.addControl(new ml.ScaleControl({ unit: 'metric', maxWidth: 80 }), 'bottom-left');
  const el = document.createElement('div');
  el.className = 'me-dot';
  me = new ml.Marker({ element: el });
  locateMe();
  categories().then((c) => { state.cats = c; draw(); }).catch((err) => { state.error = errorText(err); draw(); });
  state.outbox = (await get(outboxKey)) || [];
  state.mine = JSON.parse(localStorage.getItem(mineKey) || '[]');
  draw();
  refreshMine();
  flush();
  addEventListener('online', flush);
  setInterval(flush, 30000);
}

function locateMe() {
  if (!navigator.geolocation) { state.geoError = t('noGeo', { msg: '—' }); draw(); return; }
  navigator.geolocation.getCurrentPosition((p) => {
    state.pos = { lon: p.coords.longitude, lat: p.coords.latitude, acc: p.coords.accuracy };
    me.setLngLat([state.pos.lon, state.pos.lat]).addTo(map);
    map.jumpTo({ center: [state.pos.lon, state.pos.lat], zoom: 16 });
    state.geoError = '';
    draw();
  }, (err) => { state.geoError = t('noGeo', { msg: err.message }); draw(); }, { enableHighAccuracy: true, timeout: 15000 });
}

// where: the report's point, the phone's position, or the map's centre
// when geolocation is refused (the inspector pans the map to the spot).
const where = () => (state.pos ? { lon: state.pos.lon, lat: state.pos.lat } : { lon: map.getCenter().lng, lat: map.getCenter().lat });

async function saveOutbox() { await set(outboxKey, state.outbox); }

async function report(e) {
  e.preventDefault();
  const fd = new FormData(e.target);
  const p = where();
  const item = {
    key: uuid(), kind: 'case', made_at: new Date().toISOString(), error: '',
    input: { lon: p.lon, lat: p.lat, category: fd.get('category'), source: 'inspector', description: fd.get('description').toString().trim() },
    photos: fd.getAll('photo').filter((f) => f && f.size).map((f) => ({ name: f.name, type: f.type, blob: f })),
  };
  state.outbox.push(item);
  await saveOutbox();
  e.target.reset();
  draw();
  await flush();
}

// send posts one outbox item. A network failure keeps it (thrown as
// status 0); a refusal is kept with its reason for the inspector to see.
async function send(item) {
  if (item.kind === 'patrol') {
    return api('/api/v1/patrols', { method: 'POST', body: item.track, headers: { 'Content-Type': 'application/geo+json' } });
  }
  let body = item.input;
  if (item.photos.length) {
    body = new FormData();
    body.append('case', JSON.stringify(item.input));
    for (const ph of item.photos) body.append('photo', ph.blob, ph.name || 'photo.jpg');
  }
  return api('/api/v1/cases', { method: 'POST', body, headers: { 'Idempotency-Key': item.key } });
}

let flushing = false;
async function flush() {
  if (flushing || !state.outbox.length) return;
  flushing = true; state.busy = true; draw();
  for (const item of [...state.outbox]) {
    try {
      const out = await send(item);
      state.outbox = state.outbox.filter((x) => x.key !== item.key);
      await saveOutbox();
      if (item.kind === 'case') {
        state.mine = [{ code: out.code, status: out.status, category_name: out.category_name, description: out.description, reported_at: out.reported_at }, ...state.mine.filter((m) => m.code !== out.code)].slice(0, 30);
        localStorage.setItem(mineKey, JSON.stringify(state.mine));
        toast(t('sent', { code: out.code }), 'ok');
      } else toast(t('patrolSent'), 'ok');
    } catch (err) {
      if (err instanceof ApiError && err.status === 0) { toast(t('savedOffline')); break; }
      if (err instanceof ApiError && err.status === 401) break;
      item.error = errorText(err);
      await saveOutbox();
    }
  }
  flushing = false; state.busy = false; draw();
}

async function refreshMine() {
  const fresh = await Promise.all(state.mine.slice(0, 15).map((m) => api(`/api/v1/cases/${encodeURIComponent(m.code)}`).catch(() => m)));
  state.mine = [...fresh.map((k) => ({ code: k.code, status: k.status, category_name: k.category_name, description: k.description, reported_at: k.reported_at })), ...state.mine.slice(15)];
  localStorage.setItem(mineKey, JSON.stringify(state.mine));
  draw();
}

// ---- patrol: watchPosition while walking, the track sent as a GeoJSON
// Feature (LineString with inspector and period) when the patrol ends.
function startPatrol() {
  if (!navigator.geolocation) return;
  const p = { started_at: new Date().toISOString(), points: [], watch: 0, m: 0 };
  p.watch = navigator.geolocation.watchPosition((pos) => {
    const pt = [pos.coords.longitude, pos.coords.latitude];
    const last = p.points[p.points.length - 1];
    if (last) p.m += meters(last, pt);
    if (!last || meters(last, pt) > 3) p.points.push(pt);
    state.pos = { lon: pt[0], lat: pt[1] };
    me.setLngLat(pt).addTo(map);
    draw();
  }, (err) => { state.geoError = t('noGeo', { msg: err.message }); draw(); }, { enableHighAccuracy: true });
  state.patrol = p;
  draw();
}
async function stopPatrol() {
  const p = state.patrol;
  navigator.geolocation.clearWatch(p.watch);
  state.patrol = null;
  if (p.points.length >= 2) {
    const track = { type: 'Feature', geometry: { type: 'LineString', coordinates: p.points },
      properties: { inspector: state.me.user, started_at: p.started_at, ended_at: new Date().toISOString() } };
    state.outbox.push({ key: uuid(), kind: 'patrol', made_at: new Date().toISOString(), track, photos: [], error: '' });
    await saveOutbox();
    flush();
  }
  draw();
}
function meters(a, b) {
  const r = Math.PI / 180, x = (b[0] - a[0]) * r * Math.cos(((a[1] + b[1]) / 2) * r), y = (b[1] - a[1]) * r;
  return Math.hypot(x, y) * 6371000;
}

const badge = (s) => html`<span class="badge" style="--c:${statusColors[s] || '#555'}">${t(`status.${s}`)}</span>`;

function draw() {
  const top = document.getElementById('mtop');
  if (!top) return;
  render(html`<b>${t('phoneTitle')}</b><span class="who">${state.me.user}</span>${langButton(draw)}`, top);
  const p = state.pos;
  render(html`
    <section class="report">
      <h2>${t('reportHere')}</h2>
      <p class="muted">${p ? html`${t('myPosition')}: ${num(p.lon, { maximumFractionDigits: 5 })}, ${num(p.lat, { maximumFractionDigits: 5 })}${p.acc ? ` ±${num(Math.round(p.acc))} m` : ''}` : state.geoError || '…'}</p>
      <form id="report-form" @submit=${report}>
        <label>${t('category')}<select name="category" id="m-category" required>
          <option value="">—</option>${state.cats.map((c) => html`<option value=${c.code}>${catName(c)} (${c.code})</option>`)}</select></label>
        <label>${t('description')}<textarea name="description" id="m-description" rows="2" required placeholder=${t('descHint')}></textarea></label>
        <label class="camera">${t('takePhoto')}<input type="file" name="photo" id="m-photo" accept="image/*" capture="environment" multiple></label>
        <button class="primary big" type="submit" id="m-submit">${t('submit')}</button>
      </form>
      ${state.error ? html`<p class="error">${state.error}</p>` : nothing}
    </section>
    ${state.outbox.length ? html`<section class="outbox" id="outbox"><h2>${t('outbox')} (${num(state.outbox.length)})</h2>
      ${state.outbox.map((o) => html`<div class="out-item">${o.kind === 'patrol' ? t('patrol') : o.input.description} <span class="muted">${dateTime(o.made_at)}</span>
        ${o.error ? html`<div class="error">${t('sendFailed', { msg: o.error })}</div>` : state.busy ? html`<span class="muted">${t('sending')}</span>` : nothing}
        <button @click=${async () => { state.outbox = state.outbox.filter((x) => x !== o); await saveOutbox(); draw(); }}>${t('discard')}</button>
        <button @click=${() => { o.error = ''; flush(); }}>${t('retry')}</button></div>`)}</section>` : nothing}
    <section class="patrol"><h2>${t('patrol')}</h2>
      ${state.patrol ? html`<p>${t('patrolPoints', { n: num(state.patrol.points.length), m: num(Math.round(state.patrol.m)) })}</p>
        <button class="primary" id="patrol-stop" @click=${stopPatrol}>${t('stopPatrol')}</button>`
        : html`<button id="patrol-start" @click=${startPatrol}>${t('startPatrol')}</button>`}</section>
    <section class="mine" id="my-reports"><h2>${t('myReports')}</h2>
      ${state.mine.map((k) => html`<div class="mine-item" data-code=${k.code}>${badge(k.status)} <code>${k.code}</code><div>${k.category_name} · ${k.description}</div><div class="muted">${relative(k.reported_at)}</div></div>`)}
    </section>`, document.getElementById('mbody'));
}

start().catch((err) => { document.getElementById('app').textContent = errorText(err); });
