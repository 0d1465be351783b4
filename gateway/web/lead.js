// Team lead desk (GET /lead?shop=S): a read-only live view of one shop for shops without Grafana.
// The gateway pushes a `snapshot` of agents and conversations (at most once a second, when it
// changed) and every `sla` violation of the shop over /ws/lead; this page never sends anything.
// Timers run locally between snapshots against an estimate of the server clock. Leads see
// timings, never chat text: nothing here renders message content, and all text goes through
// textContent (el() in common.js).

import {
  el, formatDuration, wsUrl, ServerClock, Connection, takeToken, tokenClaims, authRefusal,
} from '/static/common.js';

const SHOP_KEY = 'chatdesk.lead.shop';
const TOKEN_KEY = 'chatdesk.lead.token';  // sessionStorage: this tab's sign-in token (takeToken)
const MAX_VIOLATIONS = 50;
const REPLY_WARN_MS = 5000;  // like the agent console: the reply timer turns amber in its last 5 s
const TICK_MS = 250;
const DEFAULT_SLA = {
  greeting_target_ms: 15000, greeting_limit_ms: 30000, escalate_every_ms: 30000, reply_wait_limit_ms: 20000,
};
const RULES = {
  greeting: 'Greeting', reply_wait: 'Reply wait', missed: 'Missed chat', language: 'Language',
  courtesy: 'Courtesy', typing_rate: 'Typing speed', handover: 'Handover',
};

const $ = (id) => document.getElementById(id);
const ui = {
  shopView: $('shop-view'), shopForm: $('shop-form'), shopInput: $('shop-input'), shopError: $('shop-error'),
  leadView: $('lead-view'), shopName: $('shop-name'), conn: $('conn-state'), desk: $('desk-state'),
  updated: $('updated'), changeShop: $('change-shop'), stale: $('stale-banner'),
  statWaiting: $('stat-waiting'), statQueue: $('stat-queue'), statBreaching: $('stat-breaching'),
  statAvailable: $('stat-available'), statAway: $('stat-away'), statSla: $('stat-sla'),
  waitBody: $('wait-body'), waitEmpty: $('wait-empty'), waitCount: $('waiting-count'),
  agentList: $('agent-list'), agentEmpty: $('agent-empty'), agentCount: $('agent-count'),
  violationBody: $('violation-body'), violationEmpty: $('violation-empty'), violationCount: $('violation-count'),
};

const state = {
  shop: '',
  shopName: '',
  sla: { ...DEFAULT_SLA },
  welcomed: false,       // a welcome arrived on the current connection
  everWelcomed: false,   // one arrived since this shop was opened (a later failure is a reconnect)
  freshClock: true,      // the next snapshot restarts the server clock estimate (new connection)
  lostAt: null,          // when the connection dropped (server clock), while it is down
  desk: emptyDesk(),
  reported: new Map(),   // conversation -> { warned, level }: the greeting violations the server sent
  violations: [],        // newest first, at most MAX_VIOLATIONS
};
const clock = new ServerClock();
let token = '';               // auth.mode token: sent on every (re)connect; '' in open mode
const rows = new Map();       // conversation -> { tr, parts } of the waiting table, reused across snapshots
let connection = null;

function emptyDesk() {
  return { received: false, ts: null, open: true, queue: 0, agents: [], conversations: [] };
}

// ---------------------------------------------------------------------------------------------
// Which shop: ?shop= wins; otherwise ask, pre-filled with the last one (a wall screen is usually
// bookmarked with ?shop= anyway).

function rememberedShop() {
  try { return localStorage.getItem(SHOP_KEY) || ''; } catch { return ''; }
}

function askForShop(error = '') {
  connection?.stop();
  connection = null;
  ui.leadView.hidden = true;
  ui.shopView.hidden = false;
  ui.shopError.textContent = error;
  ui.shopError.hidden = !error;
  if (!ui.shopInput.value) ui.shopInput.value = state.shop || rememberedShop();
  document.title = 'chatdesk · Team lead';
  ui.shopInput.focus();
}

