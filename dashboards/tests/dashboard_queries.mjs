// Helpers shared by the dashboard lint (lint_dashboards.mjs) and the live Prometheus test
// (live_prometheus.test.mjs); node only, no npm packages.
//
//   - the queries of a Grafana dashboard: panel targets (rows flattened), template variables
//     (label_values(...) split into selector and label), annotations;
//   - Grafana's variables in an expr replaced by concrete values ($shop, $__range, $__rate_interval, ...);
//   - small process and network helpers: a free loopback port, HTTP GET, a minimal WebSocket client,
//     child processes with a bounded log, a redis-server and one-command Redis client, and the
//     gateway started on a free port with a temporary config (alone, or as one of several nodes on a
//     shared redis-server).

import { spawn } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';

// ------------------------------------------------------------------------------------------------
// Dashboard queries
// ------------------------------------------------------------------------------------------------

// The panels of a dashboard, with the panels of rows (collapsed rows hold theirs in "panels").
export function panelsOf(dashboard) {
  const out = [];
  for (const p of dashboard?.panels ?? []) {
    if (p.type === 'row') out.push(...(p.panels ?? []));
    else out.push(p);
  }
  return out;
}

// The query of a template variable (a string, or the query editor's { query } object).
export function variableQuery(v) {
  return typeof v?.query === 'string' ? v.query : v?.query?.query;
}

// label_values(<selector>, <label>) -> { match, label }; null for any other variable query.
export function parseLabelValues(query) {
  const m = typeof query === 'string' && query.match(/^label_values\((.*),\s*([a-zA-Z_][a-zA-Z0-9_]*)\)$/s);
  return m ? { match: m[1].trim(), label: m[2] } : null;
}

// Every query of a dashboard, in order: template variables (type query), annotations (not the
// built-in one), panel targets. Each is { file, kind: 'variable'|'annotation'|'panel', where, expr,
// ... }: variables add name, regex and the variable; panels add title, refId, instant and the panel.
export function dashboardQueries(file, dashboard) {
  const out = [];
  for (const v of dashboard?.templating?.list ?? []) {
    const q = variableQuery(v);
    if (v.type !== 'query' || !q) continue;
    out.push({ file, kind: 'variable', where: `${file} variable ${v.name}`, name: v.name, expr: q, regex: v.regex || '', variable: v });
  }
  for (const [i, a] of (dashboard?.annotations?.list ?? []).entries()) {
    if (a.builtIn) continue;
    out.push({ file, kind: 'annotation', where: `${file} annotation ${a.name ?? i}`, name: a.name, expr: a.expr ?? a.target?.expr });
  }
  for (const p of panelsOf(dashboard)) {
    for (const t of p.targets ?? []) {
      out.push({
        file, kind: 'panel', where: `${file} panel ${JSON.stringify(p.title ?? p.id)} target ${t.refId}`,
        title: p.title, refId: t.refId, expr: t.expr, instant: t.instant === true && t.range !== true, panel: p,
      });
    }
  }
  return out;
}

// A Prometheus duration ("90s", "1h", "1m30s") in seconds.
export function durationSeconds(d) {
  const units = { ms: 0.001, s: 1, m: 60, h: 3600, d: 86400, w: 604800, y: 31536000 };
  let total = 0;
  const re = /(\d+(?:\.\d+)?)(ms|s|m|h|d|w|y)/gy;
  let m;
  let at = 0;
  while ((m = re.exec(d)) !== null) { total += Number(m[1]) * units[m[2]]; at = re.lastIndex; }
  if (at !== d.length || at === 0) throw new Error(`bad duration ${JSON.stringify(d)}`);
  return total;
}

