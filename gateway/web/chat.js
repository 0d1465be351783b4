// Customer chat page (/chat?shop=S): mobile-first chat with a shop's desk over /ws/customer.
// Keeps {customer, resume} per shop in sessionStorage to resume the conversation after a dropped
// connection or a reload. Wire contract: docs/protocol.md. All chat text goes through textContent.

import { el, newId, formatClock, wsUrl, Connection } from '/static/common.js';

const TYPING_EVERY_MS = 2000;        // at most one `typing` frame per 2 s
const AGENT_TYPING_VISIBLE_MS = 6000;

const STRINGS = {
  zh: {
    title: '在线客服',
    connecting: '正在连接…',
    reconnecting: '连接已断开，正在重新连接…',
    queued: '正在为您接入客服，请稍候',
    queuedOffline: '客服不在线 · 您可以先留言',
    assigned: (agent) => `客服 ${agent} 为您服务`,
    joined: (agent) => `客服 ${agent} 已加入对话`,
    closed: '对话已结束',
    closedByAgent: '客服已结束本次对话，感谢您的咨询。',
    closedByCustomer: '您已结束本次对话，感谢您的咨询。',
    newChat: '开始新的对话',
    end: '结束对话',
    endConfirm: '确认结束？',
    placeholder: '请输入消息…',
    send: '发送',
    pending: '发送中…',
    sent: '已发送',
    failed: '发送失败',
    tooLong: '消息过长',
    you: '我',
    agentTyping: (agent) => `${agent || '客服'} 正在输入…`,
    offline: (when) => `客服暂时不在线。您可以先留言，我们将于 ${when} 上线后尽快回复您。`,
    offlineUnknown: '客服暂时不在线。您可以先留言，上线后我们会尽快回复您。',
    expired: '上一段对话已超时，已为您开始新的对话。',
    welcome: '您好！请描述您的问题，客服会尽快回复您。',
    noShop: '链接缺少店铺信息（?shop=…），无法开始对话。',
    error: '出了点问题，请稍后再试。',
    unreachable: '暂时无法连接客服，正在重试…',
  },
  en: {
    title: 'Customer service',
    connecting: 'Connecting…',
    reconnecting: 'Connection lost — reconnecting…',
    queued: 'Waiting for an agent — we’ll be with you shortly',
    queuedOffline: 'Offline · leave a message',
    assigned: (agent) => `${agent} is helping you`,
    joined: (agent) => `${agent} joined the chat`,
    closed: 'Chat ended',
    closedByAgent: 'The agent ended this chat. Thank you for contacting us.',
    closedByCustomer: 'You ended this chat. Thank you for contacting us.',
    newChat: 'Start a new chat',
    end: 'End chat',
    endConfirm: 'End now?',
    placeholder: 'Type a message…',
    send: 'Send',
    pending: 'Sending…',
    sent: 'Sent',
    failed: 'Not sent',
    tooLong: 'Message too long',
    you: 'You',
    agentTyping: (agent) => `${agent || 'The agent'} is typing…`,
    offline: (when) => `We’re offline right now. Leave a message and we’ll reply when we open at ${when}.`,
    offlineUnknown: 'We’re offline right now. Leave a message and we’ll reply as soon as we open.',
    expired: 'Your previous chat timed out, so this is a new one.',
    welcome: 'Hello! Tell us how we can help and an agent will reply shortly.',
    noShop: 'This link does not name a shop (?shop=…), so a chat cannot start.',
    error: 'Something went wrong. Please try again.',
    unreachable: 'We can’t reach customer service right now. Retrying…',
  },
};

const params = new URLSearchParams(location.search);
const shop = params.get('shop') || '';
const lang = (params.get('lang') || navigator.language || 'zh').toLowerCase().startsWith('zh') ? 'zh' : 'en';
const T = STRINGS[lang];
const storageKey = `chatdesk.customer.${shop}`;

const $ = (id) => document.getElementById(id);
const ui = {
  shopName: $('shop-name'), shopAvatar: $('shop-avatar'), status: $('chat-status'), endButton: $('end-button'),
  notice: $('chat-notice'), messages: $('chat-messages'), typing: $('agent-typing'), typingText: $('agent-typing-text'),
  closed: $('chat-closed'), closedText: $('chat-closed-text'), newChat: $('new-chat-button'), form: $('chat-form'),
  input: $('chat-input'), send: $('send-button'),
};

