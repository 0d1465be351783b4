// Agent console: signs in to /ws/agent, shows the shop's queue and roster, the agent's open
// conversations with live SLA countdowns, and lets the agent reply, transfer, close and hand over.
// Wire contract: docs/protocol.md. All chat text is rendered with textContent.

import {
  el, codePoints, truncateCodePoints, oneLine, formatClock, formatDuration, newId, wsUrl,
  ServerClock, Connection, toast, takeToken, forgetToken, tokenClaims, authRefusal,
} from '/static/common.js';

const LOGIN_KEY = 'chatdesk.agent.login';
const TOKEN_KEY = 'chatdesk.agent.token';  // sessionStorage: this tab's sign-in token (takeToken)
const AGENT_ID = /^[A-Za-z0-9_.-]{1,64}$/;
const TYPING_VISIBLE_MS = 3000;
const REPLY_WARN_MS = 5000;  // the reply countdown turns amber in its last 5 s
const DEFAULT_SLA = {
  greeting_target_ms: 15000, greeting_limit_ms: 30000, escalate_every_ms: 30000, reply_wait_limit_ms: 20000,
};

const $ = (id) => document.getElementById(id);
const ui = {
  loginView: $('login-view'), loginForm: $('login-form'), loginShop: $('login-shop'), loginAgent: $('login-agent'),
  loginError: $('login-error'), consoleView: $('console-view'), shopName: $('shop-name'), conn: $('conn-state'),
  statusToggle: $('status-toggle'), handoverButton: $('handover-button'), meName: $('me-name'), meAvatar: $('me-avatar'),
  logout: $('logout-button'), queueLength: $('queue-length'), queueHint: $('queue-hint'), openCount: $('open-count'),
  convList: $('conversation-list'), convEmpty: $('conversation-empty'), roster: $('roster'),
  noSelection: $('no-selection'), convView: $('conversation-view'), convAvatar: $('conv-avatar'),
  convCustomer: $('conv-customer'), convPresence: $('conv-presence'), convAssigned: $('conv-assigned'),
  convSla: $('conv-sla'), transferButton: $('transfer-button'), closeButton: $('close-button'),
  note: $('conv-note'), noteText: $('conv-note-text'), messages: $('message-list'), typing: $('typing-indicator'),
  composer: $('composer'), input: $('reply-input'), charCount: $('char-count'), send: $('reply-send'),
  transferDialog: $('transfer-dialog'), transferTarget: $('transfer-target'), transferNote: $('transfer-note'),
  handoverDialog: $('handover-dialog'), handoverTarget: $('handover-target'), handoverNote: $('handover-note'),
  handoverSummary: $('handover-summary'), confirmDialog: $('confirm-dialog'), toasts: $('toasts'),
};

const state = {
  shop: '',
  agent: '',
  shopName: '',
  sla: { ...DEFAULT_SLA },
  presence: 'away',        // confirmed by the server
  wanted: 'away',          // what the agent chose; restored after a reconnect
  statusPending: false,
  welcomed: false,         // a welcome arrived on the current connection
  everWelcomed: false,     // a welcome arrived since sign-in (so a failed connect is a reconnect)
  queue: 0,
  roster: [],
  conversations: new Map(),  // id -> conversation (insertion order = list order)
  selected: null,
  replaced: false,           // an `error replaced` arrived: another window signed in as this agent
  pending: new Map(),        // client_msg_id -> { conv, msg }
};
const clock = new ServerClock();
let connection = null;
let token = '';  // auth.mode token: sent on every (re)connect; '' in open mode

// ---------------------------------------------------------------------------------------------
// Sign-in

function readLogin() {
  try { return JSON.parse(localStorage.getItem(LOGIN_KEY)) || {}; } catch { return {}; }
}

function showLogin(error = '') {
  ui.consoleView.hidden = true;
  ui.loginView.hidden = false;
  ui.loginError.textContent = error;
  ui.loginError.hidden = !error;
  document.title = 'chatdesk · Agent console';
  (ui.loginShop.value ? ui.loginAgent : ui.loginShop).focus();
}