// `expr` with Grafana's variables replaced: $__range / $__interval / $__rate_interval by the
// Prometheus durations given (and their _s / _ms forms by numbers), every other $name / ${name} /
// ${name:format} by vars[name] or, when not given, by `other` (a regex matching anything).
export function substituteVariables(expr, { range = '1h', interval = '1m', rateInterval = '1m', vars = {}, other = '.*' } = {}) {
  const builtin = {
    __range: range, __range_s: String(durationSeconds(range)), __range_ms: String(durationSeconds(range) * 1000),
    __interval: interval, __interval_ms: String(durationSeconds(interval) * 1000),
    __rate_interval: rateInterval,
  };
  return expr.replace(/\$\{([a-zA-Z_][a-zA-Z0-9_]*)(?::[^}]*)?\}|\$([a-zA-Z_][a-zA-Z0-9_]*)/g, (_, a, b) => {
    const name = a ?? b;
    if (Object.prototype.hasOwnProperty.call(builtin, name)) return builtin[name];
    return Object.prototype.hasOwnProperty.call(vars, name) ? vars[name] : other;
  });
}

// A Grafana variable's regex ("/^(?!none$).+$/", or without slashes) as a RegExp; null when none.
export function variableRegex(regex) {
  if (!regex) return null;
  const m = regex.match(/^\/(.*)\/([gimsuy]*)$/s);
  return m ? new RegExp(m[1], m[2].replace('g', '')) : new RegExp(regex);
}

// Several values of a multi-value variable as Grafana writes them into a Prometheus query:
// regex-escaped, joined with |, in parentheses.
export function multiValueRegex(values) {
  return `(${values.map((v) => v.replace(/[\\^$.|?*+()[\]{}]/g, '\\$&')).join('|')})`;
}

// ------------------------------------------------------------------------------------------------
// Processes and network
// ------------------------------------------------------------------------------------------------

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// `promise`, or null once `ms` have passed first; the timer does not outlive the race.
async function within(promise, ms) {
  let timer;
  try {
    return await Promise.race([promise, new Promise((r) => { timer = setTimeout(() => r(null), ms); })]);
  } finally {
    clearTimeout(timer);
  }
}

// A loopback port that was free a moment ago: listen on port 0, read the port, close.
export function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.unref();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => { const { port } = s.address(); s.close(() => resolve(port)); });
  });
}

// GET `url`: { status, body } (status 0 when it failed or timed out).
export function httpGet(url, { timeoutMs = 2000 } = {}) {
  return new Promise((resolve) => {
    const req = http.get(url, { timeout: timeoutMs }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c) => { body += c; });
      res.on('end', () => resolve({ status: res.statusCode, body }));
    });
    req.on('timeout', () => { req.destroy(); resolve({ status: 0, body: '' }); });
    req.on('error', () => resolve({ status: 0, body: '' }));
  });
}

