// The map's style, built in code from citygrid's own vector tiles, so the
// map works on a network without internet. No glyphs URL: MapLibre draws
// every label with the local system font (Noto Sans CJK on the desk
// machines), which keeps the bundle small and Chinese legible offline.
import workerUrl from 'maplibre-gl/dist/maplibre-gl-worker.mjs?url';

// loadMapLibre imports maplibre-gl, apart from the page's own code so that
// a page can draw its panels while the map's megabyte is fetched and
// parsed. MapLibre looks for its worker beside its own module; the bundle
// renames both, so the worker's hashed asset is named here.
export async function loadMapLibre() {
  const ml = await import('maplibre-gl');
  ml.setWorkerUrl(workerUrl);
  return ml;
}

export const statusColors = {
  reported: '#2563eb', registered: '#7c3aed', dispatched: '#0891b2', handling: '#0d9488', handled: '#65a30d',
  verified: '#15803d', closed: '#6b7280', cancelled: '#9ca3af', merged: '#a8a29e', suspended: '#92400e',
};
export const overdueColor = '#dc2626';
export const warningColor = '#f59e0b';
export const fontStack = ['Noto Sans CJK SC', 'Noto Sans SC', 'PingFang SC', 'Microsoft YaHei', 'sans-serif'];
export const localFonts = "'Noto Sans CJK SC', 'Noto Sans SC', 'PingFang SC', 'Microsoft YaHei', sans-serif";

const openPoint = ['all', ['!', ['has', 'count']], ['!', ['in', ['get', 'status'], ['literal', ['closed', 'cancelled', 'merged']]]]];
const statusMatch = ['match', ['get', 'status'], ...Object.entries(statusColors).flat(), '#2563eb'];

// The tile layers, zooms as grids/features/tiles.go serves them.
const tileLayers = { regions: [6, 16], grids: [13, 18], streets: [11, 18], objects: [14, 18], cases: [8, 18] };

// layerGroups name the style layers the layer switcher turns on and off.
export const layerGroups = {
  regions: ['regions-fill', 'community-line', 'subdistrict-line', 'district-line', 'region-label'],
  grids: ['grids-fill', 'grids-line', 'grids-label'],
  streets: ['alley-line', 'street-casing', 'street-line', 'street-label'],
  objects: ['objects-fill', 'objects-outline', 'objects-point', 'objects-label'],
  cases: ['cases-cluster', 'cases-cluster-count', 'cases-point', 'cases-point-code'],
};

