// The dispatcher's desk: the map of citygrid's own tiles, who owns a point,
// the case queue kept live by the event stream, intake with a duplicate
// check, and the case panel with exactly the actions the role may take.
import 'maplibre-gl/dist/maplibre-gl.css';
// maplibre-gl itself is loaded apart (initMap): the queue need not wait
// for a megabyte of map code to be parsed.
let ml;
import { html, render, nothing } from 'lit-html';
import './style.css';
import { api, errorText, events, loadConfig, categories, themes, photoURL, authHeaders } from './api.js';
import { t, onLang, getLang, setLang, num, dateTime, duration, relative, catName } from './i18n.js';
import { buildStyle, layerGroups, statusColors, overdueColor, warningColor, localFonts, attachGridLabels, loadMapLibre } from './mapstyle.js';
import { session, onExpired, toast, uuid, langButton } from './shell.js';

const openStatuses = ['reported', 'registered', 'dispatched', 'handling', 'handled', 'verified', 'suspended'];
const noteNeeded = new Set(['handled', 'return', 'cancel', 'suspend', 'reopen']);
const reporterRoles = new Set(['admin', 'dispatcher', 'unit', 'inspector']);
const $ = (sel) => document.querySelector(sel);

const state = {
  me: null, cfg: null, cats: [],
  view: 'queue', // queue | case | locate | new | owners
  queue: { items: [], counts: {}, total: 0, next: '', loading: false, error: '' },
  filter: { status: '', category: '', overdue: false, warning: false },
  sel: -1,
  kase: null, kaseEvents: [], kasePhotos: [], kaseError: '', actionForm: '', actionBusy: false, actionError: '',
  locate: null, locateError: '', locating: false,
  draft: null, // the new case being written
  picking: false, help: false, live: false, layers: { regions: true, grids: true, streets: true, objects: true, cases: true },
  search: { q: '', results: null, busy: false, open: false, idx: -1 },
};
let map;
let tilesVersion = 0;
let marker;