function signIn(shop, agent) {
  shop = shop.trim();
  agent = agent.trim();
  if (!shop) return showLogin('Enter your shop ID.');
  if (!AGENT_ID.test(agent)) return showLogin('Agent IDs are 1–64 letters, digits, “_”, “.” or “-”.');
  localStorage.setItem(LOGIN_KEY, JSON.stringify({ shop, agent }));
  connection?.stop();
  Object.assign(state, { shop, agent, shopName: shop, presence: 'away', wanted: 'away', statusPending: false, welcomed: false, everWelcomed: false });
  resetDesk();
  ui.loginView.hidden = true;
  ui.consoleView.hidden = false;
  ui.shopName.textContent = shop;
  ui.meName.textContent = agent;
  ui.meAvatar.textContent = initials(agent);
  renderStatus();
  connection = new Connection({
    url: () => wsUrl('/ws/agent', { shop: state.shop, agent: state.agent, token }),
    onFrame: handleFrame,
    onState: renderConnection,
    onDrop: handleDrop,
  });
  connection.start();
}

function signOut() {
  connection?.stop();
  connection = null;
  // Signing out forgets this tab's token: whoever uses the browser next needs their own link.
  token = '';
  forgetToken(TOKEN_KEY);
  resetDesk();
  showLogin();
}

function resetDesk() {
  for (const { msg } of state.pending.values()) msg.status = 'failed';
  state.pending.clear();
  state.conversations.clear();
  state.selected = null;
  state.queue = 0;
  state.roster = [];
  clock.reset();
  renderDesk();
  renderList();
  renderSelected();
}

ui.loginForm.addEventListener('submit', (ev) => {
  ev.preventDefault();
  signIn(ui.loginShop.value, ui.loginAgent.value);
});
ui.logout.addEventListener('click', signOut);

// ---------------------------------------------------------------------------------------------
// Connection

function renderConnection(connState, info) {
  const labels = { connecting: 'Connecting…', open: 'Online', stopped: 'Offline' };
  let text = labels[connState] ?? '';
  if (connState === 'waiting') text = `Reconnecting in ${Math.max(1, Math.round(info.delay / 1000))}s…`;
  if (connState === 'open' && !state.welcomed) text = 'Connecting…';
  ui.conn.dataset.state = connState === 'open' && !state.welcomed ? 'connecting' : connState;
  ui.conn.querySelector('.conn-text').textContent = text;
  ui.consoleView.classList.toggle('is-offline', connState !== 'open');
  renderComposer();
}

function handleDrop(ev, wasOpen) {
  if (ev.code === 1008 || state.replaced) {
    connection.stop();
    state.replaced = false;
    resetDesk();
    showLogin('You signed in as this agent somewhere else, so this window was disconnected.');
    return;
  }
  // Refused before it opened: maybe by token auth, which only the gateway can say (authRefusal).
  if (!wasOpen) explainRefusal(connection);
  if (!state.everWelcomed && !wasOpen) {
    connection.stop();
    showLogin(`Could not connect to shop “${state.shop}” as “${state.agent}”. Check the shop ID, or try again later.`);
    return;
  }
  // The desk returns this agent's conversations to the queue when it goes offline: they come back
  // as `assigned` frames after the reconnect. Mark unsent replies as failed.
  for (const { msg } of state.pending.values()) msg.status = 'failed';
  state.pending.clear();
  state.welcomed = false;
  if (state.selected) renderMessages();
}

// Stops reconnecting and says so when the gateway refuses this agent's token (expired, another
// shop or agent): retrying would fail forever.
async function explainRefusal(conn) {
  const refusal = await authRefusal({ role: 'agent', shop: state.shop, agent: state.agent, token });
  if (!refusal || connection !== conn) return;
  conn.stop();
  resetDesk();
  showLogin(refusal);
}

function send(frame) {
  if (connection?.send(frame)) return true;
  notify({ title: 'Not connected', message: 'Wait until the console is back online.', kind: 'warn' });
  return false;
}

// ---------------------------------------------------------------------------------------------
// Frames from the gateway

function handleFrame(f) {
  switch (f.type) {
    case 'welcome': return onWelcome(f);
    case 'desk': return onDesk(f);
    case 'status': return onStatus(f);
    case 'assigned': return onAssigned(f);
    case 'unassigned': return onUnassigned(f);
    case 'closed': return onClosed(f);
    case 'message': return onMessage(f);
    case 'typing': return onTyping(f);
    case 'presence': return onPresence(f);
    case 'ack': return onAck(f);
    case 'sla': return onSla(f);
    case 'error': return onError(f);
    default: console.debug('chatdesk: ignoring frame', f.type);
  }
}

