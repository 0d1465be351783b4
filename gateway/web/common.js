// Shared helpers of the chatdesk consoles (agent.js, chat.js, lead.js): DOM building without
// innerHTML, code-point text helpers, time formatting, a server clock estimate, a WebSocket that
// reconnects with backoff, and the token sign-in of agents and leads. Plain ES module, no
// dependencies.

// Creates an element. `attrs`: class, text (textContent), dataset, on<event> handlers, and any
// other attribute. Children may be nodes or strings (added as text nodes, never parsed as HTML).
export function el(tag, attrs = null, ...children) {
  const node = document.createElement(tag);
  if (attrs) {
    for (const [key, value] of Object.entries(attrs)) {
      if (value === undefined || value === null || value === false) continue;
      if (key === 'class') node.className = value;
      else if (key === 'text') node.textContent = value;
      else if (key === 'dataset') Object.assign(node.dataset, value);
      else if (key.startsWith('on') && typeof value === 'function') node.addEventListener(key.slice(2), value);
      else node.setAttribute(key, value === true ? '' : String(value));
    }
  }
  for (const child of children.flat()) {
    if (child === undefined || child === null || child === false) continue;
    node.append(child instanceof Node ? child : String(child));
  }
  return node;
}

// Text lengths are counted in Unicode code points (docs/protocol.md), not UTF-16 units.
export function codePoints(text) {
  let n = 0;
  for (const _ of text) n++;  // the string iterator walks code points
  return n;
}

export function truncateCodePoints(text, max) {
  const points = Array.from(text);
  return points.length <= max ? text : points.slice(0, Math.max(0, max - 1)).join('') + '…';
}

// One line of a possibly multi-line text, for previews.
export function oneLine(text) {
  return text.replace(/\s+/g, ' ').trim();
}

const clockFormat = new Intl.DateTimeFormat(undefined, { hour: '2-digit', minute: '2-digit', hour12: false });
export function formatClock(ts) {
  return typeof ts === 'number' ? clockFormat.format(new Date(ts)) : '';
}

// 9s, 59s, 1m05s, 12m00s
export function formatDuration(ms) {
  const total = Math.max(0, Math.floor(ms / 1000));
  if (total < 60) return `${total}s`;
  const minutes = Math.floor(total / 60);
  return `${minutes}m${String(total % 60).padStart(2, '0')}s`;
}

// A client-chosen id: [A-Za-z0-9_.:-], at most 64 characters.
export function newId(prefix = 'm') {
  const bytes = new Uint8Array(9);
  crypto.getRandomValues(bytes);
  return `${prefix}-${Date.now().toString(36)}-${Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('')}`;
}

export function wsUrl(path, params) {
  const url = new URL(path, location.href);
  url.protocol = location.protocol === 'https:' ? 'wss:' : 'ws:';
  for (const [key, value] of Object.entries(params)) {
    if (value !== undefined && value !== null && value !== '') url.searchParams.set(key, value);
  }
  return url.toString();
}

// Token sign-in (auth.mode: token; docs/security.md, "Authentication"). A console opened from a
// link with ?token= keeps the token in sessionStorage (this tab only, gone when it closes) and
// takes it out of the address bar, so it is not bookmarked, shared in a screenshot or kept in the
// history. Returns the token of this tab ('' when there is none).
export function takeToken(storageKey) {
  const url = new URL(location.href);
  const fromUrl = url.searchParams.get('token');
  if (fromUrl) {
    try { sessionStorage.setItem(storageKey, fromUrl); } catch { /* storage off: this load only */ }
    url.searchParams.delete('token');
    history.replaceState(history.state, '', url);
    return fromUrl;
  }
  try { return sessionStorage.getItem(storageKey) || ''; } catch { return ''; }
}

export function forgetToken(storageKey) {
  try { sessionStorage.removeItem(storageKey); } catch { /* nothing stored */ }
}

// The claims of a token ({ sub, shop, role, exp }), read to pre-fill the page: not verified (the
// gateway does that). null when it is not a v1 token.
export function tokenClaims(token) {
  const parts = typeof token === 'string' ? token.split('.') : [];
  if (parts.length !== 3 || parts[0] !== 'v1') return null;
  try {
    const b64 = parts[1].replace(/-/g, '+').replace(/_/g, '/');
    const bytes = Uint8Array.from(atob(b64 + '='.repeat((4 - (b64.length % 4)) % 4)), (c) => c.charCodeAt(0));
    const claims = JSON.parse(new TextDecoder().decode(bytes));
    return claims && typeof claims === 'object' ? claims : null;
  } catch {
    return null;
  }
}

export const SIGNED_OUT_MESSAGE = 'Not signed in or token expired — ask your lead for a new link.';