// A minimal WebSocket client (RFC 6455): handshake, then masked text frames. Enough to act as a
// customer or a lead page; server frames are not read.
export function wsConnect(port, pathAndQuery) {
  return new Promise((resolve, reject) => {
    const sock = net.connect(port, '127.0.0.1');
    const key = crypto.randomBytes(16).toString('base64');
    let head = '';
    const timer = setTimeout(() => { sock.destroy(); reject(new Error('WebSocket handshake timed out')); }, 5000);
    sock.on('error', (e) => { clearTimeout(timer); reject(e); });
    sock.on('connect', () => {
      sock.write(`GET ${pathAndQuery} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
        `Sec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\n\r\n`);
    });
    const onData = (chunk) => {
      head += chunk.toString('latin1');
      if (!head.includes('\r\n\r\n')) return;
      sock.off('data', onData);
      clearTimeout(timer);
      if (!/^HTTP\/1\.1 101/.test(head)) { sock.destroy(); reject(new Error(`WebSocket upgrade refused: ${head.split('\r\n')[0]}`)); return; }
      sock.on('data', () => {}); // drain server frames
      sock.on('error', () => {}); // the gateway going away later is not an error here
      resolve({
        send(text) {
          const payload = Buffer.from(text, 'utf8');
          if (payload.length > 125) throw new Error('frame too long for this client');
          const mask = crypto.randomBytes(4);
          const frame = Buffer.alloc(6 + payload.length);
          frame[0] = 0x81; // FIN, text
          frame[1] = 0x80 | payload.length;
          mask.copy(frame, 2);
          for (let i = 0; i < payload.length; i++) frame[6 + i] = payload[i] ^ mask[i % 4];
          sock.write(frame);
        },
        close() { sock.destroy(); },
      });
    };
    sock.on('data', onData);
  });
}

// Children still running when this process exits are killed (by their pid).
const running = new Set();
process.on('exit', () => {
  for (const child of running) {
    try { child.kill('SIGKILL'); } catch { /* already gone */ }
  }
});

// Starts `bin args` with stdout and stderr kept (the last `keepLines` lines, each prefixed with
// `name`). Returns { child, name, log(), lines(), exited() (null while running, else { code, signal,
// error }), exitPromise, stop({ graceMs }) }: stop sends SIGTERM, waits up to graceMs, then SIGKILL;
// it resolves to { how: 'exited' | 'term' | 'kill', ... }.
export function startProcess(bin, args, { name = path.basename(bin), keepLines = 400 } = {}) {
  const kept = [];
  const keep = (stream) => {
    let partial = '';
    return (chunk) => {
      const parts = (partial + chunk.toString()).split('\n');
      partial = parts.pop();
      for (const line of parts) {
        if (!line) continue;
        kept.push(`${name}${stream}: ${line}`);
      }
      if (kept.length > keepLines) kept.splice(0, kept.length - keepLines);
    };
  };
  const child = spawn(bin, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  running.add(child);
  child.stdout.on('data', keep(''));
  child.stderr.on('data', keep('!'));
  let exited = null;
  const exitPromise = new Promise((resolve) => {
    child.on('exit', (code, signal) => { exited ??= { code, signal }; running.delete(child); resolve(exited); });
    child.on('error', (error) => { exited ??= { code: null, signal: null, error }; running.delete(child); resolve(exited); });
  });
  const stop = async ({ graceMs = 5000 } = {}) => {
    if (exited) return { how: 'exited', ...exited };
    child.kill('SIGTERM');
    const t0 = Date.now();
    if (await within(exitPromise, graceMs)) return { how: 'term', ms: Date.now() - t0, ...exited };
    child.kill('SIGKILL');
    await within(exitPromise, 2000);
    return { how: 'kill', ...exited };
  };
  return { child, name, log: () => kept.join('\n'), lines: () => kept.slice(), exited: () => exited, exitPromise, stop };
}

// Starts a redis-server (REDIS_SERVER, default redis-server on PATH) on a free loopback port with
// its data in `dir`, no persistence; resolves once it answers PING with { port, proc }.
export async function startRedis(dir, { timeoutMs = 5000 } = {}) {
  const port = await freePort();
  const bin = process.env.REDIS_SERVER || 'redis-server';
  const proc = startProcess(bin, ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir,
    '--save', '', '--appendonly', 'no'], { name: 'redis' });
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await redisPing(port)) return { port, proc };
    if (proc.exited() || Date.now() > deadline) {
      await proc.stop({ graceMs: 1000 });
      throw new Error(`redis-server did not answer PING on port ${port}:\n${proc.log()}`);
    }
    await sleep(50);
  }
}

// One Redis command over a fresh connection (RESP): resolves to the reply (a string, a number,
// null for a nil bulk string, an array of those) or rejects with the error reply.
export function redisCommand(port, args, { timeoutMs = 2000 } = {}) {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: '127.0.0.1', port });
    let buf = Buffer.alloc(0);
    const done = (err, value) => { socket.destroy(); if (err) reject(err); else resolve(value); };
    socket.setTimeout(timeoutMs, () => done(new Error(`redis ${args[0]}: no answer within ${timeoutMs} ms`)));
    socket.on('error', (e) => done(e));
    socket.on('connect', () => {
      const parts = args.map((a) => Buffer.from(String(a), 'utf8'));
      socket.write(Buffer.concat([Buffer.from(`*${parts.length}\r\n`),
        ...parts.flatMap((b) => [Buffer.from(`$${b.length}\r\n`), b, Buffer.from('\r\n')])]));
    });
    // Parses one reply at `at`: [value, next] or null when incomplete.
    const parse = (at) => {
      const eol = buf.indexOf('\r\n', at);
      if (eol < 0) return null;
      const type = String.fromCharCode(buf[at]);
      const line = buf.toString('utf8', at + 1, eol);
      if (type === '+') return [line, eol + 2];
      if (type === '-') return [new Error(line), eol + 2];
      if (type === ':') return [Number(line), eol + 2];
      if (type === '$') {
        const n = Number(line);
        if (n < 0) return [null, eol + 2];
        if (buf.length < eol + 2 + n + 2) return null;
        return [buf.toString('utf8', eol + 2, eol + 2 + n), eol + 2 + n + 2];
      }
      if (type === '*') {
        const n = Number(line);
        const items = [];
        let next = eol + 2;
        for (let i = 0; i < n; i++) {
          const r = parse(next);
          if (!r) return null;
          items.push(r[0]);
          next = r[1];
        }
        return [n < 0 ? null : items, next];
      }
      return [new Error(`unexpected reply ${JSON.stringify(buf.toString('utf8', at, eol))}`), eol + 2];
    };
    socket.on('data', (d) => {
      buf = Buffer.concat([buf, d]);
      const r = parse(0);
      if (r) done(r[0] instanceof Error ? r[0] : null, r[0]);
    });
  });
}

function redisPing(port) {
  return new Promise((resolve) => {
    const socket = net.connect({ host: '127.0.0.1', port });
    let answer = '';
    const done = (ok) => { socket.destroy(); resolve(ok); };
    socket.setTimeout(500, () => done(false));
    socket.on('error', () => done(false));
    socket.on('connect', () => socket.write('PING\r\n'));
    socket.on('data', (d) => { answer += d; if (answer.includes('\r\n')) done(answer.startsWith('+PONG')); });
  });
}

// Starts the gateway `bin` on a free loopback port with a temporary config and the given shops
// (each one YAML flow mapping, an item of `shops:`). With `redis`, a redis-server of its own holds
// the desk's store and the violation stream (the store's metrics exist only then); with
// `redisPort`, the redis-server already running on that port does (shared by several gateways,
// e.g. the nodes of one desk; not stopped here); without either, Redis is off. `extraConfig`:
// more top-level YAML lines (e.g. 'scale: {enabled: true, lease_ttl: 1s}'); `name`: the log prefix.
// Resolves once GET /healthz answers 200 (at most healthTimeoutMs) with { port, base, proc,
// stop({ graceMs }), log() }; stop also stops its own Redis and removes the temporary directory.
export async function startGateway(bin, { shops, writtenBy, redis = false, redisPort = null, extraConfig = [], name = 'gateway', healthTimeoutMs = 10000 }) {
  if (!fs.existsSync(bin)) throw new Error(`gateway binary ${bin} does not exist (build chatdesk-gateway)`);
  const port = await freePort();
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'chatdesk-gateway-'));
  const config = path.join(tmp, 'gateway.yaml');
  const redisServer = redis && !redisPort ? await startRedis(tmp) : null;
  const redisAt = redisPort ?? redisServer?.port;
  fs.writeFileSync(config, [
    `# written by ${writtenBy}`,
    `listen: {address: 127.0.0.1, port: ${port}}`,
    redisAt ? `redis: {url: "redis://127.0.0.1:${redisAt}"}` : 'redis: {enabled: false}',
    ...extraConfig,
    'shops:',
    ...shops.map((s) => `  - ${s}`),
    '',
  ].join('\n'));
  const proc = startProcess(bin, ['--config', config], { name });
  const stop = async (opts) => {
    try {
      return await proc.stop(opts);
    } finally {
      if (redisServer) await redisServer.proc.stop({ graceMs: 2000 });
      fs.rmSync(tmp, { recursive: true, force: true });
    }
  };
  const base = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + healthTimeoutMs;
  for (;;) {
    if (proc.exited()) {
      await stop();
      throw new Error(`the gateway exited before it was healthy (${JSON.stringify(proc.exited())}):\n${proc.log()}`);
    }
    if ((await httpGet(`${base}/healthz`, { timeoutMs: 500 })).status === 200) break;
    if (Date.now() > deadline) {
      await stop({ graceMs: 1000 });
      throw new Error(`the gateway did not answer GET /healthz within ${healthTimeoutMs} ms:\n${proc.log()}`);
    }
    await sleep(100);
  }
  return { port, base, proc, stop, log: proc.log };
}