export function buildStyle(origin, basemap, version = 0) {
  const sources = {};
  for (const [id, [minzoom, maxzoom]] of Object.entries(tileLayers)) {
    sources[id] = {
      type: 'vector', minzoom, maxzoom,
      tiles: [`${origin}/tiles/${id}/{z}/{x}/{y}.mvt${id === 'cases' ? `?status=open&v=${version}` : ''}`],
      attribution: id === 'streets' ? '© OpenStreetMap contributors' : undefined,
      promoteId: id === 'cases' ? { cases: 'code' } : id === 'grids' ? { grids: 'code' } : undefined,
    };
  }
  // Grid labels come from points the page derives from the loaded grid
  // tiles (attachGridLabels): a grid clipped into several tiles would
  // otherwise be labelled once per piece.
  sources['grid-labels'] = { type: 'geojson', data: { type: 'FeatureCollection', features: [] } };
  const layers = [{ id: 'background', type: 'background', paint: { 'background-color': '#f3f1ec' } }];
  if (basemap?.url) {
    // A raster template ({z}/{x}/{y}) as the base; a style URL's sources
    // would need their own glyphs, so only rasters are taken.
    sources.basemap = { type: 'raster', tiles: [basemap.url], tileSize: 256, attribution: basemap.attribution || '' };
    layers.push({ id: 'basemap', type: 'raster', source: 'basemap', paint: { 'raster-opacity': 0.85 } });
  }
  const level = (l) => ['==', ['get', 'level'], l];
  const text = (size) => ({ 'text-font': fontStack, 'text-size': size });
  const halo = { 'text-halo-color': 'rgba(255,255,255,0.9)', 'text-halo-width': 1.4 };
  layers.push(
    { id: 'regions-fill', type: 'fill', source: 'regions', 'source-layer': 'regions', filter: level('district'),
      paint: { 'fill-color': '#ffffff', 'fill-opacity': basemap?.url ? 0 : 0.55 } },
    { id: 'grids-fill', type: 'fill', source: 'grids', 'source-layer': 'grids',
      paint: { 'fill-color': ['case', ['boolean', ['feature-state', 'selected'], false], '#fde68a', '#e8efe6'], 'fill-opacity': ['case', ['boolean', ['feature-state', 'selected'], false], 0.75, 0.5] } },
    { id: 'objects-fill', type: 'fill', source: 'objects', 'source-layer': 'objects', filter: ['==', ['geometry-type'], 'Polygon'],
      paint: { 'fill-color': ['match', ['get', 'layer'], 'compound', '#eadfd3', 'school', '#f6e3b4', 'market', '#f9d1c4', 'park', '#c8e6c0', 'toilet', '#d7e3f0', '#e3e0f0'], 'fill-opacity': 0.8 } },
    { id: 'objects-outline', type: 'line', source: 'objects', 'source-layer': 'objects', filter: ['==', ['geometry-type'], 'Polygon'],
      paint: { 'line-color': '#b9a58f', 'line-width': 0.6 } },
    { id: 'grids-line', type: 'line', source: 'grids', 'source-layer': 'grids',
      paint: { 'line-color': '#5f8f5a', 'line-width': ['interpolate', ['linear'], ['zoom'], 13, 0.4, 17, 1.2], 'line-dasharray': [3, 2] } },
    { id: 'alley-line', type: 'line', source: 'streets', 'source-layer': 'streets', filter: ['==', ['get', 'layer'], 'alley'],
      layout: { 'line-cap': 'round', 'line-join': 'round' },
      paint: { 'line-color': '#ffffff', 'line-width': ['interpolate', ['linear'], ['zoom'], 14, 1, 18, 6] } },
    { id: 'street-casing', type: 'line', source: 'streets', 'source-layer': 'streets', filter: ['==', ['get', 'layer'], 'street'],
      layout: { 'line-cap': 'round', 'line-join': 'round' },
      paint: { 'line-color': '#d49b4a', 'line-width': ['interpolate', ['linear'], ['zoom'], 11, 1.2, 14, 4, 18, 16] } },
    { id: 'street-line', type: 'line', source: 'streets', 'source-layer': 'streets', filter: ['==', ['get', 'layer'], 'street'],
      layout: { 'line-cap': 'round', 'line-join': 'round' },
      paint: { 'line-color': '#ffd68a', 'line-width': ['interpolate', ['linear'], ['zoom'], 11, 0.6, 14, 2.6, 18, 13] } },
    { id: 'community-line', type: 'line', source: 'regions', 'source-layer': 'regions', filter: level('community'),
      paint: { 'line-color': '#b7791f', 'line-width': 1, 'line-dasharray': [4, 2] } },
    { id: 'subdistrict-line', type: 'line', source: 'regions', 'source-layer': 'regions', filter: level('subdistrict'),
      paint: { 'line-color': '#2f855a', 'line-width': ['interpolate', ['linear'], ['zoom'], 10, 1, 15, 2.2] } },
    { id: 'district-line', type: 'line', source: 'regions', 'source-layer': 'regions', filter: level('district'),
      paint: { 'line-color': '#7b2d8b', 'line-width': ['interpolate', ['linear'], ['zoom'], 8, 1.5, 14, 3.5], 'line-opacity': 0.8 } },
    { id: 'highlight-grid', type: 'line', source: 'grids', 'source-layer': 'grids', filter: ['==', ['get', 'code'], ''],
      paint: { 'line-color': '#d97706', 'line-width': 3.5 } },
    { id: 'highlight-objects', type: 'line', source: 'streets', 'source-layer': 'streets', filter: ['in', ['id'], ['literal', []]],
      paint: { 'line-color': '#e11d48', 'line-width': 5, 'line-opacity': 0.7 } },
    { id: 'highlight-places', type: 'circle', source: 'objects', 'source-layer': 'objects', filter: ['in', ['id'], ['literal', []]],
      paint: { 'circle-radius': 9, 'circle-color': 'rgba(0,0,0,0)', 'circle-stroke-color': '#e11d48', 'circle-stroke-width': 3 } },
    { id: 'objects-point', type: 'circle', source: 'objects', 'source-layer': 'objects', filter: ['==', ['geometry-type'], 'Point'], minzoom: 15,
      paint: { 'circle-radius': ['match', ['get', 'layer'], ['station', 'school', 'market'], 4.5, 2.5],
        'circle-color': ['match', ['get', 'layer'], 'station', '#1d4ed8', 'school', '#b45309', 'market', '#be123c', 'toilet', '#0e7490', 'component', '#64748b', '#7c3aed'],
        'circle-stroke-color': '#fff', 'circle-stroke-width': 1 } },
    { id: 'street-label', type: 'symbol', source: 'streets', 'source-layer': 'streets', minzoom: 13,
      layout: { ...text(['interpolate', ['linear'], ['zoom'], 13, 11, 17, 14]), 'symbol-placement': 'line', 'text-field': ['get', 'name'], 'text-max-angle': 30 },
      paint: { 'text-color': '#5b4321', ...halo } },
    { id: 'grids-label', type: 'symbol', source: 'grid-labels', minzoom: 15,
      // A grid is about 100 m across: its own number (the code's last
      // three digits) until the whole code fits.
      layout: { ...text(['interpolate', ['linear'], ['zoom'], 15, 10, 18, 13]), 'text-field': ['step', ['zoom'], ['slice', ['get', 'code'], 12], 17, ['get', 'code']], 'text-allow-overlap': false, 'text-padding': 1 },
      paint: { 'text-color': '#2f5d2b', ...halo } },
    { id: 'objects-label', type: 'symbol', source: 'objects', 'source-layer': 'objects', minzoom: 16,
      filter: ['match', ['get', 'layer'], ['station', 'school', 'market', 'compound', 'park'], true, false],
      layout: { ...text(11), 'text-field': ['get', 'name'], 'text-offset': [0, 1], 'text-anchor': 'top', 'text-optional': true },
      paint: { 'text-color': '#44403c', ...halo } },
    { id: 'region-label', type: 'symbol', source: 'regions', 'source-layer': 'regions',
      filter: ['any', ['all', level('district'), ['<', ['zoom'], 12]], ['all', level('subdistrict'), ['>=', ['zoom'], 10], ['<', ['zoom'], 14]], ['all', level('community'), ['>=', ['zoom'], 13.5], ['<', ['zoom'], 15.5]]],
      layout: { ...text(['match', ['get', 'level'], 'district', 18, 'subdistrict', 14, 12]), 'text-field': ['get', 'name'], 'symbol-placement': 'point', 'text-padding': 8 },
      paint: { 'text-color': ['match', ['get', 'level'], 'district', '#5b216a', 'subdistrict', '#22543d', '#8a5a14'], ...halo } },
    { id: 'cases-cluster', type: 'circle', source: 'cases', 'source-layer': 'cases', maxzoom: 15, filter: ['has', 'count'],
      paint: { 'circle-color': statusMatch, 'circle-opacity': 0.85,
        'circle-radius': ['interpolate', ['linear'], ['get', 'count'], 1, 9, 10, 13, 100, 20, 1000, 28],
        'circle-stroke-color': ['case', ['>', ['to-number', ['get', 'overdue'], 0], 0], overdueColor, '#ffffff'],
        'circle-stroke-width': ['case', ['>', ['to-number', ['get', 'overdue'], 0], 0], 3, 1.5] } },
    { id: 'cases-cluster-count', type: 'symbol', source: 'cases', 'source-layer': 'cases', maxzoom: 15, filter: ['has', 'count'],
      layout: { ...text(12), 'text-field': ['to-string', ['get', 'count']], 'text-allow-overlap': true },
      paint: { 'text-color': '#ffffff' } },
    // Points of open cases only: closed ones are history, not work.
    { id: 'cases-point', type: 'circle', source: 'cases', 'source-layer': 'cases', minzoom: 15, filter: openPoint,
      paint: { 'circle-color': statusMatch,
        'circle-radius': ['case', ['boolean', ['feature-state', 'selected'], false], 10, 7],
        'circle-stroke-color': ['case', ['==', ['get', 'overdue'], true], overdueColor,
          ['any', ['==', ['get', 'warning'], true], ['boolean', ['feature-state', 'warning'], false]], warningColor, '#ffffff'],
        'circle-stroke-width': ['case', ['any', ['==', ['get', 'overdue'], true], ['==', ['get', 'warning'], true], ['boolean', ['feature-state', 'warning'], false]], 3.5, 1.5] } },
    { id: 'cases-point-code', type: 'symbol', source: 'cases', 'source-layer': 'cases', minzoom: 17, filter: openPoint,
      layout: { ...text(10), 'text-field': ['slice', ['get', 'code'], 7], 'text-offset': [0, 1.3], 'text-anchor': 'top', 'text-optional': true },
      paint: { 'text-color': '#1f2937', ...halo } },
  );
  // Round-tripped through JSON to drop the undefined options.
  return JSON.parse(JSON.stringify({ version: 8, name: 'citygrid', sources, layers }));
}