function openShop(shop) {
  shop = shop.trim();
  if (!shop) return askForShop('Enter the shop ID.');
  // Keep ?shop= in the address bar so a reload (or a bookmark on the wall screen) opens it again.
  const url = new URL(location.href);
  if (url.searchParams.get('shop') !== shop) {
    url.searchParams.set('shop', shop);
    history.replaceState(null, '', url);
  }
  connection?.stop();
  Object.assign(state, {
    shop, shopName: shop, sla: { ...DEFAULT_SLA }, welcomed: false, everWelcomed: false, freshClock: true,
    lostAt: null, desk: emptyDesk(), violations: [],
  });
  state.reported.clear();
  ui.shopView.hidden = true;
  ui.leadView.hidden = false;
  renderAll();
  renderViolations();
  connection = new Connection({
    url: () => wsUrl('/ws/lead', { shop: state.shop, token }),
    onFrame: handleFrame,
    onState: renderConnection,
    onDrop: handleDrop,
  });
  connection.start();
}

ui.shopForm.addEventListener('submit', (ev) => {
  ev.preventDefault();
  openShop(ui.shopInput.value);
});
ui.changeShop.addEventListener('click', () => {
  ui.shopInput.value = state.shop;
  askForShop();
});

// ---------------------------------------------------------------------------------------------
// Connection

function renderConnection(connState, info) {
  const live = connState === 'open' && state.welcomed;
  let text = { connecting: 'Connecting…', open: 'Connecting…', stopped: 'Offline' }[connState] ?? '';
  if (live) text = 'Live';
  if (connState === 'waiting') text = `Reconnecting in ${Math.max(1, Math.round(info.delay / 1000))}s…`;
  ui.conn.dataset.state = connState === 'open' && !live ? 'connecting' : connState;
  ui.conn.querySelector('.conn-text').textContent = text;
  if (live) state.lostAt = null;
  else if (state.everWelcomed && state.lostAt === null) state.lostAt = clock.now();  // shown next to server times
  renderStale();
}

function handleDrop(ev, wasOpen) {
  state.welcomed = false;
  if (!wasOpen) checkRefused(connection, !state.everWelcomed);
}

// A connection failed before it opened. Token auth refusing this page (expired, another shop)
// ends the retries with a message; otherwise a first failure may be an unknown shop.
async function checkRefused(conn, first) {
  const refusal = await authRefusal({ role: 'lead', shop: state.shop, token });
  if (connection !== conn) return;
  if (refusal) return askForShop(refusal);
  if (first) checkShopRefused(conn);
}

// The first connection failed. A browser cannot tell a refused upgrade (an unknown shop: 404)
// from an unreachable gateway, so ask the gateway whether it is up: if it is, the shop id is
// wrong and retrying is pointless; if not, keep retrying (Connection does), because a wall screen
// that boots before the gateway must come up on its own.
async function checkShopRefused(conn) {
  let up = false;
  try {
    const res = await fetch('/healthz', { cache: 'no-store', signal: AbortSignal.timeout(3000) });
    up = res.ok;
  } catch { /* unreachable */ }
  if (up && connection === conn && !state.everWelcomed) {
    askForShop(`The gateway has no desk for shop “${state.shop}”. Check the shop ID.`);
  }
}

function renderStale() {
  const lost = state.lostAt !== null;
  ui.leadView.classList.toggle('is-offline', lost);
  ui.stale.hidden = !lost;
  if (lost) {
    ui.stale.textContent = `Connection lost at ${formatTime(state.lostAt)}: reconnecting. The figures below are the last known state; timers keep running from it.`;
  }
}

// ---------------------------------------------------------------------------------------------
// Frames

function handleFrame(f) {
  switch (f.type) {
    case 'welcome': return onWelcome(f);
    case 'snapshot': return onSnapshot(f);
    case 'sla': return onSla(f);
    case 'error': return console.warn('chatdesk: the gateway reported an error', f.code, f.message);
    default: return console.debug('chatdesk: ignoring frame', f.type);
  }
}