function onWelcome(f) {
  const reconnect = state.wanted === 'available';
  state.conversations.clear();
  state.selected = null;
  state.welcomed = true;
  state.everWelcomed = true;
  state.agent = f.agent || state.agent;
  state.shopName = f.shop_name || f.shop || state.shop;
  state.sla = { ...DEFAULT_SLA, ...(f.sla || {}) };
  state.presence = f.state === 'available' ? 'available' : 'away';
  state.statusPending = false;
  ui.shopName.textContent = state.shopName;
  ui.meName.textContent = state.agent;
  renderConnection('open');
  renderStatus();
  renderList();
  renderSelected();
  if (reconnect && state.presence !== 'available') setStatus('available');
}

function onDesk(f) {
  state.queue = Number(f.queue) || 0;
  state.roster = Array.isArray(f.agents) ? f.agents : [];
  renderDesk();
}

function onStatus(f) {
  state.presence = f.state === 'available' ? 'available' : 'away';
  state.wanted = state.presence;
  state.statusPending = false;
  renderStatus();
}

function onAssigned(f) {
  const history = Array.isArray(f.history) ? f.history.map(toMessage) : [];
  const conv = {
    id: f.conversation,
    customer: f.customer || '',
    note: f.note || '',
    greeted: !!f.greeted,
    waitingSince: typeof f.waiting_since === 'number' ? f.waiting_since : null,
    assignedTs: typeof f.ts === 'number' ? f.ts : null,
    messages: history,
    unread: 0,
    online: f.customer_online !== false,
    typingUntil: 0,
    sla: null,
    draft: '',
    typingSent: false,
  };
  // Unanswered customer messages count as unread until the conversation is opened.
  for (let i = history.length - 1; i >= 0 && history[i].from === 'customer'; i--) conv.unread++;
  const known = state.conversations.has(conv.id);
  state.conversations.delete(conv.id);
  state.conversations.set(conv.id, conv);
  notify({
    title: conv.note ? 'Conversation handed to you' : 'New conversation',
    message: conv.note ? `Note: ${truncateCodePoints(oneLine(conv.note), 80)}` : customerLabel(conv.customer),
    kind: 'info',
  });
  if (!state.selected || (known && state.selected === conv.id)) select(conv.id);
  else renderList();
}

function onUnassigned(f) {
  const reasons = {
    transferred: 'Transferred to a colleague',
    requeued: 'Returned to the queue',
    handover: 'Handed over',
  };
  if (removeConversation(f.conversation)) {
    notify({ title: reasons[f.reason] || 'Conversation moved', message: 'It is no longer assigned to you.', kind: 'info' });
  }
}

function onClosed(f) {
  if (removeConversation(f.conversation)) {
    notify(f.by === 'customer'
      ? { title: 'Customer ended the chat', message: 'The conversation is closed.', kind: 'info' }
      : { title: 'Conversation closed', kind: 'success', timeout: 3000 });
  }
}

function onMessage(f) {
  const conv = state.conversations.get(f.conversation);
  if (!conv) return;
  clock.sample(f.ts);
  const msg = toMessage(f);
  conv.messages.push(msg);
  if (msg.from === 'customer') {
    if (conv.waitingSince === null) conv.waitingSince = msg.ts;
    conv.typingUntil = 0;
    if (state.selected !== conv.id || document.hidden) conv.unread++;
  }
  if (state.selected === conv.id) {
    appendMessage(msg);
    renderTyping();
  }
  renderListItem(conv);
  renderTitle();
  tick();
}

function onTyping(f) {
  const conv = state.conversations.get(f.conversation);
  if (!conv || f.from !== 'customer') return;
  conv.typingUntil = f.state === 'stop' ? 0 : Date.now() + TYPING_VISIBLE_MS;
  renderListItem(conv);
  if (state.selected === conv.id) renderTyping();
}

function onPresence(f) {
  const conv = state.conversations.get(f.conversation);
  if (!conv) return;
  conv.online = !!f.customer_online;
  if (!conv.online) conv.typingUntil = 0;
  renderListItem(conv);
  if (state.selected === conv.id) renderHeader();
}

function onAck(f) {
  const entry = state.pending.get(f.client_msg_id);
  if (!entry) return;
  state.pending.delete(f.client_msg_id);
  clock.sample(f.ts);
  const { conv, msg } = entry;
  msg.status = 'sent';
  msg.id = f.id;
  if (typeof f.ts === 'number') msg.ts = f.ts;
  conv.greeted = true;
  conv.sla = null;
  // The reply answers every customer message written before it; a later one starts a new wait.
  const later = conv.messages.find((m) => m.from === 'customer' && m.ts > msg.ts);
  conv.waitingSince = later ? later.ts : null;
  if (msg.node) renderMessageStatus(msg);
  renderListItem(conv);
  tick();
}