// ---- the URL hash keeps the view: MapLibre writes map=z/lat/lon, the desk
// adds case= or grid= beside it.
function hashParams() { return new URLSearchParams(location.hash.slice(1)); }
function setHash(key, value) {
  const p = hashParams();
  p.delete('case'); p.delete('grid');
  if (value) p.set(key, value);
  const s = [...p].map(([k, v]) => `${k}=${k === 'map' ? v : encodeURIComponent(v)}`).join('&');
  history.replaceState(history.state, '', `${location.pathname}${location.search}${s ? `#${s}` : ''}`);
}

const isUnit = () => state.me?.role === 'unit';
const canQueue = () => ['admin', 'dispatcher', 'unit', 'analyst'].includes(state.me?.role);
const canReport = () => reporterRoles.has(state.me?.role);
const statusName = (s) => t(`status.${s}`);
// catLabel names a case's category in the user's language (the case carries the Chinese name).
const catLabel = (k) => { const c = state.cats.find((x) => x.code === k.category); return c ? catName(c) : k.category_name; };
const rerender = () => { draw(); drawControls(); };

// ---------------------------------------------------------------- start
async function start() {
  onExpired();
  const root = $('#app');
  const [cfg, me] = await Promise.all([loadConfig(), session(root)]);
  state.cfg = cfg; state.me = me;
  render(shellTemplate(), root);
  onLang(() => rerender());
  // The header, the panels and the queue's request come before the map:
  // loading and starting MapLibre holds the page for a while on a slow
  // machine.
  if (!canQueue()) state.view = 'owners';
  draw();
  if (canQueue()) loadQueue();
  // The keys work as soon as the queue shows, before the map is ready.
  document.addEventListener('keydown', onKey);
  await initMap();
  categories().then((c) => { state.cats = c; draw(); }).catch(() => {});
  themes().then((ts) => { state.themes = new Map(ts.map((x) => [x.code, x])); draw(); }).catch(() => {});
  // Reload the queue when the stream comes back after a break (events
  // may have been missed), not when it first connects: that would
  // abort the first load and start it again.
  let wasLive = null;
  events(onCaseEvent, (up) => {
    state.live = up; drawHeader();
    if (up && wasLive === false) loadQueue();
    wasLive = up;
  });
  const p = hashParams();
  if (p.get('case')) openCase(p.get('case'), { fly: !p.get('map') });
  else if (p.get('grid')) showGrid(p.get('grid'));
  draw();
}

const shellTemplate = () => html`
  <header id="top"></header>
  <main class="desk">
    <div id="map" aria-label="map"></div>
    <aside id="side" aria-live="polite"></aside>
  </main>
  <div id="overlay"></div>`;

// ---------------------------------------------------------------- map
async function initMap() {
  ml = await loadMapLibre();
  const origin = location.origin;
  const p = hashParams();
  map = new ml.Map({
    container: 'map',
    style: buildStyle(origin, state.cfg.basemap, tilesVersion),
    center: state.cfg.center, zoom: state.cfg.zoom ?? 13,
    hash: 'map', attributionControl: false, localIdeographFontFamily: localFonts,
    transformRequest: (url) => (url.startsWith(`${origin}/tiles/`) ? { url, headers: authHeaders() } : { url }),
  });
  window.citygridMap = map;
  attachGridLabels(map);
  map.addControl(new ml.NavigationControl({ visualizePitch: false }), 'top-left');
  map.addControl(new ml.ScaleControl({ unit: 'metric', maxWidth: 140 }), 'bottom-left');
  map.addControl(new ml.AttributionControl({ compact: false, customAttribution: '© OpenStreetMap contributors' }), 'bottom-right');
  map.addControl({ onAdd() { const d = document.createElement('div'); d.className = 'maplibregl-ctrl maplibregl-ctrl-group mapbox-panel'; d.id = 'map-panel'; return d; }, onRemove() {} }, 'top-right');
  map.on('load', () => { drawControls(); paintWarnings(); });
  map.on('click', onMapClick);
  for (const l of ['cases-point', 'cases-cluster']) {
    map.on('mouseenter', l, () => { map.getCanvas().style.cursor = 'pointer'; });
    map.on('mouseleave', l, () => { map.getCanvas().style.cursor = ''; });
  }
  map.on('sourcedata', (e) => { if (e.sourceId === 'cases' && e.isSourceLoaded) paintWarnings(); });
}

// reloadCases asks the cases tiles again (a case changed), at most every 2 s.
let reloadTimer;
function reloadCases() {
  if (reloadTimer) return;
  reloadTimer = setTimeout(() => {
    reloadTimer = null;
    tilesVersion++;
    map?.getSource('cases')?.setTiles([`${location.origin}/tiles/cases/{z}/{x}/{y}.mvt?status=open&v=${tilesVersion}`]);
  }, 600);
}

// paintWarnings marks the queue's amber cases on the map: the tiles carry
// overdue but not the warning, which the queue knows.
function paintWarnings() {
  if (!map?.getSource('cases')) return;
  for (const k of state.queue.items) {
    map.setFeatureState({ source: 'cases', sourceLayer: 'cases', id: k.code }, { warning: !!k.warning && !k.overdue, selected: state.kase?.code === k.code });
  }
}

function setLayer(group, on) {
  state.layers[group] = on;
  for (const id of layerGroups[group]) if (map.getLayer(id)) map.setLayoutProperty(id, 'visibility', on ? 'visible' : 'none');
  drawControls();
}

function highlight(gridCode, objectIds = []) {
  if (!map?.getLayer('highlight-grid')) { map?.once('load', () => highlight(gridCode, objectIds)); return; }
  map.setFilter('highlight-grid', ['==', ['get', 'code'], gridCode || '']);
  map.setFilter('highlight-objects', ['in', ['id'], ['literal', objectIds]]);
  map.setFilter('highlight-places', ['in', ['id'], ['literal', objectIds]]);
}

function onMapClick(e) {
  if (state.picking) { state.picking = false; newCaseAt(e.lngLat.lng, e.lngLat.lat); return; }
  const hit = map.queryRenderedFeatures(e.point, { layers: ['cases-point', 'cases-cluster'].filter((l) => map.getLayer(l)) });
  const pt = hit.find((f) => f.layer.id === 'cases-point');
  if (pt) { openCase(pt.properties.code); return; }
  const cl = hit.find((f) => f.layer.id === 'cases-cluster');
  if (cl) { map.easeTo({ center: cl.geometry.coordinates, zoom: Math.min(map.getZoom() + 2, 15.2) }); return; }
  locate(e.lngLat.lng, e.lngLat.lat);
}

// ---------------------------------------------------------------- who owns here
async function locate(lon, lat) {
  state.view = 'locate'; state.locating = true; state.locateError = ''; state.locate = { point: { lon, lat } };
  draw();
  try {
    const a = await api(`/api/v1/locate?lon=${lon.toFixed(7)}&lat=${lat.toFixed(7)}`);
    state.locate = a;
    highlight(a.grid?.code, a.objects.map((o) => o.id));
    setHash('grid', a.grid?.code || '');
  } catch (err) {
    state.locateError = errorText(err);
  }
  state.locating = false;
  draw();
}

async function showGrid(code) {
  try {
    const g = await api(`/api/v1/grids/${encodeURIComponent(code)}`);
    const ring = g.geometry.type === 'Polygon' ? g.geometry.coordinates[0] : g.geometry.coordinates[0][0];
    const xs = ring.map((c) => c[0]), ys = ring.map((c) => c[1]);
    const lon = (Math.min(...xs) + Math.max(...xs)) / 2, lat = (Math.min(...ys) + Math.max(...ys)) / 2;
    if (!hashParams().get('map')) map.jumpTo({ center: [lon, lat], zoom: 17 });
    locate(lon, lat);
  } catch (err) { toast(errorText(err), 'error'); }
}

function ownersByTheme(owners) {
  const m = new Map();
  for (const o of owners) {
    // The duty in the user's language (the locate answer names it in Chinese).
    if (!m.has(o.theme)) m.set(o.theme, { name: catName(state.themes?.get(o.theme)) || o.theme_name, lead: [], support: [] });
    m.get(o.theme)[o.role === 'lead' ? 'lead' : 'support'].push(o);
  }
  return [...m.values()];
}

const viaText = (v) => (v ? `${t(`viaKinds.${v.kind}`)} ${v.name || ''}${v.code ? ` (${v.code})` : ''}` : '');

function locateView() {
  const a = state.locate;
  if (!a) return html`<p class="hint">${t('clickHint')}</p>`;
  const r = a.regions || {};
  return html`<section class="locate" id="locate-panel">
    <div class="panel-head"><h2>${t('menu.owners')}</h2>${closeButton()}</div>
    <p class="muted">${t('point')}: ${num(a.point.lon, { maximumFractionDigits: 5 })}, ${num(a.point.lat, { maximumFractionDigits: 5 })}</p>
    ${state.locating ? html`<p class="muted">${t('locating')}</p>` : nothing}
    ${state.locateError ? html`<p class="error" role="alert">${state.locateError}</p>` : nothing}
    ${a.inside === undefined ? nothing : html`
      <dl class="facts">
        <dt>${t('grid')}</dt><dd id="locate-grid">${a.grid ? html`<b>${a.grid.name}</b> <code>${a.grid.code}</code>` : html`${t('outside')}${a.nearest_grid ? html`<br>${t('nearest', { code: a.nearest_grid.code, m: num(Math.round(a.nearest_grid.distance_m)) })}` : nothing}`}</dd>
        <dt>${t('regions')}</dt><dd>${['district', 'subdistrict', 'community'].filter((l) => r[l]).map((l) => html`<div>${t(`levels.${l}`)}：${r[l].name} <code>${r[l].code}</code></div>`)}</dd>
        ${a.objects.length ? html`<dt>${t('objects')}</dt><dd>${a.objects.map((o) => html`<div>${o.name || o.code || o.id} <span class="muted">${o.layer} · ${num(Math.round(o.distance_m))} m</span></div>`)}</dd>` : nothing}
      </dl>
      <h3>${t('owners')}</h3>
      <table class="owners" id="owners"><tbody>
        ${ownersByTheme(a.owners).map((d) => html`<tr><th scope="row">${d.name}</th><td>
          ${d.lead.map((o) => html`<div class="owner lead"><span class="tag lead">${t('lead')}</span> <b>${o.unit.name}</b> <code>${o.unit.code}</code><div class="muted via">${t('via')}：${viaText(o.via)}</div></div>`)}
          ${d.support.map((o) => html`<div class="owner"><span class="tag">${t('support')}</span> ${o.unit.name} <code>${o.unit.code}</code><div class="muted via">${t('via')}：${viaText(o.via)}</div></div>`)}
        </td></tr>`)}
      </tbody></table>
      ${canReport() ? html`<button class="primary" id="new-case-here" @click=${() => newCaseAt(a.point.lon, a.point.lat)}>${t('newCaseHere')}</button>` : nothing}`}
  </section>`;
}

// ---------------------------------------------------------------- the queue
let queueCtrl;
async function loadQueue(more = false) {
  if (!canQueue()) return;
  queueCtrl?.abort();
  queueCtrl = new AbortController();
  const f = state.filter;
  const q = new URLSearchParams({ limit: '50', sort: '-reported_at', status: f.status || openStatuses.join(',') });
  if (f.category) q.set('category', f.category);
  if (f.overdue) q.set('overdue', 'true');
  if (f.warning) q.set('warning', 'true');
  if (more && state.queue.next) q.set('cursor', state.queue.next);
  state.queue.loading = true;
  drawSide();
  try {
    const page = await api(`/api/v1/cases?${q}`, { signal: queueCtrl.signal });
    state.queue = { items: more ? [...state.queue.items, ...page.items] : page.items, counts: page.counts || {}, total: page.total, next: page.next_cursor || '', loading: false, error: '' };
    paintWarnings();
  } catch (err) {
    if (err.name === 'AbortError') return;
    state.queue.loading = false;
    state.queue.error = errorText(err);
  }
  draw();
}

let queueTimer;
function onCaseEvent(type, ev) {
  if (type === 'resync') { loadQueue(); reloadCases(); return; }
  if (type !== 'case') return;
  clearTimeout(queueTimer);
  queueTimer = setTimeout(() => loadQueue(), 300);
  reloadCases();
  if (ev.action === 'report' && !isUnit()) toast(`${statusName('reported')}：${ev.code}`);
  if (state.kase?.code === ev.code && state.view === 'case' && !state.actionBusy) openCase(ev.code, { quiet: true });
}

const remainingText = (k) => {
  if (k.remaining_s == null) return '';
  return k.overdue || k.remaining_s < 0 ? t('overdueBy', { d: duration(k.remaining_s) }) : duration(k.remaining_s);
};
const badge = (s) => html`<span class="badge" style="--c:${statusColors[s] || '#555'}">${statusName(s)}</span>`;

function queueView() {
  const qs = state.queue, f = state.filter;
  const counts = Object.entries(qs.counts).sort((a, b) => openStatuses.indexOf(a[0]) - openStatuses.indexOf(b[0]));
  const setF = (k, v) => { state.filter = { ...state.filter, [k]: v }; state.sel = -1; loadQueue(); };
  return html`<section class="queue" id="queue">
    <div class="panel-head"><h2>${isUnit() ? t('myQueue') : t('queue')}</h2>
      <span class="live ${state.live ? 'on' : ''}" title=${state.live ? t('live') : t('offline')}>${state.live ? t('live') : t('offline')}</span></div>
    <div class="counts" role="group">
      <button class="chip ${f.status === '' ? 'active' : ''}" @click=${() => setF('status', '')}>${t('allOpen')}</button>
      ${counts.map(([s, n]) => html`<button class="chip ${f.status === s ? 'active' : ''}" data-status=${s} style="--c:${statusColors[s]}" @click=${() => setF('status', f.status === s ? '' : s)}>${statusName(s)} <b>${num(n)}</b></button>`)}
    </div>
    <div class="filters">
      <select aria-label=${t('category')} @change=${(e) => setF('category', e.target.value)}>
        <option value="">${t('anyCategory')}</option>
        ${state.cats.map((c) => html`<option value=${c.code} ?selected=${f.category === c.code}>${c.code} ${catName(c)}</option>`)}
      </select>
      <label class="check warn"><input type="checkbox" .checked=${f.warning} @change=${(e) => setF('warning', e.target.checked)}>${t('onlyWarning')}</label>
      <label class="check late"><input type="checkbox" .checked=${f.overdue} @change=${(e) => setF('overdue', e.target.checked)}>${t('onlyOverdue')}</label>
    </div>
    <p class="muted">${t('total', { n: num(qs.total || 0) })}${qs.loading ? ' …' : ''}</p>
    ${qs.error ? html`<p class="error" role="alert">${qs.error}</p>` : nothing}
    <ol class="cases" id="queue-list">
      ${qs.items.map((k, i) => html`<li class="case-item ${k.overdue ? 'overdue' : k.warning ? 'warning' : ''} ${i === state.sel ? 'sel' : ''}" data-code=${k.code}
          tabindex="0" @click=${() => { state.sel = i; openCase(k.code, { fly: true }); }}>
        <div class="row1">${badge(k.status)} <code>${k.code}</code>
          ${k.overdue ? html`<span class="flag late">${t('overdueBadge')}</span>` : k.warning ? html`<span class="flag warn">${t('warningBadge')}</span>` : nothing}</div>
        <div class="row2"><b>${catLabel(k)}</b> · ${k.description || ''}</div>
        <div class="row3 muted">${relative(k.reported_at)} · ${k.regions?.subdistrict?.name || ''} ${k.unit ? html`· ${k.unit.name}` : nothing}
          ${k.remaining_s != null ? html`· <span class=${k.overdue ? 'late-text' : k.warning ? 'warn-text' : ''}>${remainingText(k)}</span>` : nothing}</div>
      </li>`)}
    </ol>
    ${!qs.loading && !qs.items.length && !qs.error ? html`<p class="muted">${t('empty')}</p>` : nothing}
    ${qs.next ? html`<button @click=${() => loadQueue(true)}>${t('loadMore')}</button>` : nothing}
  </section>`;
}

// ---------------------------------------------------------------- the case panel
async function openCase(code, { fly = false, quiet = false } = {}) {
  if (!quiet) {
    state.view = 'case'; state.kaseError = ''; state.actionForm = ''; state.actionError = '';
    if (state.kase?.code !== code) { state.kase = { code }; state.kaseEvents = []; state.kasePhotos = []; }
    draw();
  }
  setHash('case', code);
  try {
    const [k, ev, ph] = await Promise.all([
      api(`/api/v1/cases/${encodeURIComponent(code)}`),
      api(`/api/v1/cases/${encodeURIComponent(code)}/events`),
      api(`/api/v1/cases/${encodeURIComponent(code)}/photos`).catch(() => ({ photos: [] })),
    ]);
    state.kase = { ...k, possible_duplicates: k.possible_duplicates || state.kase?.possible_duplicates };
    state.kaseEvents = ev.events; state.kasePhotos = ph.photos || [];
    highlight(k.grid?.code, []);
    paintWarnings();
    if (fly && map) map.flyTo({ center: [k.point.lon, k.point.lat], zoom: Math.max(map.getZoom(), 16) });
  } catch (err) {
    state.kaseError = errorText(err);
  }
  draw();
}

function photoImg(p) {
  const id = `photo-${p.id}`;
  photoURL(p.href).then((u) => { const el = document.getElementById(id); if (el) el.src = u; }).catch(() => {});
  return html`<figure><img id=${id} alt=${p.name || p.stage} loading="lazy"><figcaption>${p.stage === 'report' ? statusName('reported') : t(`actions.${p.stage}`)} · ${dateTime(p.taken_at || p.created_at)}${p.uploaded_by ? html`<br>${p.uploaded_by}` : nothing}</figcaption></figure>`;
}

function dispatchUnits(k) {
  const seen = new Set(), out = [];
  const add = (u) => { if (u && !seen.has(u.code)) { seen.add(u.code); out.push(u); } };
  add(k.proposed_unit);
  for (const o of k.routing?.leads || []) add(o.unit);
  for (const o of k.routing?.supporters || []) add(o.unit);
  return out;
}

async function act(action, form) {
  const k = state.kase;
  const fd = new FormData(form);
  const note = (fd.get('note') || '').toString().trim();
  if (noteNeeded.has(action) && !note) { state.actionError = t('noteRequired'); draw(); return; }
  const photos = fd.getAll('photo').filter((f) => f && f.size);
  let body;
  if (photos.length && (action === 'handled' || action === 'verify')) {
    body = new FormData();
    if (note) body.append('note', note);
    if (fd.has('passed')) body.append('passed', fd.get('passed'));
    for (const p of photos) body.append('photo', p, p.name);
  } else {
    body = {};
    if (note) body.note = note;
    if (action === 'dispatch') {
      const other = (fd.get('other') || '').toString().trim();
      body.unit = other || fd.get('unit') || undefined;
    }
    if (action === 'verify') body.passed = fd.get('passed') !== 'false';
    if (action === 'merge') body.into = (fd.get('into') || '').toString().trim();
  }
  state.actionBusy = true; state.actionError = ''; draw();
  try {
    await api(`/api/v1/cases/${encodeURIComponent(k.code)}/${action}`, { method: 'POST', body });
    toast(t('done', { action: t(`actions.${action}`) }), 'ok');
    state.actionForm = '';
    await openCase(k.code, { quiet: true });
    loadQueue(); reloadCases();
  } catch (err) {
    state.actionError = errorText(err);
  }
  state.actionBusy = false;
  draw();
}

function actionForm(k, a) {
  const submit = (e) => { e.preventDefault(); act(a, e.target); };
  const units = a === 'dispatch' ? dispatchUnits(k) : [];
  return html`<form class="action-form" id="action-form" data-action=${a} @submit=${submit}>
    <h3>${t(`actions.${a}`)}</h3>
    ${a === 'dispatch' ? html`<label>${t('unit')}<select name="unit" id="dispatch-unit">
        ${units.map((u) => html`<option value=${u.code} ?selected=${u.code === k.proposed_unit?.code}>${u.name} (${u.code})${u.code === k.proposed_unit?.code ? ` · ${t('proposedUnit')}` : ''}</option>`)}
      </select></label><label>${t('otherUnit')}<input name="other" autocomplete="off"></label>` : nothing}
    ${a === 'verify' ? html`<fieldset class="radio"><label><input type="radio" name="passed" value="true" checked>${t('passed')}</label><label><input type="radio" name="passed" value="false">${t('failed')}</label></fieldset>` : nothing}
    ${a === 'merge' ? html`<label>${t('into')}<input name="into" required list="dupe-codes" value=${k.possible_duplicates?.[0]?.code || ''}></label>
      <datalist id="dupe-codes">${(k.possible_duplicates || []).map((d) => html`<option value=${d.code}>`)}</datalist>` : nothing}
    <label>${['return', 'cancel', 'suspend', 'reopen'].includes(a) ? t('reason') : t('note')}${noteNeeded.has(a) ? ' *' : ''}
      <textarea name="note" rows="2" ?required=${noteNeeded.has(a)}></textarea></label>
    ${a === 'handled' || a === 'verify' ? html`<label>${t('photos')}<input type="file" name="photo" accept="image/*" multiple id="action-photos"></label>` : nothing}
    ${state.actionError ? html`<p class="error" role="alert">${state.actionError}</p>` : nothing}
    <div class="buttons"><button type="submit" class="primary" id="action-submit" ?disabled=${state.actionBusy}>${t('confirm')}</button>
      <button type="button" @click=${() => { state.actionForm = ''; state.actionError = ''; draw(); }}>${t('cancel')}</button></div>
  </form>`;
}

function caseView() {
  const k = state.kase;
  if (!k) return nothing;
  const actions = k.actions || [];
  return html`<section class="case" id="case-panel" data-code=${k.code} data-status=${k.status || ''}>
    <div class="panel-head"><h2>${t('caseTitle', { code: k.code })}</h2>${closeButton()}</div>
    ${state.kaseError ? html`<p class="error" role="alert">${state.kaseError}</p>` : nothing}
    ${k.status ? html`
      <div class="case-status">${badge(k.status)} ${k.overdue ? html`<span class="flag late">${t('overdueBadge')}</span>` : k.warning ? html`<span class="flag warn">${t('warningBadge')}</span>` : nothing}
        ${k.needs_confirmation ? html`<span class="flag">${t('needsConfirmation')}</span>` : nothing}</div>
      <p class="desc"><b>${catLabel(k)}</b> <code>${k.category}</code><br>${k.description}</p>
      ${k.possible_duplicates?.length ? html`<div class="dupes filed"><b>${t('dupesFiled')}</b>${k.possible_duplicates.map((d) => html`<div><a href="#" @click=${(e) => { e.preventDefault(); openCase(d.code, { fly: true }); }}>${d.code}</a> ${statusName(d.status)} · ${num(Math.round(d.distance_m))} m · ${d.summary}</div>`)}</div>` : nothing}
      <dl class="facts">
        <dt>${t('reportedAt')}</dt><dd>${dateTime(k.reported_at)} · ${t(`sources.${k.source}`)}</dd>
        <dt>${t('grid')}</dt><dd>${k.grid ? html`${k.grid.name} <code>${k.grid.code}</code>` : '—'}</dd>
        <dt>${t('regions')}</dt><dd>${[k.regions?.district, k.regions?.subdistrict, k.regions?.community].filter(Boolean).map((r) => r.name).join(' / ')}</dd>
        <dt>${t('deadline')}</dt><dd id="case-deadline">${k.deadline ? html`${dateTime(k.deadline)} <span class="muted">(${t('limitHours', { n: num(k.limit?.hours ?? 0) })})</span>` : t('noDeadline')}</dd>
        ${k.remaining_s != null ? html`<dt>${t('remaining')}</dt><dd class=${k.overdue ? 'late-text' : k.warning ? 'warn-text' : ''} id="case-remaining">${remainingText(k)}</dd>` : nothing}
        <dt>${t('proposedUnit')}</dt><dd>${k.proposed_unit ? `${k.proposed_unit.name} (${k.proposed_unit.code})` : '—'}</dd>
        <dt>${t('unit')}</dt><dd id="case-unit">${k.unit ? `${k.unit.name} (${k.unit.code})` : '—'}</dd>
        ${k.reporters?.length ? html`<dt>${t('reporter')}</dt><dd>${k.reporters.map((r) => html`<div>${r.name || ''} ${r.phone || ''}</div>`)}</dd>` : nothing}
      </dl>
      <div class="actions" id="case-actions">
        ${actions.length ? actions.map((a, i) => html`<button class=${a === 'dispatch' || a === 'handled' ? 'primary' : ''} data-action=${a} title=${`${i + 1}`} @click=${() => { state.actionForm = a; state.actionError = ''; draw(); document.querySelector('#action-form textarea, #action-form select')?.focus(); }}>${t(`actions.${a}`)}</button>`) : html`<p class="muted">${t('noActions')}</p>`}
      </div>
      ${state.actionForm ? actionForm(k, state.actionForm) : nothing}
      <h3>${t('photos')}</h3>
      <div class="photos" id="case-photos">${state.kasePhotos.length ? state.kasePhotos.map(photoImg) : html`<p class="muted">${t('noPhotos')}</p>`}</div>
      <h3>${t('history')}</h3>
      <ol class="history" id="case-history">${state.kaseEvents.map((e) => html`<li><time>${dateTime(e.at)}</time> <b>${e.action === 'report' ? statusName('reported') : t(`actions.${e.action}`)}</b>
        ${e.to && e.action !== 'report' ? html`→ ${statusName(e.to)}` : nothing} <span class="muted">${e.actor}${e.actor_role ? ` · ${t(`roles.${e.actor_role}`)}` : ''}</span>${e.note ? html`<div class="note">${e.note}</div>` : nothing}</li>`)}</ol>` : nothing}
  </section>`;
}

// ---------------------------------------------------------------- new case
function newCaseAt(lon, lat) {
  const prev = state.draft;
  state.draft = { lon, lat, key: prev?.key || uuid(), category: prev?.category || '', source: prev?.source || (state.me.role === 'inspector' ? 'inspector' : 'hotline'),
    description: prev?.description || '', dupes: null, checking: false, error: '', busy: false };
  state.view = 'new';
  if (!marker) {
    const el = document.createElement('div');
    el.className = 'draft-marker';
    marker = new ml.Marker({ element: el, draggable: true });
    marker.on('dragend', () => { const p = marker.getLngLat(); state.draft.lon = p.lng; state.draft.lat = p.lat; checkDupes(); draw(); });
  }
  marker.setLngLat([lon, lat]).addTo(map);
  checkDupes();
  draw();
  setTimeout(() => document.getElementById('draft-category')?.focus(), 0);
}

function endDraft() {
  state.draft = null;
  marker?.remove();
}

// checkDupes previews what intake will call possible duplicates: open cases
// of the same category within about 100 m (the intake's own answer, with the
// category's radius and window, comes back with the filed case).
let dupeCtrl;
async function checkDupes() {
  const d = state.draft;
  if (!d?.category) { if (d) d.dupes = null; return; }
  dupeCtrl?.abort();
  dupeCtrl = new AbortController();
  const dLat = 100 / 111000, dLon = dLat / Math.cos((d.lat * Math.PI) / 180);
  const q = new URLSearchParams({ bbox: [d.lon - dLon, d.lat - dLat, d.lon + dLon, d.lat + dLat].map((v) => v.toFixed(6)).join(','),
    category: d.category, status: openStatuses.join(','), limit: '10' });
  d.checking = true; draw();
  try {
    const page = await api(`/api/v1/cases?${q}`, { signal: dupeCtrl.signal });
    d.dupes = page.items;
  } catch (err) {
    if (err.name === 'AbortError') return;
    d.dupes = [];
  }
  d.checking = false;
  draw();
}

async function submitDraft(e) {
  e.preventDefault();
  const d = state.draft;
  const fd = new FormData(e.target);
  const input = { lon: d.lon, lat: d.lat, category: fd.get('category'), source: fd.get('source'), description: fd.get('description').toString().trim() };
  const name = fd.get('reporter_name')?.toString().trim(), phone = fd.get('reporter_phone')?.toString().trim();
  if (name) input.reporter_name = name;
  if (phone) input.reporter_phone = phone;
  const photos = fd.getAll('photo').filter((f) => f && f.size);
  let body = input;
  if (photos.length) {
    body = new FormData();
    body.append('case', JSON.stringify(input));
    for (const p of photos) body.append('photo', p, p.name);
  }
  d.busy = true; d.error = ''; draw();
  try {
    const k = await api('/api/v1/cases', { method: 'POST', body, headers: { 'Idempotency-Key': d.key } });
    toast(t('filed', { code: k.code }), 'ok');
    endDraft();
    state.kase = k;
    loadQueue(); reloadCases();
    await openCase(k.code);
  } catch (err) {
    d.busy = false; d.error = errorText(err); draw();
  }
}

function newCaseView() {
  const d = state.draft;
  if (!d) return nothing;
  const groups = new Map();
  for (const c of state.cats) {
    const g = c.code.slice(0, 1) === 'C' ? 'C' : 'E';
    if (!groups.has(g)) groups.set(g, []);
    groups.get(g).push(c);
  }
  return html`<section class="new-case" id="new-case">
    <div class="panel-head"><h2>${t('newCase')}</h2>${closeButton()}</div>
    <form id="new-case-form" @submit=${submitDraft}>
      <p class="muted">${t('point')}: ${num(d.lon, { maximumFractionDigits: 5 })}, ${num(d.lat, { maximumFractionDigits: 5 })}</p>
      <label>${t('category')} *<select name="category" id="draft-category" required @change=${(e) => { d.category = e.target.value; checkDupes(); }}>
        <option value="">—</option>
        ${[...groups].map(([g, cs]) => html`<optgroup label=${g === 'C' ? (getLang() === 'en' ? 'Components' : '部件') : (getLang() === 'en' ? 'Events' : '事件')}>
          ${cs.map((c) => html`<option value=${c.code} ?selected=${d.category === c.code}>${c.code} ${catName(c)}</option>`)}</optgroup>`)}
      </select></label>
      <label>${t('source')}<select name="source" id="draft-source" @change=${(e) => { d.source = e.target.value; }}>
        ${['hotline', 'inspector', 'citizen', 'secret_inspection', 'supervisor', 'patrol'].map((s) => html`<option value=${s} ?selected=${d.source === s}>${t(`sources.${s}`)}</option>`)}
      </select></label>
      <label>${t('description')} *<textarea name="description" id="draft-description" rows="3" required placeholder=${t('descHint')} .value=${d.description} @input=${(e) => { d.description = e.target.value; }}></textarea></label>
      <div class="two"><label>${t('reporterName')}<input name="reporter_name" autocomplete="off"></label><label>${t('reporterPhone')}<input name="reporter_phone" type="tel" autocomplete="off"></label></div>
      <label>${t('photos')}<input type="file" name="photo" accept="image/*" multiple></label>
      <div class="dupes" id="draft-dupes">
        ${d.checking ? html`<p class="muted">${t('checking')}</p>` : d.dupes == null ? nothing : d.dupes.length ? html`<b>${t('dupes')}</b>
          ${d.dupes.map((k) => html`<div class="dupe"><a href="#" @click=${(e) => { e.preventDefault(); openCase(k.code, { fly: true }); }}>${k.code}</a> ${badge(k.status)} ${relative(k.reported_at)}<br><span class="muted">${k.description}</span></div>`)}` : html`<p class="muted">${t('dupesNone')}</p>`}
      </div>
      ${d.error ? html`<p class="error" role="alert">${d.error}</p>` : nothing}
      <div class="buttons"><button class="primary" type="submit" id="draft-submit" ?disabled=${d.busy}>${t('submit')}</button>
        <button type="button" @click=${() => { endDraft(); back(); }}>${t('cancel')}</button></div>
    </form>
  </section>`;
}

// ---------------------------------------------------------------- search
let searchTimer, searchCtrl;
function onSearchInput(e) {
  state.search.q = e.target.value;
  clearTimeout(searchTimer);
  if (!state.search.q.trim()) { state.search.results = null; drawHeader(); return; }
  searchTimer = setTimeout(runSearch, 250);
}
async function runSearch() {
  const q = state.search.q.trim();
  if (!q) return;
  searchCtrl?.abort();
  searchCtrl = new AbortController();
  state.search.busy = true; drawHeader();
  try {
    const r = await api(`/api/v1/search?q=${encodeURIComponent(q)}&limit=8`, { signal: searchCtrl.signal });
    state.search.results = r.results; state.search.open = true; state.search.idx = r.results.length ? 0 : -1;
  } catch (err) {
    if (err.name === 'AbortError') return;
    state.search.results = []; toast(errorText(err), 'error');
  }
  state.search.busy = false; drawHeader();
}
function goTo(r) {
  if (!map) return; // the map is still loading
  state.search.open = false;
  drawHeader();
  if (r.kind === 'case') { openCase(r.code, { fly: true }); return; }
  if (r.bbox && (r.bbox[2] - r.bbox[0] > 0.0005 || r.bbox[3] - r.bbox[1] > 0.0005)) {
    map.fitBounds([[r.bbox[0], r.bbox[1]], [r.bbox[2], r.bbox[3]]], { padding: 60, maxZoom: 17, duration: 800 });
  } else if (r.point) {
    map.flyTo({ center: r.point, zoom: 17, duration: 800 });
  }
  if (r.kind === 'grid') { highlight(r.code, []); setHash('grid', r.code); } else if (r.kind === 'object') highlight('', [r.id]);
}
const resultLabel = (r) => {
  const sub = r.kind === 'region' ? t(`levels.${r.level}`) : r.kind === 'object' ? (r.layer === 'street' ? t('legendItems.street') : r.layer === 'alley' ? t('legendItems.alley') : r.layer) : t(`kinds.${r.kind}`);
  return html`<b>${r.name || r.code}</b> <span class="muted">${sub}${r.subdistrict ? ` · ${r.subdistrict.name}` : r.district ? ` · ${r.district.name}` : ''}</span>`;
};
function onSearchKey(e) {
  const s = state.search;
  if (e.key === 'ArrowDown' && s.results?.length) { s.idx = (s.idx + 1) % s.results.length; e.preventDefault(); drawHeader(); }
  else if (e.key === 'ArrowUp' && s.results?.length) { s.idx = (s.idx - 1 + s.results.length) % s.results.length; e.preventDefault(); drawHeader(); }
  else if (e.key === 'Enter') {
    e.preventDefault();
    if (s.results?.length && s.open) goTo(s.results[Math.max(0, s.idx)]);
    else { clearTimeout(searchTimer); runSearch().then(() => { if (state.search.results?.length) goTo(state.search.results[0]); }); }
  } else if (e.key === 'Escape') { s.open = false; e.target.blur(); drawHeader(); }
}

// ---------------------------------------------------------------- drawing
const closeButton = () => html`<button class="close" aria-label=${t('close')} title="Esc" @click=${back}>×</button>`;
function back() {
  if (state.view === 'new') endDraft();
  state.view = canQueue() ? 'queue' : 'owners';
  state.actionForm = '';
  highlight('', []);
  setHash('case', '');
  if (state.kase) { state.kase = null; paintWarnings(); }
  draw();
}

function menuItems() {
  const r = state.me.role;
  const items = [];
  if (canQueue()) items.push(['desk', () => { state.view = 'queue'; draw(); }]);
  items.push(['owners', () => { state.view = 'owners'; state.locate = null; draw(); }]);
  if (['inspector', 'admin', 'dispatcher'].includes(r)) items.push(['phone', () => { location.href = '/m/'; }]);
  items.push(['help', () => { state.help = true; draw(); }]);
  return items;
}

function drawHeader() {
  const top = $('#top');
  if (!top) return;
  const s = state.search;
  const current = state.view === 'owners' || state.view === 'locate' ? 'owners' : 'desk';
  render(html`
    <div class="brand"><b>${t('app')}</b> <span>${t('appSub')}</span></div>
    <nav class="menu" aria-label="menu">${menuItems().map(([k, f]) => html`<button class="nav ${current === k ? 'active' : ''}" data-menu=${k} @click=${f}>${t(`menu.${k}`)}</button>`)}</nav>
    <div class="search" role="search">
      <input id="search" type="search" autocomplete="off" placeholder=${t('search')} aria-label=${t('search')} .value=${s.q}
        @input=${onSearchInput} @keydown=${onSearchKey} @focus=${() => { if (s.results) { s.open = true; drawHeader(); } }}>
      ${s.open && s.results ? html`<ul class="results" id="search-results" role="listbox">
        ${s.results.length ? s.results.map((r, i) => html`<li role="option" class=${i === s.idx ? 'sel' : ''} @mousedown=${(e) => { e.preventDefault(); goTo(r); }}>${resultLabel(r)}</li>`)
          : html`<li class="muted">${t('searchNone', { q: s.q })}</li>`}</ul>` : nothing}
    </div>
    ${canReport() ? html`<button class="primary" id="new-case-button" title="N" @click=${() => { state.picking = true; draw(); }}>${t('newCase')}</button>` : nothing}
    <span class="live-dot ${state.live ? 'on' : ''}" title=${state.live ? t('live') : t('offline')}></span>
    <span class="who" id="who">${state.me.user} · ${t(`roles.${state.me.role}`)}${state.me.unit ? ` ${state.me.unit}` : ''}</span>
    ${langButton(rerender)}
    <button id="sign-out" @click=${() => { sessionStorage.clear(); location.href = '/'; }}>${t('signOut')}</button>`, top);
}

function drawSide() {
  const side = $('#side');
  if (!side) return;
  let body;
  if (state.view === 'case') body = caseView();
  else if (state.view === 'new') body = newCaseView();
  else if (state.view === 'locate') body = locateView();
  else if (state.view === 'owners') body = html`<section><h2>${t('menu.owners')}</h2><p class="hint">${t('clickHint')}</p></section>`;
  else body = queueView();
  render(body, side);
}

function drawOverlay() {
  const o = $('#overlay');
  if (!o) return;
  render(html`
    ${state.picking ? html`<div class="banner" id="pick-banner">${t('pickPoint')}</div>` : nothing}
    ${state.help ? html`<div class="modal" role="dialog" aria-modal="true" aria-labelledby="help-title" @click=${(e) => { if (e.target === e.currentTarget) { state.help = false; draw(); } }}>
      <div class="dialog"><div class="panel-head"><h2 id="help-title">${t('help')}</h2><button class="close" @click=${() => { state.help = false; draw(); }}>×</button></div>
      <table class="keys">${t('shortcuts').map(([k, d]) => html`<tr><td><kbd>${k}</kbd></td><td>${d}</td></tr>`)}</table></div></div>` : nothing}`, o);
  document.body.classList.toggle('picking', state.picking);
}

function draw() { drawHeader(); drawSide(); drawOverlay(); }

function drawControls() {
  const el = document.getElementById('map-panel');
  if (!el) return;
  const sw = (c, extra = '') => html`<i class="sw ${extra}" style="--c:${c}"></i>`;
  const L = (k) => t(`legendItems.${k}`);
  render(html`<details open class="layers" id="layer-switcher"><summary>${t('layers')} · ${t('legend')}</summary>
    ${Object.keys(layerGroups).map((g) => html`<label class="check"><input type="checkbox" data-layer=${g} .checked=${state.layers[g]} @change=${(e) => setLayer(g, e.target.checked)}>${t(`layerNames.${g}`)}</label>`)}
    <div class="legend">
      <div>${sw('#7b2d8b', 'line')}${L('district')}</div><div>${sw('#2f855a', 'line')}${L('subdistrict')}</div><div>${sw('#b7791f', 'dash')}${L('community')}</div>
      <div>${sw('#5f8f5a', 'box')}${L('grid')}</div><div>${sw('#e6a23c', 'road')}${L('street')}</div><div>${sw('#bbb', 'thin')}${L('alley')}</div>
      <div>${sw('#eadfd3', 'box')}${L('compound')}</div><div>${sw('#f6e3b4', 'box')}${L('school')}</div><div>${sw('#1d4ed8', 'dot')}${L('station')}</div>
      <hr>${[...openStatuses, 'closed'].map((s) => html`<div>${sw(statusColors[s], 'dot')}${statusName(s)}</div>`)}
      <div>${sw(warningColor, 'ring')}${L('warning')}</div><div>${sw(overdueColor, 'ring')}${L('overdue')}</div><div>${sw('#7c3aed', 'big')}${L('cluster')}</div>
    </div></details>`, el);
}

// ---------------------------------------------------------------- keyboard
function onKey(e) {
  const typing = /^(INPUT|TEXTAREA|SELECT)$/.test(e.target.tagName);
  if (e.key === 'Escape') {
    if (state.help) { state.help = false; draw(); return; }
    if (state.picking) { state.picking = false; draw(); return; }
    if (typing) { e.target.blur(); return; }
    if (state.view !== 'queue') back();
    return;
  }
  if (typing || e.ctrlKey || e.metaKey || e.altKey) return;
  const k = e.key;
  if (k === '?') { state.help = !state.help; draw(); }
  else if (k === '/') { e.preventDefault(); $('#search')?.focus(); }
  else if ((k === 'n' || k === 'N') && canReport() && map) { const c = map.getCenter(); newCaseAt(c.lng, c.lat); }
  else if ((k === 'q' || k === 'Q') && canQueue()) { state.view = 'queue'; draw(); }
  else if (k === 'r' || k === 'R') { loadQueue(); reloadCases(); }
  else if (k === 'l' || k === 'L') { setLang(getLang() === 'en' ? 'zh-CN' : 'en'); }
  else if ((k === 'j' || k === 'k') && state.queue.items.length) {
    state.view = 'queue';
    state.sel = Math.max(0, Math.min(state.queue.items.length - 1, state.sel + (k === 'j' ? 1 : -1)));
    draw();
    document.querySelector('#queue-list li.sel')?.scrollIntoView({ block: 'nearest' });
  } else if (k === 'Enter' && state.view === 'queue' && state.sel >= 0) openCase(state.queue.items[state.sel].code, { fly: true });
  else if ((k === 'd' || k === 'D') && state.view === 'case' && state.kase?.actions?.includes('dispatch')) { state.actionForm = 'dispatch'; draw(); }
  else if (/^[1-9]$/.test(k) && state.view === 'case') {
    const a = state.kase?.actions?.[Number(k) - 1];
    if (a) { state.actionForm = a; state.actionError = ''; draw(); }
  }
}

start().catch((err) => { render(html`<p class="error">${errorText(err)}</p>`, $('#app')); });