function onWelcome(f) {
  state.welcomed = true;
  state.everWelcomed = true;
  try { localStorage.setItem(SHOP_KEY, state.shop); } catch { /* private mode: nothing to remember */ }
  state.freshClock = true;
  state.shopName = f.shop_name || f.shop || state.shop;
  state.sla = { ...DEFAULT_SLA, ...(f.sla || {}) };
  renderConnection('open');
  renderHeader();
}

function onSnapshot(f) {
  // A new connection may have a different latency (or the local clock may have been set): start
  // the estimate again from this connection's first snapshot.
  if (state.freshClock) {
    clock.reset();
    state.freshClock = false;
  }
  clock.sample(f.ts);
  const conversations = Array.isArray(f.conversations) ? f.conversations.filter((c) => c && typeof c.conversation === 'string') : [];
  state.desk = {
    received: true,
    ts: typeof f.ts === 'number' ? f.ts : null,
    open: f.desk_open !== false,
    queue: Number(f.queue) || 0,
    agents: Array.isArray(f.agents) ? f.agents.filter((a) => a && typeof a.id === 'string') : [],
    conversations: conversations.map(normalizeConversation),
  };
  // Levels reported for conversations that ended or were answered are of no further use.
  const live = new Set(state.desk.conversations.filter((c) => !c.greeted).map((c) => c.id));
  for (const id of state.reported.keys()) if (!live.has(id)) state.reported.delete(id);
  renderAll();
}

function normalizeConversation(c) {
  const num = (v) => (typeof v === 'number' && Number.isFinite(v) ? v : null);
  return {
    id: c.conversation,
    agent: typeof c.agent === 'string' ? c.agent : '',
    queued: c.state === 'queued' || !c.agent,
    online: c.customer_online !== false,
    startedAt: num(c.started_at),
    waitingSince: num(c.waiting_since),
    greeted: !!c.greeted,
    messages: Number(c.messages) || 0,
  };
}

function onSla(f) {
  clock.sample(f.ts);
  const v = {
    ts: typeof f.ts === 'number' ? f.ts : clock.now(),
    conversation: typeof f.conversation === 'string' ? f.conversation : '',
    agent: typeof f.agent === 'string' ? f.agent : '',
    rule: String(f.rule || ''),
    severity: f.severity === 'breach' ? 'breach' : 'warning',
    level: Number(f.level) || 1,
    elapsed: Number(f.elapsed_ms) || 0,
    target: Number(f.target_ms) || 0,
    detail: typeof f.detail === 'string' ? f.detail : '',
  };
  if (v.rule === 'greeting' && v.conversation) {
    const r = state.reported.get(v.conversation) || { warned: false, level: 0 };
    if (v.severity === 'breach') r.level = Math.max(r.level, v.level);
    else r.warned = true;
    state.reported.set(v.conversation, r);
  }
  state.violations.unshift(v);
  if (state.violations.length > MAX_VIOLATIONS) state.violations.length = MAX_VIOLATIONS;
  prependViolation(v);
  tick();
}

// ---------------------------------------------------------------------------------------------
// Waiting time against the SLA