// attachGridLabels keeps the grid-labels source at one point per grid in
// view: the middle of the bounding box of all its tile pieces.
export function attachGridLabels(map) {
  let timer, last = '';
  const update = () => {
    const src = map.getSource('grid-labels');
    if (!src || map.getZoom() < 14.9) return;
    const boxes = new Map();
    for (const f of map.querySourceFeatures('grids', { sourceLayer: 'grids' })) {
      const code = f.properties.code;
      const polys = f.geometry.type === 'Polygon' ? [f.geometry.coordinates] : f.geometry.coordinates;
      const b = boxes.get(code) || [180, 90, -180, -90];
      for (const p of polys) for (const [x, y] of p[0]) { b[0] = Math.min(b[0], x); b[1] = Math.min(b[1], y); b[2] = Math.max(b[2], x); b[3] = Math.max(b[3], y); }
      boxes.set(code, b);
    }
    const features = [...boxes].map(([code, b]) => ({ type: 'Feature', properties: { code }, geometry: { type: 'Point', coordinates: [(b[0] + b[2]) / 2, (b[1] + b[3]) / 2] } }));
    const key = features.map((f) => f.properties.code + f.geometry.coordinates.join()).join('|');
    if (key === last) return;
    last = key;
    src.setData({ type: 'FeatureCollection', features });
  };
  const soon = () => { clearTimeout(timer); timer = setTimeout(update, 120); };
  map.on('moveend', soon);
  map.on('sourcedata', (e) => { if (e.sourceId === 'grids' && e.isSourceLoaded) soon(); });
}