const RULES = {
  greeting: 'Greeting', reply_wait: 'Reply wait', missed: 'Missed chat', language: 'Language',
  courtesy: 'Courtesy', typing_rate: 'Typing speed', handover: 'Handover',
};

function slaMessage(f, who) {
  switch (f.rule) {
    case 'greeting':
    case 'reply_wait':
    case 'missed':
      return typeof f.elapsed_ms === 'number' && f.elapsed_ms > 0
        ? `${who} has waited ${formatDuration(f.elapsed_ms)} (limit ${formatDuration(f.target_ms || 0)}).` : who;
    case 'language':
      return f.detail ? `${who}: avoid phrases like “${f.detail}”.` : `${who}: check the wording of your reply.`;
    case 'courtesy':
      return f.detail === 'farewell' ? `${who}: say goodbye (e.g. “再见”) before closing.`
        : f.detail === 'greeting' ? `${who}: open with a greeting (e.g. “您好”).` : who;
    case 'typing_rate':
      return f.detail ? `Your typing speed is ${f.detail} characters per minute.` : 'Your typing speed is below target.';
    case 'handover':
      return 'Conversations went back to the queue without a handover note.';
    default:
      return f.detail ? `${who}: ${f.detail}` : who;
  }
}

function onSla(f) {
  const conv = f.conversation ? state.conversations.get(f.conversation) : null;
  const breach = f.severity === 'breach';
  const level = Number(f.level) || 1;
  if (conv) {
    conv.sla = { rule: f.rule, severity: f.severity, level };
    renderListItem(conv);
    tick();
  }
  const who = conv ? customerLabel(conv.customer) : 'A customer';
  notify({
    title: `SLA ${breach ? 'breach' : 'warning'} · ${RULES[f.rule] || f.rule}${level > 1 ? ` · level ${level}` : ''}`,
    message: slaMessage(f, who),
    kind: breach ? 'error' : 'warn',
    timeout: 8000,
  });
}

function onError(f) {
  if (f.code === 'replaced') {
    state.replaced = true;
    return;
  }
  if (f.client_msg_id && state.pending.has(f.client_msg_id)) {
    const { msg } = state.pending.get(f.client_msg_id);
    state.pending.delete(f.client_msg_id);
    msg.status = 'failed';
    msg.error = f.message || f.code;
    if (msg.node) renderMessageStatus(msg);
  }
  const titles = {
    target_unavailable: 'That agent cannot take conversations',
    not_owner: 'This conversation is no longer yours',
    too_large: 'Message too long',
    rate_limited: 'Slow down',
    bad_request: 'Request refused',
  };
  notify({ title: titles[f.code] || `Error: ${f.code}`, message: f.message || '', kind: 'error', timeout: 8000 });
  if (state.statusPending) {
    state.statusPending = false;
    renderStatus();
  }
}

function toMessage(m) {
  return {
    id: m.id || null,
    from: m.from === 'agent' ? 'agent' : 'customer',
    agent: m.agent || '',
    text: typeof m.text === 'string' ? m.text : '',
    ts: typeof m.ts === 'number' ? m.ts : null,
    status: 'sent',
    node: null,
  };
}

function removeConversation(id) {
  const conv = state.conversations.get(id);
  if (!conv) return false;
  for (const [key, entry] of state.pending) if (entry.conv === conv) state.pending.delete(key);
  state.conversations.delete(id);
  if (state.selected === id) {
    const next = state.conversations.keys().next();
    state.selected = null;
    if (!next.done) select(next.value);
    else renderSelected();
  }
  renderList();
  return true;
}

// ---------------------------------------------------------------------------------------------
// SLA countdowns

function firstCustomerTs(conv) {
  const m = conv.messages.find((x) => x.from === 'customer' && typeof x.ts === 'number');
  return m ? m.ts : null;
}