// Where a conversation stands at server time `now`: which clock runs (greeting before the first
// agent message, reply after it), how long it has run, and the tone: ok (green), warn (amber),
// breach (red). idle: queued but the customer has not written yet, so no clock runs.
function waitView(conv, now) {
  const s = state.sla;
  const phase = conv.greeted ? 'reply' : 'greeting';
  if (conv.waitingSince === null) {
    return { phase, tone: 'idle', sla: 'ok', elapsed: null, fraction: 0, marks: [] };
  }
  const elapsed = Math.max(0, now - conv.waitingSince);
  if (!state.desk.open) return pausedView(conv, phase, elapsed);
  if (phase === 'greeting') {
    const target = s.greeting_target_ms;
    const limit = Math.max(1, s.greeting_limit_ms);
    const view = { phase, elapsed, limit, fraction: elapsed / limit, marks: [target / limit] };
    if (elapsed < target) return { ...view, tone: 'ok', sla: 'ok' };
    if (elapsed < limit) return { ...view, tone: 'warn', sla: 'warn' };
    const over = elapsed - limit;
    const computed = 1 + Math.floor(over / Math.max(1000, s.escalate_every_ms));
    const level = Math.max(computed, state.reported.get(conv.id)?.level || 0);
    return { ...view, tone: 'breach', sla: 'breach', over, level };
  }
  const limit = Math.max(1, s.reply_wait_limit_ms);
  const amber = limit - REPLY_WARN_MS;
  const view = { phase, elapsed, limit, fraction: elapsed / limit, marks: amber > 0 ? [amber / limit] : [] };
  if (elapsed < amber) return { ...view, tone: 'ok', sla: 'ok' };
  if (elapsed < limit) return { ...view, tone: 'warn', sla: 'warn' };
  return { ...view, tone: 'breach', sla: 'breach', over: elapsed - limit };
}

// Outside every shift the server's SLA clocks stand still (they count business hours only), but the
// snapshot carries wall-clock times: the wall time waited says nothing about the SLA then. Show it
// grey, and colour the row by what the server has reported for it.
function pausedView(conv, phase, elapsed) {
  const r = phase === 'greeting' ? state.reported.get(conv.id) : null;
  const sla = r?.level ? 'breach' : r?.warned ? 'warn' : 'ok';
  return { phase, elapsed, fraction: 0, marks: [], tone: 'paused', sla, over: 0, level: r?.level || 0 };
}

// Who counts as waiting: an unanswered customer message, or a conversation still in the queue.
function isWaiting(conv) {
  return conv.waitingSince !== null || conv.queued;
}

// Longest wait first; queued conversations whose customer has not written yet go last.
function byLongestWait(a, b) {
  const wa = a.waitingSince ?? Infinity;
  const wb = b.waitingSince ?? Infinity;
  if (wa !== wb) return wa - wb;
  return (a.startedAt ?? Infinity) - (b.startedAt ?? Infinity) || a.id.localeCompare(b.id);
}

// ---------------------------------------------------------------------------------------------
// Rendering

function renderAll() {
  renderHeader();
  renderWaiting();
  renderAgents();
  tick();
}

function renderHeader() {
  const d = state.desk;
  ui.shopName.textContent = state.shopName;
  ui.shopName.title = state.shop;
  ui.desk.dataset.open = d.received ? String(d.open) : 'unknown';
  ui.desk.textContent = !d.received ? '' : d.open ? 'Desk open' : 'Desk closed · SLA clocks paused';
  ui.desk.title = d.open ? '' : 'Outside every shift: customers may still write; their SLA clocks start when the desk opens.';
  ui.updated.textContent = d.ts ? `Last change ${formatTime(d.ts)}` : '';
  const waiting = d.conversations.filter((c) => c.waitingSince !== null).length;
  ui.statWaiting.textContent = String(waiting);
  ui.statQueue.textContent = String(d.queue);
  ui.statAvailable.textContent = String(d.agents.filter((a) => a.state === 'available').length);
  ui.statAway.textContent = String(d.agents.filter((a) => a.state !== 'available').length);
  ui.statWaiting.closest('.stat').dataset.tone = waiting > 0 ? 'warn' : '';
  ui.statQueue.closest('.stat').dataset.tone = d.queue > 0 ? 'warn' : '';
  const s = state.sla;
  ui.statSla.textContent = `Greet ${formatSla(s.greeting_target_ms)} / ${formatSla(s.greeting_limit_ms)} · reply ${formatSla(s.reply_wait_limit_ms)}`;
  ui.statSla.title = `Greeting target ${formatSla(s.greeting_target_ms)}, limit ${formatSla(s.greeting_limit_ms)}, ` +
    `escalating every ${formatSla(s.escalate_every_ms)}; replies within ${formatSla(s.reply_wait_limit_ms)}`;
  document.title = `${waiting ? `(${waiting}) ` : ''}${state.shopName || 'chatdesk'} · Team lead`;
}