const state = {
  conversation: null,
  agent: '',
  phase: 'connecting',   // connecting | reconnecting | queued | assigned | closed
  deskOpen: true,
  outbox: new Map(),     // client_msg_id -> message not acked yet (re-sent after a reconnect)
  lastTypingSent: 0,
  typingTimer: null,
  noticeTimer: null,
  endArmed: null,
};
let connection = null;

// ---------------------------------------------------------------------------------------------
// Storage of the resume secret

function loadSession() {
  try { return JSON.parse(sessionStorage.getItem(storageKey)) || null; } catch { return null; }
}
function saveSession(value) {
  try {
    if (value) sessionStorage.setItem(storageKey, JSON.stringify(value));
    else sessionStorage.removeItem(storageKey);
  } catch { /* storage disabled: resume only within this page */ }
}

// ---------------------------------------------------------------------------------------------
// Rendering

function setPhase(phase) {
  state.phase = phase;
  const texts = {
    connecting: T.connecting,
    reconnecting: T.reconnecting,
    queued: state.deskOpen ? T.queued : T.queuedOffline,
    assigned: T.assigned(state.agent),
    closed: T.closed,
  };
  ui.status.dataset.state = phase;
  ui.status.dataset.desk = state.deskOpen ? 'open' : 'closed';
  ui.status.querySelector('.chat-status-text').textContent = texts[phase] ?? '';
  const closed = phase === 'closed';
  ui.closed.hidden = !closed;
  ui.form.hidden = closed;
  ui.endButton.hidden = closed;
  if (closed) {
    ui.typing.hidden = true;
    showNotice('');
  }
  updateSendButton();
}

function setShopName(name) {
  ui.shopName.textContent = name || T.title;
  ui.shopAvatar.textContent = Array.from(name || T.title)[0].toUpperCase();
  document.title = `${name || shop} · ${T.title}`;
}

function showNotice(text, { kind = 'info', timeout = 0 } = {}) {
  clearTimeout(state.noticeTimer);
  ui.notice.textContent = text;
  ui.notice.dataset.kind = kind;
  ui.notice.hidden = !text;
  if (text && timeout) state.noticeTimer = setTimeout(() => { ui.notice.hidden = true; }, timeout);
}

function systemLine(text) {
  ui.messages.append(el('li', { class: 'sys', dataset: { testid: 'chat-system' } }, el('span', { text })));
  scrollDown();
}

function scrollDown() {
  ui.messages.scrollTo({ top: ui.messages.scrollHeight, behavior: 'smooth' });
}

// A message bubble. `mine`: written by this customer.
function bubble({ text, ts, mine, agent, status }) {
  const meta = el('div', { class: 'msg-meta' },
    mine ? null : el('span', { class: 'msg-who', text: agent || T.title }),
    el('time', { class: 'msg-time', text: formatClock(ts) }),
    mine ? el('span', { class: 'msg-status' }) : null);
  const node = el('li', { class: `msg ${mine ? 'msg-out' : 'msg-in'}`, dataset: { testid: 'chat-message', from: mine ? 'customer' : 'agent' } },
    el('div', { class: 'msg-bubble', dataset: { testid: 'chat-message-text' }, text }),
    meta);
  if (mine) setBubbleStatus(node, status || 'sent', ts);
  return node;
}

function setBubbleStatus(node, status, ts, reason = '') {
  node.dataset.status = status;
  const label = { pending: T.pending, sent: T.sent, failed: reason ? `${T.failed} · ${reason}` : T.failed }[status];
  node.querySelector('.msg-status').textContent = label;
  if (ts) node.querySelector('.msg-time').textContent = formatClock(ts);
}

function renderHistory(history) {
  ui.messages.replaceChildren();
  systemLine(T.welcome);
  let lastAgent = '';
  for (const m of history) {
    if (m.from === 'agent' && m.agent && m.agent !== lastAgent) {
      systemLine(T.joined(m.agent));
      lastAgent = m.agent;
    }
    ui.messages.append(bubble({ text: m.text ?? '', ts: m.ts, mine: m.from === 'customer', agent: m.agent }));
  }
  for (const entry of state.outbox.values()) ui.messages.append(entry.node);
  ui.messages.scrollTop = ui.messages.scrollHeight;
}

function updateSendButton() {
  const empty = ui.input.value.trim() === '';
  ui.send.disabled = empty || state.phase === 'closed';
}