// What the chip of a conversation shows at `now` (server time).
function slaView(conv, now) {
  const s = state.sla;
  if (!conv.greeted) {
    const start = conv.waitingSince ?? firstCustomerTs(conv);
    if (start === null) return { tone: 'idle', text: 'New', title: 'The customer has not written yet' };
    const elapsed = Math.max(0, now - start);
    if (elapsed < s.greeting_target_ms) {
      return { tone: 'ok', rule: 'greeting', text: `Greet · ${formatDuration(s.greeting_target_ms - elapsed + 999)}`,
        title: `Greet the customer within ${formatDuration(s.greeting_target_ms)}` };
    }
    if (elapsed < s.greeting_limit_ms) {
      return { tone: 'warn', rule: 'greeting', text: `Greet · ${formatDuration(s.greeting_limit_ms - elapsed + 999)}`,
        title: `Greeting target missed; greet before ${formatDuration(s.greeting_limit_ms)}` };
    }
    const over = elapsed - s.greeting_limit_ms;
    const computed = 1 + Math.floor(over / Math.max(1000, s.escalate_every_ms));
    const reported = conv.sla?.rule === 'greeting' ? conv.sla.level : 1;
    const level = Math.max(computed, reported);
    return { tone: 'over', rule: 'greeting', text: `Greet +${formatDuration(over)} · L${level}`,
      title: `No greeting after ${formatDuration(elapsed)}: escalation level ${level}` };
  }
  if (conv.waitingSince === null) return { tone: 'idle', text: 'Replied', title: 'No customer message is waiting' };
  const limit = s.reply_wait_limit_ms;
  const elapsed = Math.max(0, now - conv.waitingSince);
  if (elapsed < limit) {
    return { tone: elapsed < limit - REPLY_WARN_MS ? 'ok' : 'warn', rule: 'reply_wait',
      text: `Reply · ${formatDuration(limit - elapsed + 999)}`, title: `Answer within ${formatDuration(limit)}` };
  }
  return { tone: 'over', rule: 'reply_wait', text: `Reply +${formatDuration(elapsed - limit)}`,
    title: `The customer has waited ${formatDuration(elapsed)} for an answer` };
}

function paintChip(chip, view) {
  if (chip.textContent !== view.text) chip.textContent = view.text;
  if (chip.dataset.tone !== view.tone) chip.dataset.tone = view.tone;
  chip.dataset.rule = view.rule || '';
  if (chip.title !== view.title) chip.title = view.title;
}

function tick() {
  const now = clock.now();
  for (const conv of state.conversations.values()) {
    const view = slaView(conv, now);
    if (conv.chip) paintChip(conv.chip, view);
    if (state.selected === conv.id) paintChip(ui.convSla, view);
    if (conv.typingUntil && conv.typingUntil <= Date.now()) {
      conv.typingUntil = 0;
      renderListItem(conv);
      if (state.selected === conv.id) renderTyping();
    }
  }
}
setInterval(tick, 250);

// ---------------------------------------------------------------------------------------------
// Rendering

function initials(id) {
  const clean = (id || '?').replace(/^[a-z]-/i, '');
  return Array.from(clean).slice(0, 2).join('').toUpperCase();
}

// Customer ids are long random tokens: show their tail, like an order number (full id in title).
function customerLabel(id) {
  const clean = (id || '').replace(/^[a-z]-/i, '');
  return clean ? `Customer #${Array.from(clean).slice(-6).join('').toUpperCase()}` : 'Customer';
}

function hue(text) {
  let h = 0;
  for (const ch of text) h = (h * 31 + ch.codePointAt(0)) % 360;
  return h;
}

function renderTitle() {
  let unread = 0;
  for (const c of state.conversations.values()) unread += c.unread;
  document.title = `${unread ? `(${unread}) ` : ''}${state.shopName || 'chatdesk'} · Agent console`;
}

function renderStatus() {
  const toggle = ui.statusToggle;
  toggle.dataset.state = state.presence;
  toggle.classList.toggle('pending', state.statusPending);
  for (const button of toggle.querySelectorAll('button')) {
    button.setAttribute('aria-pressed', String(button.dataset.value === state.presence));
  }
  ui.queueHint.textContent = state.presence === 'available'
    ? 'You receive chats from the queue' : 'Go available to take chats';
}

function setStatus(value) {
  if (!send({ type: 'status', state: value })) return;
  state.wanted = value;
  state.statusPending = true;
  renderStatus();
}

ui.statusToggle.addEventListener('click', async (ev) => {
  const button = ev.target.closest('button[data-value]');
  if (!button || button.dataset.value === state.presence) return;
  const value = button.dataset.value;
  const open = state.conversations.size;
  if (value === 'away' && open > 0) {
    const ok = await confirmDialog({
      title: 'Go away with open conversations?',
      text: `Your ${open} open conversation${open > 1 ? 's go' : ' goes'} back to the queue, and this counts as a handover breach. Use “Handover…” to pass ${open > 1 ? 'them' : 'it'} to a colleague with a note instead.`,
      ok: 'Go away anyway',
    });
    if (!ok) return;
  }
  setStatus(value);
});