// The waiting table keeps one <tr> per conversation across snapshots (keyed by id) so rows do not
// flicker on a wall screen; the timers in them are repainted by tick().
function renderWaiting() {
  const waiting = state.desk.conversations.filter(isWaiting).sort(byLongestWait);
  const keep = new Set(waiting.map((c) => c.id));
  for (const [id, row] of rows) {
    if (!keep.has(id)) {
      row.tr.remove();
      rows.delete(id);
    }
  }
  for (const conv of waiting) {
    let row = rows.get(conv.id);
    if (!row) {
      row = buildWaitRow(conv.id);
      rows.set(conv.id, row);
    }
    row.conv = conv;
    fillWaitRow(row);
    ui.waitBody.append(row.tr);  // append moves an existing row: this also sorts
  }
  ui.waitEmpty.hidden = waiting.length > 0;
  ui.waitCount.textContent = String(waiting.length);
}

function buildWaitRow(id) {
  const parts = {
    agent: el('span'),
    phase: el('span', { class: 'phase' }),
    timer: el('span', { class: 'wait-timer', dataset: { testid: 'wait-timer' } }),
    over: el('span', { class: 'wait-over', dataset: { testid: 'wait-over' } }),
    level: el('span', { class: 'wait-level', dataset: { testid: 'wait-level' } }),
    fill: el('span', { class: 'wait-bar-fill' }),
    track: el('span', { class: 'wait-bar', 'aria-hidden': 'true' }),
    customer: el('span', { class: 'presence' }, el('span', { class: 'dot', 'aria-hidden': 'true' }), el('span', { class: 'presence-text' })),
  };
  parts.track.append(parts.fill);
  const tr = el('tr', { class: 'wait-row', dataset: { testid: 'wait-row', conversation: id, sla: 'ok' } },
    el('td', null, el('code', { class: 'conv-id', title: id, text: shortId(id) })),
    el('td', null, parts.agent),
    el('td', null, parts.phase),
    el('td', { class: 'num' }, parts.timer),
    el('td', { class: 'wait-bar-col' }, el('span', { class: 'wait-bar-cell' }, parts.track, parts.over, parts.level)),
    el('td', null, parts.customer));
  return { tr, parts, conv: null, marks: '' };
}

// The parts of a row that change only with a snapshot.
function fillWaitRow(row) {
  const { conv, parts } = row;
  parts.agent.textContent = conv.queued ? 'queued' : conv.agent;
  parts.agent.className = conv.queued ? 'agent-queued' : 'agent-name';
  parts.customer.dataset.online = String(conv.online);
  parts.customer.querySelector('.presence-text').textContent = conv.online ? 'online' : 'disconnected';
  parts.customer.title = conv.online ? '' : 'The customer disconnected and may come back within the shop’s resume grace';
  row.tr.classList.toggle('offline', !conv.online);
}

function renderAgents() {
  const d = state.desk;
  const agents = d.agents.slice().sort((a, b) =>
    (a.state === 'available' ? 0 : 1) - (b.state === 'available' ? 0 : 1) || a.id.localeCompare(b.id));
  const items = agents.map((a) => buildAgent(a, d.conversations.filter((c) => c.agent === a.id).sort(byLongestWait)));
  ui.agentList.replaceChildren(...items);
  ui.agentEmpty.hidden = items.length > 0;
  ui.agentCount.textContent = String(items.length);
}

