// Baseline relay for the chatdesk benchmarks (docs/benchmarks.md, scenario 2): what a shop might
// write instead of chatdesk, in Node.js on the `ws` package. It speaks the subset of
// docs/protocol.md that chatdesk-bench-load uses, with the same frames and fields:
//   GET /healthz → 200 ok
//   WS /ws/customer?shop=S[&customer=C]   → welcome {conversation, customer, state:"queued"}
//   WS /ws/agent?shop=S&agent=A           → welcome {agent, state:"away"}
//   agent {type:status, state:available|away} → status; queued customers are assigned to the
//     available agent with the fewest open conversations (below max_concurrent 5):
//     agent gets assigned {conversation, customer, history:[]}, customer gets assigned {agent}
//   customer {type:message, text, client_msg_id} → ack to the sender, message to the owner
//   agent {type:message, conversation, text, client_msg_id} → ack, message to the customer
//   bad frames → error {code: bad_request | unknown_type | too_large | not_owner}
// Nothing else: no SLA rules, metrics, Redis, history, resume, limits or auth. One process, one
// thread (Node's event loop), all state in memory.
//
// Usage: node relay.mjs --port P [--host 127.0.0.1]

import http from 'node:http';
import crypto from 'node:crypto';
import { WebSocketServer } from 'ws';

const args = process.argv.slice(2);
let host = '127.0.0.1';
let port = 0;
for (let i = 0; i < args.length; i++) {
  if (args[i] === '--port') port = Number(args[++i]);
  else if (args[i] === '--host') host = args[++i];
  else {
    console.error('usage: node relay.mjs --port P [--host 127.0.0.1]');
    process.exit(2);
  }
}

const MAX_CONCURRENT = 5;
const MAX_TEXT_CHARS = 5000;
const ID = /^[A-Za-z0-9_.:-]{1,64}$/;

const shops = new Map(); // shop id → { agents: Map<id, Agent>, queue: Conversation[] }
const conversations = new Map(); // conversation id → Conversation
const customerIds = new Set(); // "<shop>/<customer>" in use

function shopOf(id) {
  let shop = shops.get(id);
  if (!shop) {
    shop = { id, agents: new Map(), queue: [] };
    shops.set(id, shop);
  }
  return shop;
}

const hex = (bytes) => crypto.randomBytes(bytes).toString('hex');
const send = (ws, frame) => {
  if (ws && ws.readyState === 1) ws.send(JSON.stringify(frame));
};
const error = (ws, code, message, clientMsgId) => {
  const frame = { type: 'error', code, message };
  if (clientMsgId !== undefined) frame.client_msg_id = clientMsgId;
  send(ws, frame);
};

function pickAgent(shop) {
  let best = null;
  for (const a of shop.agents.values()) {
    if (!a.available || a.open.size >= MAX_CONCURRENT) continue;
    if (!best || a.open.size < best.open.size) best = a;
  }
  return best;
}

function dispatch(shop) {
  while (shop.queue.length > 0) {
    const agent = pickAgent(shop);
    if (!agent) return;
    const c = shop.queue.shift();
    c.owner = agent;
    agent.open.add(c);
    send(agent.ws, {
      type: 'assigned', conversation: c.id, customer: c.customer, history: [], note: '',
      ts: Date.now(), waiting_since: null, greeted: false, customer_online: c.ws !== null,
    });
    send(c.ws, { type: 'assigned', conversation: c.id, agent: agent.id });
  }
}

function textError(text) {
  if (typeof text !== 'string') return 'bad_request';
  const chars = [...text].length;
  return chars === 0 || chars > MAX_TEXT_CHARS ? 'too_large' : null;
}

function parse(ws, data, isBinary) {
  if (isBinary) return error(ws, 'bad_request', 'binary frames are not accepted; send JSON text');
  let frame;
  try {
    frame = JSON.parse(data);
  } catch {
    return error(ws, 'bad_request', 'not JSON');
  }
  if (frame === null || typeof frame !== 'object' || Array.isArray(frame))
    return error(ws, 'bad_request', 'not an object');
  return frame;
}

// Relays one chat message of `from` in conversation `c` to the other side.
function relay(ws, c, from, agentId, frame) {
  const bad = textError(frame.text);
  if (bad) return error(ws, bad, 'bad text', frame.client_msg_id);
  if (typeof frame.client_msg_id !== 'string' || !ID.test(frame.client_msg_id))
    return error(ws, 'bad_request', 'client_msg_id must be 1-64 id characters');
  const ts = Date.now();
  const id = `${c.id}:${++c.seq}`;
  send(ws, { type: 'ack', client_msg_id: frame.client_msg_id, id, ts });
  const message = {
    type: 'message', conversation: c.id, id, from, agent: agentId, text: frame.text, ts,
  };
  if (from === 'customer') {
    if (c.owner) send(c.owner.ws, message);
  } else {
    send(c.ws, message);
  }
}

