// What the desk and the phone page share: sign-in, the signed-in user,
// toasts and small helpers.
import { html, render } from 'lit-html';
import { api, setToken, getToken, whenUnauthorized, errorText } from './api.js';
import { t, getLang, setLang } from './i18n.js';

// uuid makes an Idempotency-Key; crypto.randomUUID needs a secure context,
// which a desk on a plain-http intranet address is not.
export function uuid() {
  if (crypto.randomUUID) return crypto.randomUUID();
  const b = crypto.getRandomValues(new Uint8Array(16));
  b[6] = (b[6] & 0x0f) | 0x40; b[8] = (b[8] & 0x3f) | 0x80;
  const h = [...b].map((x) => x.toString(16).padStart(2, '0')).join('');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

let toastTimer;
export function toast(msg, kind = 'info') {
  let el = document.getElementById('toast');
  if (!el) {
    el = document.createElement('div');
    el.id = 'toast';
    el.setAttribute('role', 'status');
    el.setAttribute('aria-live', 'polite');
    document.body.append(el);
  }
  el.className = `toast ${kind}`;
  el.textContent = msg;
  el.hidden = false;
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => { el.hidden = true; }, 4000);
}

export const langButton = (rerender) => html`<button type="button" class="lang" id="lang-switch" title=${t('langTitle')}
  @click=${() => { setLang(getLang() === 'en' ? 'zh-CN' : 'en'); rerender(); }}>${t('lang')}</button>`;

// signIn shows the sign-in page until a token answers /me, then resolves
// with the user. message: why the user is here (an expired session).
export function signIn(root, message = '') {
  return new Promise((resolve) => {
    let msg = message;
    let busy = false;
    const draw = () => render(html`<div class="signin">
      <form id="signin-form" @submit=${submit} aria-labelledby="signin-title">
        <div class="signin-head"><h1 id="signin-title">${t('signInTitle')}</h1>${langButton(draw)}</div>
        ${msg ? html`<p class="error" role="alert" id="signin-message">${msg}</p>` : ''}
        <label>${t('token')}<input id="token" name="token" type="password" autocomplete="off" placeholder="cg_…" required></label>
        <p class="hint">${t('tokenHint')}</p>
        <button type="submit" class="primary" ?disabled=${busy}>${t('signIn')}</button>
      </form></div>`, root);
    async function submit(e) {
      e.preventDefault();
      const v = e.target.token.value.trim();
      if (!v) return;
      busy = true; draw();
      setToken(v);
      try {
        const me = await api('/api/v1/me', { quiet401: true });
        render(html``, root);
        resolve(me);
      } catch (err) {
        setToken('');
        msg = err.status === 401 ? t('badToken') : errorText(err);
        busy = false; draw();
      }
    }
    draw();
    root.querySelector('#token')?.focus();
  });
}

// session resolves with the signed-in user: the stored token's if it still
// works, else after sign-in (saying why when the stored one has expired).
export async function session(root) {
  root.replaceChildren(); // the static "loading" line: lit renders beside, not over, what is there
  if (getToken()) {
    try {
      return await api('/api/v1/me', { quiet401: true });
    } catch (err) {
      setToken('');
      return signIn(root, err.status === 401 ? t('sessionExpired') : errorText(err));
    }
  }
  return signIn(root, takeSignInMessage());
}

// onExpired: a 401 in the middle of work drops the token and reloads into
// the sign-in page with the message (kept for one load in sessionStorage).
export function onExpired() {
  whenUnauthorized(() => {
    if (!getToken()) return;
    setToken('');
    sessionStorage.setItem('citygrid.signin-message', 'expired');
    location.reload();
  });
}
export function takeSignInMessage() {
  const m = sessionStorage.getItem('citygrid.signin-message');
  sessionStorage.removeItem('citygrid.signin-message');
  return m ? t('sessionExpired') : '';
}