function buildAgent(agent, conversations) {
  const available = agent.state === 'available';
  const open = Number(agent.open) || 0;
  const max = Number(agent.max) || 0;
  // Full: the desk assigns this agent nothing more (transfers and handovers may still exceed it).
  const meter = el('span', { class: 'load-meter', 'aria-hidden': 'true', dataset: { full: String(max > 0 && open >= max) } },
    el('span', { class: 'load-fill' }));
  meter.firstChild.style.width = `${max ? Math.min(100, (open / max) * 100) : 0}%`;
  const chips = conversations.map((c) => {
    const chip = el('li', { class: 'agent-conv', title: c.id, dataset: { testid: 'agent-conv', conversation: c.id, sla: 'ok' } },
      el('code', { text: shortId(c.id) }),
      el('span', { class: 'agent-conv-timer' }));
    chip.conv = c;  // tick() repaints the timer
    return chip;
  });
  return el('li', { class: `lead-agent${available ? '' : ' is-away'}`, dataset: { testid: 'agent-row', agent: agent.id, state: agent.state } },
    el('div', { class: 'lead-agent-head' },
      el('span', { class: `dot dot-${available ? 'available' : 'away'}`, 'aria-hidden': 'true' }),
      el('span', { class: 'lead-agent-name', text: agent.id }),
      el('span', { class: 'muted lead-agent-state', text: available ? 'available' : 'away' }),
      el('span', { class: 'spacer' }),
      meter,
      el('span', { class: 'lead-agent-load', dataset: { testid: 'agent-load' }, text: max ? `${open} / ${max}` : String(open),
        title: `${open} open conversation${open === 1 ? '' : 's'}${max ? ` of at most ${max}` : ''}` })),
    chips.length ? el('ul', { class: 'agent-convs' }, chips) : null);
}

// Repaints every running timer, bar and tone; cheap enough for 4 times a second.
function tick() {
  const now = clock.now();
  let breaching = 0;
  for (const row of rows.values()) {
    const view = waitView(row.conv, now);
    if (view.sla === 'breach') breaching++;
    paintWaitRow(row, view);
  }
  for (const chip of ui.agentList.querySelectorAll('.agent-conv')) paintAgentConv(chip, waitView(chip.conv, now));
  ui.statBreaching.textContent = String(breaching);
  ui.statBreaching.closest('.stat').dataset.tone = breaching > 0 ? 'breach' : '';
}

function paintWaitRow(row, view) {
  const { parts, tr } = row;
  setText(parts.phase, view.phase === 'greeting' ? 'Greeting' : 'Reply');
  parts.phase.dataset.phase = view.phase;
  if (view.elapsed === null) {
    setText(parts.timer, '—');
    parts.timer.title = 'In the queue; the customer has not written yet';
  } else {
    setText(parts.timer, formatDuration(view.elapsed));
    parts.timer.title = `Waiting since ${formatTime(row.conv.waitingSince)}`;
  }
  // Past the limit: how far over, and for the greeting the escalation level (a fine each).
  setText(parts.over, view.tone === 'breach' ? `+${formatDuration(view.over)}` : '');
  setText(parts.level, view.tone === 'breach' && view.phase === 'greeting' ? `L${view.level}` : '');
  parts.fill.style.width = `${Math.min(100, view.fraction * 100).toFixed(1)}%`;
  const marks = view.marks.map((m) => m.toFixed(3)).join(',');
  if (marks !== row.marks) {
    row.marks = marks;
    parts.track.replaceChildren(parts.fill, ...view.marks.map((m) => {
      const mark = el('span', { class: 'wait-bar-mark' });
      mark.style.left = `${(m * 100).toFixed(1)}%`;
      return mark;
    }));
  }
  parts.track.title = view.elapsed === null ? '' : barTitle(view);
  tr.dataset.tone = view.tone;
  tr.dataset.sla = view.sla;
  tr.dataset.phase = view.phase;
}

function paintAgentConv(chip, view) {
  const timer = chip.lastChild;
  let text = '';
  if (view.elapsed !== null) text = view.tone === 'breach' ? `+${formatDuration(view.over)}` : formatDuration(view.elapsed);
  setText(timer, text);
  chip.dataset.tone = view.elapsed === null ? 'idle' : view.tone;
  const title = `${chip.conv.id}${view.elapsed === null ? ' · nobody waiting' : ` · ${view.phase} wait ${formatDuration(view.elapsed)}`}`;
  if (chip.title !== title) chip.title = title;
  chip.dataset.sla = view.sla;
}

