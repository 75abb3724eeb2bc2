// The API client: the token travels only in the Authorization header (kept
// in sessionStorage, gone when the tab closes, never in a URL), errors come
// back as ApiError with the server's code and field so that the app can say
// them in the user's language.
import { t } from './i18n.js';

const tokenKey = 'citygrid.token';
export const getToken = () => sessionStorage.getItem(tokenKey) || '';
export const setToken = (v) => (v ? sessionStorage.setItem(tokenKey, v) : sessionStorage.removeItem(tokenKey));

let onUnauthorized = () => {};
// whenUnauthorized sets what a 401 does (the shell sends the user to sign-in).
export const whenUnauthorized = (f) => { onUnauthorized = f; };

export class ApiError extends Error {
  constructor(status, body) {
    const e = body?.error || {};
    super(e.message || `HTTP ${status}`);
    this.status = status;
    this.code = e.code || (status === 0 ? 'network' : 'unknown');
    this.field = e.field || '';
    this.details = e.details || [];
    this.requestId = e.request_id || '';
  }
}

export const authHeaders = (extra = {}) => ({ Authorization: `Bearer ${getToken()}`, ...extra });

// api calls the server. body: an object (sent as JSON) or FormData.
export async function api(path, { method = 'GET', body, headers = {}, signal, raw = false, quiet401 = false } = {}) {
  const h = authHeaders(headers);
  let payload = body;
  if (body && !(body instanceof FormData) && typeof body !== 'string') {
    h['Content-Type'] = 'application/json';
    payload = JSON.stringify(body);
  }
  let res;
  try {
    res = await fetch(path, { method, headers: h, body: payload, signal });
  } catch (err) {
    if (err.name === 'AbortError') throw err;
    throw new ApiError(0, null);
  }
  if (res.status === 401 && !quiet401) onUnauthorized();
  if (!res.ok) {
    let b = null;
    try { b = await res.json(); } catch { /* not JSON: the status says enough */ }
    throw new ApiError(res.status, b);
  }
  if (raw) return res;
  if (res.status === 204) return null;
  return res.json();
}

// errorText turns any error into one sentence in the user's language.
export function errorText(err) {
  if (!(err instanceof ApiError)) return t('errors.unknown', { status: err?.message || '' });
  const field = err.field ? `${t(`fields.${err.field}`)}：` : '';
  const msgs = t('errors');
  if (!(err.code in msgs)) return t('errors.unknown', { status: err.status });
  // The server's own sentence is English; zh-CN users get ours, with the
  // English detail only where it names what to fix (validation).
  const detail = ['invalid', 'bad_request'].includes(err.code) ? err.message.replace(/^[a-z_]+: /, '') : '';
  return t(`errors.${err.code}`, { field, msg: detail, rid: err.requestId, status: err.status });
}

// photoURL fetches a photo with the header and hands back an object URL.
const photoCache = new Map();
export async function photoURL(href) {
  if (!photoCache.has(href)) {
    photoCache.set(href, api(href, { raw: true }).then((r) => r.blob()).then((b) => URL.createObjectURL(b)));
  }
  return photoCache.get(href);
}

// events reads the Server-Sent Events stream with fetch (EventSource cannot
// send the header) and reconnects after a drop; onEvent(type, data).
export function events(onEvent, onState = () => {}) {
  let stopped = false;
  let ctrl;
  async function loop() {
    let delay = 1000;
    while (!stopped) {
      ctrl = new AbortController();
      try {
        const res = await fetch('/api/v1/events', { headers: authHeaders({ Accept: 'text/event-stream' }), signal: ctrl.signal });
        if (res.status === 401) { onUnauthorized(); return; }
        if (!res.ok || !res.body) throw new Error(`HTTP ${res.status}`);
        onState(true);
        delay = 1000;
        const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
        let buf = '';
        for (;;) {
          const { value, done } = await reader.read();
          if (done) break;
          buf += value;
          let i;
          while ((i = buf.search(/\r?\n\r?\n/)) >= 0) {
            const block = buf.slice(0, i);
            buf = buf.slice(i + (buf[i] === '\r' ? 4 : 2));
            let type = 'message', data = '';
            for (const line of block.split(/\r?\n/)) {
              if (line.startsWith('event:')) type = line.slice(6).trim();
              else if (line.startsWith('data:')) data += line.slice(5).trim();
            }
            if (data) {
              try { onEvent(type, JSON.parse(data)); } catch { /* a malformed event is skipped */ }
            }
          }
        }
      } catch (err) {
        if (stopped) return;
      }
      onState(false);
      await new Promise((r) => setTimeout(r, delay));
      delay = Math.min(delay * 2, 15000);
    }
  }
  loop();
  return () => { stopped = true; ctrl?.abort(); };
}

// config reads /api/v1/config (no auth); a server without it gives defaults.
export async function loadConfig() {
  const defaults = { basemap: { url: '', attribution: '' }, version: '', center: [116.3165, 39.984], zoom: 12 };
  try {
    const res = await fetch('/api/v1/config');
    if (!res.ok) return defaults;
    const c = await res.json();
    return { ...defaults, ...c, basemap: { ...defaults.basemap, ...(c.basemap || {}) } };
  } catch {
    return defaults;
  }
}

let categoriesPromise;
// categories lists the leaf categories (those a case can be filed under).
export function categories() {
  categoriesPromise ??= api('/api/v1/categories').then((r) => r.items.filter((c) => c.parent)).catch((e) => { categoriesPromise = null; throw e; });
  return categoriesPromise;
}

let themesPromise;
// themes lists the duties with their Chinese and English names.
export function themes() {
  themesPromise ??= api('/api/v1/themes').then((r) => r.items).catch((e) => { themesPromise = null; throw e; });
  return themesPromise;
}