// A browser cannot read the status of a refused WebSocket upgrade, so after a connection failed
// the consoles ask GET /auth/check whether the gateway refuses this token (401/403). Returns the
// message to show when it does; null when it does not, or when the gateway cannot be reached
// (then reconnecting is right). The token travels in a header here, not in the URL.
export async function authRefusal({ role, shop, agent = '', token = '' }) {
  const url = new URL('/auth/check', location.href);
  url.searchParams.set('role', role);
  url.searchParams.set('shop', shop);
  if (agent) url.searchParams.set('agent', agent);
  try {
    const res = await fetch(url, {
      cache: 'no-store',
      headers: token ? { Authorization: `Bearer ${token}` } : {},
      signal: AbortSignal.timeout(3000),
    });
    if (res.status !== 401 && res.status !== 403) return null;
    const reason = (await res.text()).trim();
    return reason ? `${SIGNED_OUT_MESSAGE} (${reason})` : SIGNED_OUT_MESSAGE;
  } catch {
    return null;
  }
}

// Estimates the server clock from live frames so SLA countdowns start at the server's ts even if
// this machine's clock is off. Each sample is (server ts − local now) = offset − delivery latency,
// so the largest sample is the best estimate. Only feed it ts of frames produced just now (acks,
// live messages), never history.
export class ServerClock {
  constructor() { this.offset = null; }
  sample(ts) {
    if (typeof ts !== 'number' || !Number.isFinite(ts)) return;
    const s = ts - Date.now();
    if (this.offset === null || s > this.offset) this.offset = s;
  }
  now() { return Date.now() + (this.offset ?? 0); }
  reset() { this.offset = null; }
}

// A WebSocket of JSON frames that reconnects with exponential backoff (0.5 s … 15 s, jittered).
//   url():             the URL to connect to (asked again before every attempt)
//   onFrame(frame):    every JSON object frame with a string `type`
//   onOpen():          the socket opened
//   onDrop(ev, wasOpen): the socket closed without stop(); call stop() in it to give up
//   onState(state, info): 'connecting' | 'open' | 'waiting' (info.delay ms) | 'stopped'
export class Connection {
  constructor({ url, onFrame, onOpen, onDrop, onState }) {
    Object.assign(this, { url, onFrame, onOpen, onDrop, onState });
    this.ws = null;
    this.attempt = 0;
    this.timer = null;
    this.stopped = true;
    this.state = 'stopped';
    window.addEventListener('online', () => { if (this.state === 'waiting') this.retryNow(); });
  }

  start() {
    this.stopped = false;
    this.attempt = 0;
    this.#connect();
  }

  stop(code = 1000) {
    this.stopped = true;
    clearTimeout(this.timer);
    const ws = this.ws;
    this.ws = null;
    if (ws && ws.readyState <= WebSocket.OPEN) ws.close(code);
    this.#setState('stopped');
  }

  retryNow() {
    if (this.stopped || this.ws) return;
    clearTimeout(this.timer);
    this.#connect();
  }

  get isOpen() { return this.ws !== null && this.ws.readyState === WebSocket.OPEN; }

  send(frame) {
    if (!this.isOpen) return false;
    this.ws.send(JSON.stringify(frame));
    return true;
  }

  #setState(state, info = {}) {
    this.state = state;
    this.onState?.(state, info);
  }

  #connect() {
    this.#setState('connecting', { attempt: this.attempt });
    let ws;
    try {
      ws = new WebSocket(this.url());
    } catch (err) {
      console.error('chatdesk: cannot open WebSocket', err);
      this.#retry();
      return;
    }
    this.ws = ws;
    let wasOpen = false;
    ws.onopen = () => {
      if (this.ws !== ws) return;
      wasOpen = true;
      this.attempt = 0;
      this.#setState('open');
      this.onOpen?.();
    };
    ws.onmessage = (ev) => {
      if (this.ws !== ws || typeof ev.data !== 'string') return;
      let frame;
      try { frame = JSON.parse(ev.data); } catch { return; }
      if (frame && typeof frame === 'object' && typeof frame.type === 'string') this.onFrame(frame);
    };
    ws.onclose = (ev) => {
      if (this.ws !== ws) return;
      this.ws = null;
      if (this.stopped) return;
      this.onDrop?.(ev, wasOpen);
      if (!this.stopped) this.#retry();
    };
  }

  #retry() {
    const base = Math.min(15000, 500 * 2 ** this.attempt);
    const delay = Math.round(base * (0.8 + Math.random() * 0.4));
    this.attempt++;
    this.#setState('waiting', { delay, until: Date.now() + delay });
    this.timer = setTimeout(() => this.#connect(), delay);
  }
}

// Toasts: short notices in a live region. kind: info | success | warn | error.
export function toast(container, { title, message = '', kind = 'info', timeout = 6000 }) {
  const close = el('button', { class: 'toast-close', type: 'button', 'aria-label': 'Dismiss', text: '×' });
  const node = el('div', { class: `toast toast-${kind}`, role: kind === 'error' ? 'alert' : 'status', dataset: { testid: 'toast', kind } },
    el('div', { class: 'toast-body' },
      el('strong', { class: 'toast-title', text: title }),
      message ? el('span', { class: 'toast-message', text: message }) : null),
    close);
  const remove = () => { node.classList.add('leaving'); setTimeout(() => node.remove(), 200); };
  close.addEventListener('click', remove);
  container.append(node);
  while (container.children.length > 5) container.firstElementChild.remove();
  if (timeout > 0) setTimeout(remove, timeout);
  return node;
}