function renderDesk() {
  ui.queueLength.textContent = String(state.queue);
  ui.queueLength.classList.toggle('has-queue', state.queue > 0);
  const items = state.roster
    .slice()
    .sort((a, b) => (a.id === state.agent ? -1 : b.id === state.agent ? 1 : String(a.id).localeCompare(String(b.id))))
    .map((a) => el('li', { class: 'roster-item', dataset: { testid: 'roster-agent', agent: a.id, state: a.state } },
      el('span', { class: `dot dot-${a.state === 'available' ? 'available' : 'away'}`, 'aria-hidden': 'true' }),
      el('span', { class: 'roster-name', text: a.id }),
      a.id === state.agent ? el('span', { class: 'muted', text: '(you)' }) : null,
      el('span', { class: 'spacer' }),
      el('span', { class: 'muted roster-open', text: `${Number(a.open) || 0} open` })));
  if (!items.length) items.push(el('li', { class: 'empty-hint', text: 'Nobody else is signed in.' }));
  ui.roster.replaceChildren(...items);
}

function renderList() {
  const items = [];
  for (const conv of state.conversations.values()) {
    const chip = el('span', { class: 'sla-chip', dataset: { testid: 'sla-chip' } });
    const badge = el('span', { class: 'badge', dataset: { testid: 'unread-badge' } });
    const preview = el('span', { class: 'conv-preview' });
    const name = el('span', { class: 'conv-name' });
    const time = el('span', { class: 'conv-time muted' });
    const avatar = el('span', { class: 'avatar avatar-customer', 'aria-hidden': 'true' });
    const li = el('li', { class: 'conv-item', dataset: { testid: 'conversation-item', conversation: conv.id } },
      el('button', { type: 'button', class: 'conv-button', onclick: () => select(conv.id) },
        avatar,
        el('span', { class: 'conv-main' },
          el('span', { class: 'conv-row' }, name, time),
          el('span', { class: 'conv-row' }, preview, badge),
          el('span', { class: 'conv-row conv-row-chip' }, chip))));
    Object.assign(conv, { li, chip, badge, preview, nameNode: name, timeNode: time, avatarNode: avatar });
    renderListItem(conv);
    items.push(li);
  }
  ui.convList.replaceChildren(...items);
  ui.convEmpty.hidden = items.length > 0;
  ui.convEmpty.textContent = state.presence === 'available'
    ? 'No open conversations. New chats arrive here.' : 'No open conversations. Go available to take chats.';
  ui.openCount.textContent = String(items.length);
  renderTitle();
  tick();
}

function renderListItem(conv) {
  if (!conv.li) return;
  const last = conv.messages[conv.messages.length - 1];
  conv.li.classList.toggle('selected', state.selected === conv.id);
  conv.li.classList.toggle('offline', !conv.online);
  conv.li.classList.toggle('flagged', !!conv.sla);
  conv.li.dataset.sla = conv.sla ? conv.sla.severity : '';
  conv.nameNode.textContent = customerLabel(conv.customer);
  conv.nameNode.title = conv.customer;
  conv.avatarNode.style.setProperty('--hue', hue(conv.customer));
  conv.timeNode.textContent = last ? formatClock(last.ts) : '';
  if (conv.typingUntil) conv.preview.textContent = 'typing…';
  else if (last) conv.preview.textContent = `${last.from === 'agent' ? 'You: ' : ''}${truncateCodePoints(oneLine(last.text), 60)}`;
  else conv.preview.textContent = conv.note ? 'Handover note attached' : 'No messages yet';
  conv.preview.classList.toggle('is-typing', !!conv.typingUntil);
  conv.badge.textContent = conv.unread > 99 ? '99+' : String(conv.unread);
  conv.badge.hidden = conv.unread === 0;
  conv.badge.setAttribute('aria-label', `${conv.unread} unread`);
  renderTitle();
}

function select(id) {
  const previous = state.conversations.get(state.selected);
  if (previous && previous.id !== id) {
    previous.draft = ui.input.value;
    stopTyping(previous);
  }
  state.selected = id;
  const conv = state.conversations.get(id);
  if (conv) conv.unread = 0;
  renderList();
  renderSelected();
  if (conv) {
    ui.input.value = conv.draft;
    renderCharCount();
    if (!ui.input.disabled) ui.input.focus({ preventScroll: true });
  }
}

function renderSelected() {
  const conv = state.conversations.get(state.selected);
  ui.convView.hidden = !conv;
  ui.noSelection.hidden = !!conv;
  if (!conv) {
    ui.input.value = '';
    return;
  }
  renderHeader();
  ui.note.hidden = !conv.note;
  ui.noteText.textContent = conv.note;
  renderMessages();
  renderTyping();
  renderComposer();
  tick();
}

