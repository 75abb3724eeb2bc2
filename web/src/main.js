import * as maplibregl from 'maplibre-gl';
import 'maplibre-gl/dist/maplibre-gl.css';
import './style.css';

// The token lives in sessionStorage: it is gone when the tab closes.
const tokenKey = 'citygrid.token';
const $ = (id) => document.getElementById(id);

async function api(path) {
  const res = await fetch(path, { headers: { Authorization: `Bearer ${sessionStorage.getItem(tokenKey) || ''}` } });
  if (res.status === 401) { showLogin(); throw new Error('unauthorized'); }
  if (!res.ok) throw new Error((await res.json()).error?.message || res.statusText);
  return res.json();
}

const map = new maplibregl.Map({
  container: 'map',
  center: [116.31, 39.99],
  zoom: 11,
  style: {
    version: 8,
    sources: {
      osm: {
        type: 'raster', tileSize: 256,
        tiles: ['https://tile.openstreetmap.org/{z}/{x}/{y}.png'],
        attribution: '© OpenStreetMap contributors',
      },
    },
    layers: [
      { id: 'background', type: 'background', paint: { 'background-color': '#eef0f3' } },
      { id: 'osm', type: 'raster', source: 'osm', paint: { 'raster-opacity': 0.6 } },
    ],
  },
});
map.addControl(new maplibregl.NavigationControl(), 'top-left');
map.addControl(new maplibregl.ScaleControl({ unit: 'metric' }));

function showLogin() {
  $('login').hidden = false;
  $('logout').hidden = true;
}

async function loadRegions() {
  const levels = { district: '区', subdistrict: '街道', community: '社区' };
  const list = await api('/api/v1/regions?geometry=true&limit=1000');
  const fc = {
    type: 'FeatureCollection',
    features: list.items.map((r) => ({ type: 'Feature', id: r.code, geometry: r.geometry, properties: { code: r.code, name: r.name, level: r.level } })),
  };
  if (map.getSource('regions')) {
    map.getSource('regions').setData(fc);
  } else {
    map.addSource('regions', { type: 'geojson', data: fc });
    map.addLayer({ id: 'regions-fill', type: 'fill', source: 'regions', paint: { 'fill-color': ['match', ['get', 'level'], 'district', '#2b6cb0', 'subdistrict', '#38a169', '#d69e2e'], 'fill-opacity': 0.08 } });
    map.addLayer({ id: 'regions-line', type: 'line', source: 'regions', paint: { 'line-color': ['match', ['get', 'level'], 'district', '#12355b', 'subdistrict', '#276749', '#975a16'], 'line-width': ['match', ['get', 'level'], 'district', 2.5, 1] } });
  }
  $('summary').textContent = `共 ${list.total} 个区划 · ${list.total} regions`;
  const ul = $('regions');
  ul.replaceChildren(...list.items.map((r) => {
    const li = document.createElement('li');
    li.textContent = `${r.name}（${levels[r.level] || r.level}）${r.code}`;
    li.addEventListener('click', () => map.fitBounds([[r.bbox[0], r.bbox[1]], [r.bbox[2], r.bbox[3]]], { padding: 30 }));
    return li;
  }));
  if (list.items.length) {
    const b = list.items.reduce((acc, r) => [Math.min(acc[0], r.bbox[0]), Math.min(acc[1], r.bbox[1]), Math.max(acc[2], r.bbox[2]), Math.max(acc[3], r.bbox[3])], [180, 90, -180, -90]);
    map.fitBounds([[b[0], b[1]], [b[2], b[3]]], { padding: 30, animate: false });
  }
}

async function start() {
  try {
    const h = await (await fetch('/healthz')).json();
    $('status').textContent = `服务正常 Service up ${h.version || ''}`;
  } catch {
    $('status').textContent = '服务不可用 Service unavailable';
  }
  if (!sessionStorage.getItem(tokenKey)) { showLogin(); return; }
  $('login').hidden = true;
  $('logout').hidden = false;
  map.loaded() ? await loadRegions() : map.once('load', loadRegions);
}

$('login').addEventListener('submit', (e) => {
  e.preventDefault();
  sessionStorage.setItem(tokenKey, $('token').value.trim());
  start().catch((err) => { $('summary').textContent = `错误 Error: ${err.message}`; });
});
$('logout').addEventListener('click', () => { sessionStorage.removeItem(tokenKey); location.reload(); });
start().catch((err) => { $('summary').textContent = `错误 Error: ${err.message}`; });