// ---------------------------------------------------------------------------------------------
// Connection

function connect() {
  connection?.stop();
  connection = new Connection({
    url: () => {
      const saved = loadSession();
      return wsUrl('/ws/customer', { shop, customer: saved?.customer, resume: saved?.resume });
    },
    onFrame: handleFrame,
    onDrop: (_ev, wasOpen) => {
      state.failures = wasOpen ? 0 : (state.failures || 0) + 1;
      if (state.failures >= 3) showNotice(T.unreachable, { kind: 'error' });
    },
    onState: (s) => {
      if (state.phase === 'closed') return;
      if (s === 'connecting' && state.conversation === null) setPhase('connecting');
      else if (s === 'waiting') setPhase(state.conversation === null ? 'connecting' : 'reconnecting');
    },
  });
  connection.start();
}

function handleFrame(f) {
  switch (f.type) {
    case 'welcome': return onWelcome(f);
    case 'assigned': return onAssigned(f);
    case 'message': return onMessage(f);
    case 'typing': return onTyping(f);
    case 'ack': return onAck(f);
    case 'closed': return onClosed(f);
    case 'notice': return onNotice(f);
    case 'error': return onError(f);
    default: console.debug('chatdesk: ignoring frame', f.type);
  }
}

function onWelcome(f) {
  const saved = loadSession();
  const resumed = saved?.conversation === f.conversation;
  const expired = !!saved?.conversation && !resumed;
  saveSession({ customer: f.customer, resume: f.resume, conversation: f.conversation });
  state.failures = 0;
  state.conversation = f.conversation;
  state.agent = f.state === 'assigned' ? (f.agent || '') : '';
  state.deskOpen = f.desk_open !== false;
  setShopName(f.shop_name || f.shop || shop);
  renderHistory(Array.isArray(f.history) ? f.history : []);
  if (expired) systemLine(T.expired);
  if (state.agent && !(f.history || []).some((m) => m.agent === state.agent)) systemLine(T.joined(state.agent));
  setPhase(state.agent ? 'assigned' : 'queued');
  if (f.desk_open !== false) showNotice('');
  // Messages written while disconnected (or never acked) go out now.
  for (const [id, entry] of state.outbox) {
    connection.send({ type: 'message', text: entry.text, client_msg_id: id });
  }
}

function onAssigned(f) {
  state.agent = f.agent || '';
  state.deskOpen = true;
  setPhase('assigned');
  systemLine(T.joined(state.agent));
  showNotice('');
}

function onMessage(f) {
  if (f.conversation && state.conversation && f.conversation !== state.conversation) return;
  if (f.from === 'customer') return;  // our own messages come back as acks, not echoes
  if (f.agent && f.agent !== state.agent) {
    state.agent = f.agent;
    if (state.phase !== 'closed') setPhase('assigned');
  }
  hideAgentTyping();
  ui.messages.append(bubble({ text: f.text ?? '', ts: f.ts, mine: false, agent: f.agent || state.agent }));
  scrollDown();
  if (document.hidden) document.title = `(●) ${ui.shopName.textContent} · ${T.title}`;
}

function onTyping(f) {
  if (f.from !== 'agent') return;
  if (f.state === 'stop') return hideAgentTyping();
  ui.typingText.textContent = T.agentTyping(f.agent || state.agent);
  ui.typing.hidden = false;
  clearTimeout(state.typingTimer);
  state.typingTimer = setTimeout(hideAgentTyping, AGENT_TYPING_VISIBLE_MS);
}

function hideAgentTyping() {
  clearTimeout(state.typingTimer);
  ui.typing.hidden = true;
}

function onAck(f) {
  const entry = state.outbox.get(f.client_msg_id);
  if (!entry) return;
  state.outbox.delete(f.client_msg_id);
  entry.node.dataset.id = f.id || '';
  setBubbleStatus(entry.node, 'sent', f.ts);
}

function onClosed(f) {
  if (f.conversation && state.conversation && f.conversation !== state.conversation) return;
  connection?.stop();
  saveSession(null);
  for (const [, entry] of state.outbox) setBubbleStatus(entry.node, 'failed');
  state.outbox.clear();
  ui.closedText.textContent = f.by === 'customer' ? T.closedByCustomer : T.closedByAgent;
  systemLine(T.closed);
  setPhase('closed');
}