function onCustomer(ws, shop, wanted) {
  let customer = wanted;
  if (!customer || !ID.test(customer) || customerIds.has(`${shop.id}/${customer}`))
    customer = `u-${hex(8)}`;
  customerIds.add(`${shop.id}/${customer}`);
  const c = { id: `c-${hex(8)}`, shop, customer, ws, owner: null, seq: 0 };
  conversations.set(c.id, c);
  send(ws, {
    type: 'welcome', conversation: c.id, customer, resume: hex(16), shop: shop.id,
    shop_name: shop.id, state: 'queued', desk_open: true, history: [],
  });
  shop.queue.push(c);
  dispatch(shop);

  ws.on('message', (data, isBinary) => {
    const frame = parse(ws, data, isBinary);
    if (!frame) return;
    if (frame.type !== 'message') return error(ws, 'unknown_type', 'unknown type', frame.client_msg_id);
    relay(ws, c, 'customer', c.owner ? c.owner.id : '', frame);
  });
  ws.on('close', () => {
    c.ws = null;
    conversations.delete(c.id);
    customerIds.delete(`${shop.id}/${customer}`);
    if (c.owner) c.owner.open.delete(c);
    else shop.queue.splice(shop.queue.indexOf(c), 1);
  });
}

function onAgent(ws, shop, id) {
  const old = shop.agents.get(id);
  if (old) {
    error(old.ws, 'replaced', 'this agent connected again elsewhere');
    old.ws.close(1008, 'replaced');
  }
  const agent = { id, ws, available: false, open: old ? old.open : new Set() };
  shop.agents.set(id, agent);
  for (const c of agent.open) c.owner = agent;
  send(ws, { type: 'welcome', agent: id, shop: shop.id, shop_name: shop.id, state: 'away',
             max_concurrent: MAX_CONCURRENT });

  ws.on('message', (data, isBinary) => {
    const frame = parse(ws, data, isBinary);
    if (!frame) return;
    if (frame.type === 'message') {
      const c = conversations.get(frame.conversation);
      if (!c || c.owner !== agent)
        return error(ws, 'not_owner', 'conversation is not yours', frame.client_msg_id);
      return relay(ws, c, 'agent', agent.id, frame);
    }
    if (frame.type === 'status' && (frame.state === 'available' || frame.state === 'away')) {
      agent.available = frame.state === 'available';
      if (!agent.available) {
        for (const c of agent.open) {
          c.owner = null;
          shop.queue.unshift(c);
        }
        agent.open.clear();
      }
      send(ws, { type: 'status', state: frame.state });
      return dispatch(shop);
    }
    error(ws, frame.type === 'status' ? 'bad_request' : 'unknown_type', 'unsupported frame');
  });
  ws.on('close', () => {
    if (shop.agents.get(id) !== agent) return; // replaced
    shop.agents.delete(id);
    for (const c of agent.open) {
      c.owner = null;
      shop.queue.unshift(c);
    }
    dispatch(shop);
  });
}

const wss = new WebSocketServer({ noServer: true, perMessageDeflate: false, maxPayload: 65536 });
const server = http.createServer((req, res) => {
  if (req.url === '/healthz') {
    res.writeHead(200, { 'content-type': 'text/plain' }).end('ok');
  } else {
    res.writeHead(404).end();
  }
});
server.on('upgrade', (req, socket, head) => {
  const url = new URL(req.url, 'http://relay');
  const shopId = url.searchParams.get('shop');
  const refuse = (status) => {
    socket.end(`HTTP/1.1 ${status} ${http.STATUS_CODES[status]}\r\nContent-Length: 0\r\n\r\n`);
  };
  if (url.pathname !== '/ws/customer' && url.pathname !== '/ws/agent') return refuse(404);
  if (!shopId) return refuse(400);
  const agentId = url.searchParams.get('agent');
  if (url.pathname === '/ws/agent' && (!agentId || !ID.test(agentId))) return refuse(400);
  wss.handleUpgrade(req, socket, head, (ws) => {
    socket.setNoDelay(true);
    const shop = shopOf(shopId);
    if (url.pathname === '/ws/agent') onAgent(ws, shop, agentId);
    else onCustomer(ws, shop, url.searchParams.get('customer'));
  });
});
server.listen(port, host, () => {
  console.error(`chatdesk-bench node relay listening on ${host}:${server.address().port}`);
});
const stop = () => {
  for (const ws of wss.clients) ws.terminate();
  process.exit(0);
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