function renderHeader() {
  const conv = state.conversations.get(state.selected);
  if (!conv) return;
  ui.convCustomer.textContent = customerLabel(conv.customer);
  ui.convCustomer.title = conv.customer;
  ui.convAvatar.style.setProperty('--hue', hue(conv.customer));
  ui.convPresence.dataset.online = String(conv.online);
  ui.convPresence.querySelector('.presence-text').textContent = conv.online ? 'Online' : 'Disconnected — may come back';
  ui.convAssigned.textContent = `· ${conv.customer}${conv.assignedTs ? ` · assigned ${formatClock(conv.assignedTs)}` : ''}`;
}

function renderMessages() {
  const conv = state.conversations.get(state.selected);
  if (!conv) return;
  ui.messages.replaceChildren();
  for (const msg of conv.messages) appendMessage(msg, false);
  ui.messages.scrollTop = ui.messages.scrollHeight;
}

function appendMessage(msg, smooth = true) {
  const list = ui.messages;
  const nearBottom = list.scrollHeight - list.scrollTop - list.clientHeight < 80;
  const mine = msg.from === 'agent' && (!msg.agent || msg.agent === state.agent);
  const who = msg.from === 'customer' ? 'Customer' : mine ? 'You' : msg.agent;
  const status = el('span', { class: 'msg-status' });
  const time = el('time', { class: 'msg-time' });
  const node = el('li', { class: `msg ${msg.from === 'customer' ? 'msg-in' : 'msg-out'}${mine ? '' : msg.from === 'agent' ? ' msg-colleague' : ''}`,
    dataset: { testid: 'message', from: msg.from } },
    el('div', { class: 'msg-bubble', dataset: { testid: 'message-text' }, text: msg.text }),
    el('div', { class: 'msg-meta' }, el('span', { class: 'msg-who', text: who }), time, status));
  msg.node = node;
  msg.statusNode = status;
  msg.timeNode = time;
  renderMessageStatus(msg);
  list.append(node);
  if (nearBottom || mine) list.scrollTo({ top: list.scrollHeight, behavior: smooth ? 'smooth' : 'auto' });
}

function renderMessageStatus(msg) {
  if (!msg.node) return;
  msg.node.dataset.status = msg.status;
  msg.timeNode.textContent = formatClock(msg.ts);
  if (msg.ts) msg.timeNode.dateTime = new Date(msg.ts).toISOString();
  const labels = { pending: 'Sending…', sent: msg.from === 'agent' ? 'Sent' : '', failed: `Not sent${msg.error ? ` — ${msg.error}` : ''}` };
  msg.statusNode.textContent = labels[msg.status] ?? '';
  msg.statusNode.hidden = !msg.statusNode.textContent;
}

function renderTyping() {
  const conv = state.conversations.get(state.selected);
  ui.typing.hidden = !conv || !conv.typingUntil || conv.typingUntil <= Date.now();
}

function renderComposer() {
  const online = connection?.isOpen && state.welcomed;
  ui.input.disabled = !online;
  ui.send.disabled = !online || ui.input.value.trim() === '';
  ui.transferButton.disabled = !online;
  ui.closeButton.disabled = !online;
  ui.handoverButton.disabled = !online;
  for (const b of ui.statusToggle.querySelectorAll('button')) b.disabled = !online;
}

function renderCharCount() {
  const n = codePoints(ui.input.value);
  ui.charCount.textContent = `${n} character${n === 1 ? '' : 's'}`;
  ui.send.disabled = !(connection?.isOpen && state.welcomed) || ui.input.value.trim() === '';
}

// ---------------------------------------------------------------------------------------------
// Composer

function stopTyping(conv) {
  if (conv?.typingSent) {
    conv.typingSent = false;
    connection?.send({ type: 'typing', conversation: conv.id, state: 'stop' });
  }
}

ui.input.addEventListener('input', () => {
  const conv = state.conversations.get(state.selected);
  renderCharCount();
  if (!conv) return;
  conv.draft = ui.input.value;
  if (!conv.typingSent && ui.input.value !== '') {
    conv.typingSent = connection?.send({ type: 'typing', conversation: conv.id, state: 'start' }) ?? false;
  }
});

ui.input.addEventListener('blur', () => stopTyping(state.conversations.get(state.selected)));

ui.input.addEventListener('keydown', (ev) => {
  // Enter sends; Shift+Enter is a new line; Enter that confirms an IME composition does neither.
  if (ev.key === 'Enter' && !ev.shiftKey && !ev.isComposing && ev.keyCode !== 229) {
    ev.preventDefault();
    sendReply();
  }
});