function barTitle(view) {
  const s = state.sla;
  return view.phase === 'greeting'
    ? `Greeting: target ${formatSla(s.greeting_target_ms)}, limit ${formatSla(s.greeting_limit_ms)}, then one more level every ${formatSla(s.escalate_every_ms)}`
    : `Reply: limit ${formatSla(s.reply_wait_limit_ms)}`;
}

function setText(node, text) {
  if (node.textContent !== text) node.textContent = text;
}

// ---------------------------------------------------------------------------------------------
// Latest violations

function renderViolations() {
  ui.violationBody.replaceChildren(...state.violations.map(buildViolation));
  renderViolationCount();
}

function prependViolation(v) {
  const tr = buildViolation(v);
  tr.classList.add('is-new');
  ui.violationBody.prepend(tr);
  while (ui.violationBody.children.length > MAX_VIOLATIONS) ui.violationBody.lastElementChild.remove();
  renderViolationCount();
}

function renderViolationCount() {
  ui.violationEmpty.hidden = state.violations.length > 0;
  ui.violationCount.textContent = String(state.violations.length);
}

function buildViolation(v) {
  return el('tr', { class: 'violation-row', dataset: {
    testid: 'violation-row', rule: v.rule, severity: v.severity, level: String(v.level), conversation: v.conversation } },
  el('td', { class: 'num-time', text: formatTime(v.ts) }),
  el('td', { class: v.agent ? 'agent-name' : 'agent-queued', text: v.agent || 'queue' }),
  el('td', null, v.conversation ? el('code', { class: 'conv-id', title: v.conversation, text: shortId(v.conversation) }) : '—'),
  el('td', { text: RULES[v.rule] || v.rule }),
  el('td', null, el('span', { class: 'severity', dataset: { severity: v.severity }, text: v.severity })),
  el('td', { class: 'num', text: String(v.level) }),
  el('td', { class: 'num', text: measure(v) }));
}

// "31s / 30s" for clock rules; rules without a clock (language, courtesy, typing speed) carry
// their figure in detail instead (a configured phrase, greeting/farewell, or an average rate).
function measure(v) {
  if (v.elapsed > 0 || v.target > 0) return `${formatSla(v.elapsed)} / ${formatSla(v.target)}`;
  if (v.rule === 'typing_rate' && v.detail) return `${v.detail} cpm`;
  return v.detail || '—';
}

// ---------------------------------------------------------------------------------------------
// Formatting

// Conversation ids are "c-" and 16 hex digits: the first 6 digits tell them apart on one desk
// (the full id is in the title).
function shortId(id) {
  return /^c-[0-9a-f]{7,}$/i.test(id) ? id.slice(0, 8) : id.length > 12 ? `${id.slice(0, 11)}…` : id;
}

// SLA durations may be sub-second in a test shop: 500ms, 1.5s, 15s, 2m.
function formatSla(ms) {
  if (ms < 1000 && ms > 0) return `${ms}ms`;
  if (ms % 1000 !== 0 && ms < 60000) return `${(ms / 1000).toFixed(1)}s`;
  return formatDuration(ms);
}

const timeFormat = new Intl.DateTimeFormat(undefined, { hour: '2-digit', minute: '2-digit', second: '2-digit', hour12: false });
function formatTime(ts) {
  return typeof ts === 'number' ? timeFormat.format(new Date(ts)) : '';
}

// ---------------------------------------------------------------------------------------------

setInterval(tick, TICK_MS);

// A link with `&token=` (chatdesk-token --role lead) signs in with it; the shop defaults to the
// token's.
{
  token = takeToken(TOKEN_KEY);
  const claims = tokenClaims(token);
  const fromToken = claims && claims.role === 'lead' && typeof claims.shop === 'string' ? claims.shop : '';
  const shop = new URLSearchParams(location.search).get('shop') || fromToken;
  if (shop && shop.trim()) openShop(shop);
  else askForShop();
}