function onNotice(f) {
  if (f.code === 'desk_offline') {
    const when = typeof f.opens_at === 'number' ? formatOpening(f.opens_at) : '';
    showNotice(when ? T.offline(when) : T.offlineUnknown, { kind: 'offline' });
  } else if (f.message) {
    showNotice(f.message);
  }
}

function formatOpening(ts) {
  const date = new Date(ts);
  const sameDay = date.toDateString() === new Date().toDateString();
  const options = sameDay
    ? { hour: '2-digit', minute: '2-digit', hour12: false }
    : { month: 'short', day: 'numeric', weekday: 'short', hour: '2-digit', minute: '2-digit', hour12: false };
  return new Intl.DateTimeFormat(lang === 'zh' ? 'zh-CN' : undefined, options).format(date);
}

function onError(f) {
  if (f.code === 'conversation_closed') return onClosed({ by: 'agent' });
  const entry = f.client_msg_id ? state.outbox.get(f.client_msg_id) : null;
  if (entry) {
    state.outbox.delete(f.client_msg_id);
    setBubbleStatus(entry.node, 'failed', null, f.code === 'too_large' ? T.tooLong : '');
  }
  showNotice(f.code === 'too_large' ? T.tooLong : T.error, { kind: 'error', timeout: 5000 });
}

// ---------------------------------------------------------------------------------------------
// Composer

function sendMessage() {
  const text = ui.input.value;
  if (text.trim() === '' || state.phase === 'closed') return;
  const id = newId('c');
  const node = bubble({ text, ts: Date.now(), mine: true, status: 'pending' });
  state.outbox.set(id, { text, node });
  ui.messages.append(node);
  scrollDown();
  ui.input.value = '';
  autoGrow();
  updateSendButton();
  state.lastTypingSent = 0;
  // Sent now if connected; otherwise after the next welcome.
  connection?.send({ type: 'message', text, client_msg_id: id });
}

function autoGrow() {
  ui.input.style.height = 'auto';
  ui.input.style.height = `${Math.min(ui.input.scrollHeight, 120)}px`;
}

ui.input.addEventListener('input', () => {
  autoGrow();
  updateSendButton();
  const now = Date.now();
  if (ui.input.value !== '' && now - state.lastTypingSent >= TYPING_EVERY_MS) {
    if (connection?.send({ type: 'typing' })) state.lastTypingSent = now;
  }
});

ui.input.addEventListener('keydown', (ev) => {
  if (ev.key === 'Enter' && !ev.shiftKey && !ev.isComposing && ev.keyCode !== 229) {
    ev.preventDefault();
    sendMessage();
  }
});

ui.form.addEventListener('submit', (ev) => {
  ev.preventDefault();
  sendMessage();
  ui.input.focus();
});

// End chat asks once more on the button itself (no modal on a phone), then sends `close`.
ui.endButton.addEventListener('click', () => {
  if (!state.endArmed) {
    ui.endButton.textContent = T.endConfirm;
    ui.endButton.classList.add('armed');
    state.endArmed = setTimeout(disarmEnd, 3000);
    return;
  }
  disarmEnd();
  if (!connection?.send({ type: 'close' })) onClosed({ by: 'customer' });
});

function disarmEnd() {
  clearTimeout(state.endArmed);
  state.endArmed = null;
  ui.endButton.textContent = T.end;
  ui.endButton.classList.remove('armed');
}

ui.newChat.addEventListener('click', () => {
  saveSession(null);
  state.conversation = null;
  state.agent = '';
  state.outbox.clear();
  ui.messages.replaceChildren();
  setPhase('connecting');
  connect();
  ui.input.focus();
});

document.addEventListener('visibilitychange', () => {
  if (!document.hidden) setShopName(ui.shopName.textContent);
});

// ---------------------------------------------------------------------------------------------
// Start

document.documentElement.lang = lang === 'zh' ? 'zh-CN' : 'en';
ui.input.placeholder = T.placeholder;
document.getElementById('send-label').textContent = T.send;
ui.send.title = T.send;
ui.newChat.textContent = T.newChat;
ui.endButton.textContent = T.end;
setShopName('');
setPhase('connecting');
if (shop) {
  connect();
} else {
  ui.form.hidden = true;
  ui.endButton.hidden = true;
  showNotice(T.noShop, { kind: 'error' });
  ui.status.querySelector('.chat-status-text').textContent = '';
}