ui.composer.addEventListener('submit', (ev) => {
  ev.preventDefault();
  sendReply();
});

function sendReply() {
  const conv = state.conversations.get(state.selected);
  const text = ui.input.value;
  if (!conv || text.trim() === '') return;
  const clientMsgId = newId('a');
  if (!send({ type: 'message', conversation: conv.id, text, client_msg_id: clientMsgId })) return;
  stopTyping(conv);
  const msg = { id: null, from: 'agent', agent: state.agent, text, ts: clock.now(), status: 'pending', node: null };
  conv.messages.push(msg);
  state.pending.set(clientMsgId, { conv, msg });
  conv.draft = '';
  ui.input.value = '';
  renderCharCount();
  appendMessage(msg);
  renderListItem(conv);
}

// ---------------------------------------------------------------------------------------------
// Transfer, close, handover

function fillTargets(select) {
  const options = [];
  const others = state.roster.filter((a) => a.id !== state.agent);
  for (const a of others) {
    const available = a.state === 'available';
    options.push(el('option', { value: a.id, disabled: !available,
      text: `${a.id} — ${available ? `available, ${Number(a.open) || 0} open` : 'away'}` }));
  }
  options.push(el('option', { value: '', text: 'Back to the queue (front)' }));
  select.replaceChildren(...options);
  const firstAvailable = others.find((a) => a.state === 'available');
  select.value = firstAvailable ? firstAvailable.id : '';
}

function openDialog(dialog) {
  return new Promise((resolve) => {
    dialog.returnValue = '';
    dialog.addEventListener('close', () => resolve(dialog.returnValue === 'ok'), { once: true });
    dialog.showModal();
  });
}

function confirmDialog({ title, text, ok }) {
  $('confirm-title').textContent = title;
  $('confirm-text').textContent = text;
  $('confirm-ok').textContent = ok;
  return openDialog(ui.confirmDialog);
}

ui.transferButton.addEventListener('click', async () => {
  const conv = state.conversations.get(state.selected);
  if (!conv) return;
  fillTargets(ui.transferTarget);
  ui.transferNote.value = '';
  if (!(await openDialog(ui.transferDialog))) return;
  if (!state.conversations.has(conv.id)) return;
  const frame = { type: 'transfer', conversation: conv.id, to: ui.transferTarget.value || null };
  const note = ui.transferNote.value.trim();
  if (note) frame.note = note;
  send(frame);
});

ui.closeButton.addEventListener('click', () => {
  const conv = state.conversations.get(state.selected);
  if (!conv) return;
  stopTyping(conv);
  send({ type: 'close', conversation: conv.id });
});

ui.handoverButton.addEventListener('click', async () => {
  const open = state.conversations.size;
  fillTargets(ui.handoverTarget);
  ui.handoverNote.value = '';
  ui.handoverSummary.textContent = open
    ? `All ${open} of your open conversation${open > 1 ? 's' : ''} go to the agent you pick, with your note. Use this at a shift change.`
    : 'You have no open conversations right now; nothing will be handed over.';
  if (!(await openDialog(ui.handoverDialog))) return;
  const frame = { type: 'handover', to: ui.handoverTarget.value || null };
  const note = ui.handoverNote.value.trim();
  if (note) frame.note = note;
  send(frame);
});

// ---------------------------------------------------------------------------------------------

function notify(options) {
  toast(ui.toasts, options);
}

document.addEventListener('visibilitychange', () => {
  if (!document.hidden && state.selected) {
    const conv = state.conversations.get(state.selected);
    if (conv && conv.unread) {
      conv.unread = 0;
      renderListItem(conv);
    }
  }
});

// Start: `?shop=&agent=` signs in at once; otherwise the form, pre-filled from the last sign-in.
// A link with `&token=` (chatdesk-token) signs in with it; shop and agent default to the token's.
{
  token = takeToken(TOKEN_KEY);
  const claims = tokenClaims(token);
  const fromToken = claims && claims.role === 'agent' ? claims : {};
  const params = new URLSearchParams(location.search);
  const shop = params.get('shop') || (typeof fromToken.shop === 'string' ? fromToken.shop : '');
  const agent = params.get('agent') || (typeof fromToken.sub === 'string' ? fromToken.sub : '');
  const saved = readLogin();
  ui.loginShop.value = shop || saved.shop || '';
  ui.loginAgent.value = agent || saved.agent || '';
  if (shop && agent) signIn(shop, agent);
  else showLogin();
}
