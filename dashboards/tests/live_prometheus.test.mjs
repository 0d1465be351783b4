#!/usr/bin/env node
// Live test of the shipped dashboards and Prometheus rules against a real gateway, real traffic and a
// real Prometheus server (registered in CTest by dashboards/CMakeLists.txt, label dashboards).
//
//   CHATDESK_GATEWAY_BIN=... CHATDESK_SIMULATOR_BIN=... node dashboards/tests/live_prometheus.test.mjs
//
// 1. Starts chatdesk-gateway on a free loopback port with a temporary config: two shops with a fast
//    SLA (greet within 2 s / at the latest 4 s, escalation every 4 s, answers within 4 s, typing
//    floor 250 cpm judged over 3 messages, resume_grace 2 s), so that violations of several rules
//    happen within seconds; Redis off (the write counters and the spool gauge exist anyway).
// 2. Starts the `prometheus` server of the Debian package on another free loopback port with a
//    temporary data directory, scraping the gateway (job chatdesk) every second and evaluating the
//    rules every second. The rule files are copies of the SHIPPED recording_rules.yml (unchanged)
//    and alert_rules.yml in which ONLY the alerts' `for:` holding periods are shortened (to
//    SHORT_FOR), so that an alert can reach `firing` within the test: expressions, thresholds,
//    labels and annotations are untouched (checked by parsing both files).
// 3. Starts chatdesk-simulator once per shop: `--profile missed` on one (agents ignore 30% of the
//    customers: greeting breaches and escalations, missed conversations) and `--profile slow` on
//    the other (late greetings and replies, slow typists), at --speed 5. A lead page connection
//    sends one frame the lead endpoint refuses (unknown_type), so that the protocol-errors panel
//    has a real error to show (the simulator itself sends none).
// 4. Polls Prometheus's HTTP API until, within POLL_BUDGET_MS:
//    - every recording rule's series returns data (/api/v1/query) and every rule is healthy
//      (/api/v1/rules);
//    - every template variable of both dashboards (label_values -> /api/v1/label/<l>/values, then
//      the variable's regex) returns values, both shops among the shop values;
//    - every panel target and annotation of both dashboards returns data (not only NaN), with the
//      Grafana variables substituted as Grafana would with the time picker set to the time since
//      Prometheus started: $shop and $agent = every value of their variable (Grafana's multi-value
//      regex), $__interval = max(scrape interval, range / 1000), $__rate_interval =
//      max($__interval + scrape interval, 4 x scrape interval), $__range = the range. Range targets
//      go to /api/v1/query_range over the range, instant ones (the tables and bar gauges) to
//      /api/v1/query at its end;
//    - at least one shipped greeting alert (GREETING_ALERTS) is `firing` (/api/v1/alerts).
//    A query that must stay empty in a short run has to be listed in ALLOWED_EMPTY with the reason.
// 5. Stops the simulators, Prometheus and the gateway (also on failure or a signal) and removes the
//    temporary directories. Prints "1 passed, 0 failed" or "0 passed, 1 failed" and what was missing.
//
// Several nodes (--nodes N or CHATDESK_LIVE_NODES=N, N > 1; docs/scaling.md): one redis-server and N
// gateways on it, each with `scale: {enabled: true, lease_ttl: 1s}` and its own port; Prometheus
// scrapes all N (one job chatdesk, N targets). Before any traffic the nodes settle: every node has
// its id, then SETTLE_MS, then until every shop has a home (its lease in Redis), the same homes are
// read twice, and a lead page of every shop is accepted (101, not 503) on every node. Each shop's
// simulator enters through a node that is not the shop's home (its sessions are forwarded, so the
// sockets are counted on one node and the desk on another), the lead page through another node
// where there is one. On top of every check above:
//    - no double counting: at every evaluation since the traffic started, at most one instance has a
//      non-zero value of each per-shop gauge (chatdesk_customers_waiting, _queue_length,
//      _conversations_active, chatdesk_agents by state) per shop, and each shop's open conversations
//      were non-zero somewhere (checked with a subquery over that range);
//    - the dashboards' per-shop gauge targets (sum / sum by (shop[, state]) of those gauges) equal
//      the sums of the values read directly from the N nodes' /metrics, with the traffic frozen
//      (the simulators SIGSTOPped for FREEZE_MS, so that Prometheus's last scrape of every node and
//      the direct reads see the same desk; two direct reads must agree, else it is tried again),
//      at a moment when every shop has open conversations;
//    - every node a simulator entered through held customer sockets (chatdesk_connections).
//
// Environment: CHATDESK_GATEWAY_BIN and CHATDESK_SIMULATOR_BIN (both needed; without them the test
// is skipped, exit 77), PROMETHEUS (default: prometheus on PATH; Debian package prometheus),
// CHATDESK_LIVE_NODES (default 1; the --nodes argument wins), REDIS_SERVER (default redis-server).

import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import {
  dashboardQueries, freePort, httpGet, multiValueRegex, parseLabelValues, redisCommand, sleep, startGateway, startProcess,
  startRedis, substituteVariables, variableRegex, wsConnect,
} from './dashboard_queries.mjs';
import { parseYaml } from './yaml_subset.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, '..'); // dashboards/

// The shops, each with its own simulator run. Seeds make the simulated decisions repeatable (the
// timing still varies).
const SHOPS = [
  { id: 'live-missed', profile: 'missed', seed: 101 },
  { id: 'live-slow', profile: 'slow', seed: 202 },
];
// A fast SLA: violations within seconds. The typing floor is the default 50 cpm times --speed (the
// simulator's human typing runs that much faster), so its slow typists still fall below it.
const SHOP_SLA = '{greeting_target: 2s, greeting_limit: 4s, escalate_every: 4s, reply_wait_limit: 4s, typing_min_cpm: 250, typing_window: 3}';
const SIMULATOR_ARGS = ['--agents', '3', '--customers-per-minute', '10', '--speed', '5', '--duration', '200s'];
const SCRAPE_SECONDS = 1;
// The alerts' holding period in this test only (shipped: 1m to 10m). Short but not zero, so that
// alerts still go pending -> firing.
const SHORT_FOR = '5s';
// Alerts about greetings; one of them must reach firing.
const GREETING_ALERTS = ['ChatdeskGreetingBreachesRising', 'ChatdeskGreetingAttainmentLow'];
// Alerts about the gateway's Redis: with the healthy Redis this test starts, they never leave inactive.
const HEALTHY_REDIS_QUIET = ['ChatdeskStoreDown', 'ChatdeskViolationWritesFailing', 'ChatdeskViolationSpoolFilling'];

// Queries allowed to return nothing in this short run: { where: RegExp on the query's place (as
// printed, e.g. 'grafana/agents.json panel "Agent ranking" target M'), why: '...' }. Keep it
// minimal: each entry needs a reason why the query cannot have data here, not why it is slow to.
// Empty: every query of the shipped dashboards returns data.
const ALLOWED_EMPTY = [];

const POLL_BUDGET_MS = 140_000; // from the simulators' start until everything returned data
const POLL_EVERY_MS = 2000;
const WATCHDOG_MS = 230_000; // the whole test, clean-up included (CTest TIMEOUT is 300 s)

// Several nodes.
const SCALE_CONFIG = 'scale: {enabled: true, lease_ttl: 1s}';
const MAX_NODES = 5;
const SETTLE_MS = 3000; // after every node is healthy: the start-up hand-overs take about a lease_ttl
const SETTLE_BUDGET_MS = 30_000; // until every shop has a stable home, reachable on every node
const FREEZE_MS = 2500; // simulators stopped: every target scraped at least twice since
const FREEZE_ATTEMPTS = 6; // direct reads against Prometheus, at most this many times
// The per-shop gauges: non-zero only on the shop's home node (docs/scaling.md, "Metrics").
const PER_SHOP_GAUGES = { chatdesk_customers_waiting: ['shop'], chatdesk_queue_length: ['shop'], chatdesk_conversations_active: ['shop'], chatdesk_agents: ['shop', 'state'] };

// The number of gateway nodes: --nodes N, else CHATDESK_LIVE_NODES, else 1.
export function nodeCount(argv = process.argv.slice(2), env = process.env) {
  let raw = env.CHATDESK_LIVE_NODES || '1';
  for (let i = 0; i < argv.length; i++) {
    const m = argv[i].match(/^--nodes(?:=(.*))?$/);
    if (m) raw = m[1] ?? argv[++i];
    else throw new Error(`unknown argument ${argv[i]} (usage: live_prometheus.test.mjs [--nodes N])`);
  }
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1 || n > MAX_NODES) throw new Error(`the number of nodes must be an integer 1..${MAX_NODES}, is ${JSON.stringify(raw)}`);
  return n;
}

const t0 = Date.now();
const elapsed = () => `${((Date.now() - t0) / 1000).toFixed(1)}s`;
const log = (msg) => console.log(`[${elapsed()}] ${msg}`);

// ------------------------------------------------------------------------------------------------
// Prometheus
// ------------------------------------------------------------------------------------------------

function findPrometheus() {
  const bin = process.env.PROMETHEUS || 'prometheus';
  const r = spawnSync(bin, ['--version'], { encoding: 'utf8' });
  return r.error || r.status !== 0 ? null : bin;
}

// The shipped alert rules with only the `for:` values replaced; throws if anything else would change.
export function shortenHoldingPeriods(text, shortFor) {
  const out = text.replace(/^([ \t]+)for:[ \t]*\S+[ \t]*$/gm, `$1for: ${shortFor}`);
  const before = parseYaml(text, 'alert_rules.yml');
  const after = parseYaml(out, 'alert_rules.yml (shortened)');
  const withoutFor = (doc) => JSON.stringify(doc.groups.map((g) => ({ ...g, rules: g.rules.map(({ for: _, ...r }) => r) })));
  if (withoutFor(before) !== withoutFor(after)) throw new Error('shortening the for: periods changed more than for:');
  const changed = [];
  for (const [gi, g] of before.groups.entries()) {
    for (const [ri, r] of g.rules.entries()) {
      const a = after.groups[gi].rules[ri];
      if (r.for !== undefined && a.for !== shortFor) throw new Error(`${r.alert}: for: not shortened`);
      if (r.for === undefined && a.for !== undefined) throw new Error(`${r.alert}: for: added`);
      if (r.for !== undefined) changed.push(`${r.alert} ${r.for}`);
    }
  }
  return { text: out, changed };
}

function promClient(base) {
  const get = async (pathAndQuery) => {
    const res = await httpGet(`${base}${pathAndQuery}`, { timeoutMs: 5000 });
    if (res.status === 0) throw new Error(`GET ${pathAndQuery}: no answer`);
    let json;
    try { json = JSON.parse(res.body); } catch { throw new Error(`GET ${pathAndQuery}: HTTP ${res.status}, not JSON: ${res.body.slice(0, 300)}`); }
    if (json.status !== 'success') throw new Error(`GET ${pathAndQuery}: ${json.errorType ?? res.status}: ${json.error ?? res.body.slice(0, 300)}`);
    return json.data;
  };
  const q = (params) => new URLSearchParams(params).toString();
  return {
    get,
    instant: (expr, time) => get(`/api/v1/query?${q({ query: expr, time: String(time) })}`),
    range: (expr, start, end, step) => get(`/api/v1/query_range?${q({ query: expr, start: String(start), end: String(end), step: String(step) })}`),
    labelValues: (label, match, start, end) => get(`/api/v1/label/${encodeURIComponent(label)}/values?${q({ 'match[]': match, start: String(start), end: String(end) })}`),
  };
}

// Whether a query result has data: a sample that is not NaN.
function hasData(data) {
  if (!data) return false;
  const isNum = (v) => v !== 'NaN';
  switch (data.resultType) {
    case 'vector': return data.result.some((s) => isNum(s.value[1]));
    case 'matrix': return data.result.some((s) => s.values.some((v) => isNum(v[1])));
    case 'scalar': return isNum(data.result[1]);
    default: return data.result?.length > 0;
  }
}
const onlyNaN = (data) => !hasData(data) && (data?.result?.length ?? 0) > 0;

// ------------------------------------------------------------------------------------------------
// Several nodes
// ------------------------------------------------------------------------------------------------

// The samples of a /metrics text: [{ name, labels: {}, value }].
export function parseSamples(text) {
  const out = [];
  for (const line of text.split('\n')) {
    const m = line.match(/^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)/);
    if (!m || line.startsWith('#')) continue;
    const labels = {};
    for (const [, k, v] of (m[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) labels[k] = v.replace(/\\(.)/g, '$1');
    out.push({ name: m[1], labels, value: Number(m[3]) });
  }
  return out;
}

// A dashboard target that sums one per-shop gauge: `sum(g{...})` or `sum by (l, ...) (g{...})`.
// Returns { family, by: [labels], matchers: [{ label, op, value }] } or null.
export function perShopGaugeSum(expr) {
  const m = expr.trim().match(/^sum\s*(?:by\s*\(([^()]*)\)\s*)?\(\s*([a-zA-Z_:][a-zA-Z0-9_:]*)\s*(?:\{([^{}]*)\})?\s*\)$/);
  if (!m || !PER_SHOP_GAUGES[m[2]]) return null;
  const matchers = [...(m[3] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)\s*(=~|!~|!=|=)\s*"((?:[^"\\]|\\.)*)"/g)]
    .map(([, label, op, value]) => ({ label, op, value: value.replace(/\\(.)/g, '$1') }));
  return { family: m[2], by: (m[1] ?? '').split(',').map((x) => x.trim()).filter(Boolean), matchers };
}

// Whether a sample's labels satisfy the matchers; a value with a Grafana variable ($shop) matches the
// variable's values (`vars[name]`: a list), or anything when the variable is not given.
function matches(labels, matchers, vars) {
  return matchers.every(({ label, op, value }) => {
    const v = labels[label] ?? '';
    const variable = value.match(/^\$\{?([a-zA-Z_][a-zA-Z0-9_]*)\}?$/);
    let ok;
    if (variable) ok = vars[variable[1]] ? vars[variable[1]].includes(v) : true;
    else if (op === '=' || op === '!=') ok = v === value;
    else ok = new RegExp(`^(?:${value})$`).test(v);
    return op.startsWith('!') ? !ok : ok;
  });
}

// What a per-shop gauge target (perShopGaugeSum) should show: the samples of every node summed,
// grouped by its `by` labels. Map key: JSON of the by-labels.
export function expectedSums(target, scrapes, vars) {
  const out = new Map();
  for (const samples of scrapes) {
    for (const s of samples) {
      if (s.name !== target.family || !matches(s.labels, target.matchers, vars)) continue;
      const key = JSON.stringify(Object.fromEntries(target.by.map((l) => [l, s.labels[l] ?? ''])));
      out.set(key, (out.get(key) ?? 0) + s.value);
    }
  }
  return out;
}

// Which entry node each shop's simulator uses: a node that is not the shop's home, a different one
// for each shop while there are enough. homes: node index per shop (null: unknown).
export function entryNodes(homes, nodes) {
  if (nodes === 1) return homes.map(() => 0);
  const used = new Set();
  return homes.map((home, i) => {
    const order = Array.from({ length: nodes }, (_, k) => (i + k) % nodes);
    const pick = order.find((n) => n !== home && !used.has(n)) ?? order.find((n) => n !== home) ?? order[0];
    used.add(pick);
    return pick;
  });
}

// Several nodes: waits until every node has said its node id, then SETTLE_MS, then until every
// shop's lease names one of these nodes, the same one on two reads, and a lead page of every shop
// is accepted (101) by every node. Returns the index of each shop's home node (SHOPS order).
async function settle(gateways, redisPort) {
  const deadline = Date.now() + SETTLE_BUDGET_MS;
  let ids;
  for (;;) {
    ids = gateways.map((g) => Number(g.log().match(/scale: this is node (\d+)/)?.[1] ?? NaN));
    if (ids.every(Number.isFinite)) break;
    if (Date.now() > deadline) throw new Error(`not every node said its id ("scale: this is node N"): ${ids.join(', ')}`);
    await sleep(100);
  }
  log(`node ids: ${gateways.map((g, i) => `node ${i + 1} = ${ids[i]}`).join(', ')}; settling for ${SETTLE_MS} ms`);
  await sleep(SETTLE_MS);
  const readHomes = () => Promise.all(SHOPS.map(async (s) => {
    const lease = await redisCommand(redisPort, ['GET', `chatdesk:{shop:${s.id}}:lease`]);
    return lease === null ? -1 : ids.indexOf(Number(String(lease).split(':')[0]));
  }));
  let last = 'no lease read yet';
  for (;;) {
    const homes = await readHomes();
    if (homes.every((h) => h >= 0)) {
      const refused = [];
      for (const g of gateways) {
        for (const s of SHOPS) {
          try { (await wsConnect(g.port, `/ws/lead?shop=${s.id}`)).close(); } catch (e) { refused.push(`${s.id} on ${g.base}: ${e.message}`); }
        }
      }
      const again = await readHomes();
      if (!refused.length && again.join() === homes.join()) {
        log(`settled: ${SHOPS.map((s, i) => `${s.id} at home on node ${homes[i] + 1}`).join(', ')} (leases in Redis; every shop reachable on every node)`);
        return homes;
      }
      last = refused.length ? `refused: ${refused.join('; ')}` : `homes moved: ${homes.join()} then ${again.join()}`;
    } else {
      last = `leases: ${SHOPS.map((s, i) => `${s.id} ${homes[i] >= 0 ? `node ${homes[i] + 1}` : 'none (or another node)'}`).join(', ')}`;
    }
    if (Date.now() > deadline) throw new Error(`the nodes did not settle within ${SETTLE_BUDGET_MS / 1000} s: ${last}`);
    await sleep(500);
  }
}

// Several nodes: with the simulators frozen, the dashboards' per-shop gauge targets (from
// Prometheus) against the sums of the values on the nodes' own /metrics. Returns { status, detail }:
// 'idle' (not every shop has open conversations yet: nothing tried), 'unsettled' (the desk changed
// between two direct reads, e.g. a resume_grace running out), 'mismatch' or 'match'.
async function compareWithNodes({ api, gateways, simulators, gaugeTargets, vars, timing }) {
  const scrapeAll = () => Promise.all(gateways.map(async (g) => {
    const r = await httpGet(`${g.base}/metrics`, { timeoutMs: 3000 });
    if (r.status !== 200) throw new Error(`GET ${g.base}/metrics: ${r.status || 'no answer'}`);
    return parseSamples(r.body);
  }));
  const shopVars = { shop: SHOPS.map((s) => s.id) };
  const openOf = (scrapes) => expectedSums({ family: 'chatdesk_conversations_active', by: ['shop'], matchers: [] }, scrapes, shopVars);
  const openNow = openOf(await scrapeAll());
  const idle = SHOPS.filter((s) => !(openNow.get(JSON.stringify({ shop: s.id })) > 0));
  if (idle.length) return { status: 'idle', detail: `never tried: no open conversations yet in ${idle.map((s) => s.id).join(', ')}` };

  const targets = gaugeTargets.map((q) => ({ q, t: perShopGaugeSum(q.expr) }));
  for (const p of simulators) if (!p.exited()) p.child.kill('SIGSTOP');
  let first;
  let second;
  let answers;
  try {
    await sleep(FREEZE_MS);
    first = await scrapeAll();
    const at = Date.now() / 1000;
    answers = await Promise.all(targets.map(({ q }) => api.instant(substituteVariables(q.expr, { ...timing, vars: vars.get(q.file) }), at)));
    second = await scrapeAll();
  } finally {
    for (const p of simulators) if (!p.exited()) p.child.kill('SIGCONT');
  }
  const show = (m) => [...m].map(([k, v]) => `${k === '{}' ? 'all' : Object.values(JSON.parse(k)).join('/')}=${v}`).join(' ');
  const unstable = targets.filter(({ t }) => show(expectedSums(t, first, shopVars)) !== show(expectedSums(t, second, shopVars)));
  if (unstable.length) return { status: 'unsettled', detail: `the desk changed between two direct reads (${unstable[0].q.where})` };
  if (SHOPS.some((s) => !(openOf(first).get(JSON.stringify({ shop: s.id })) > 0))) return { status: 'idle', detail: 'the open conversations ended while frozen' };

  const mismatches = [];
  // No node but the home reports a shop's gauges.
  for (const [family, by] of Object.entries(PER_SHOP_GAUGES)) {
    const nonZero = new Map();
    first.forEach((samples, n) => {
      for (const s of samples) {
        if (s.name !== family || s.value === 0) continue;
        const key = by.map((l) => s.labels[l]).join('/');
        nonZero.set(key, [...(nonZero.get(key) ?? []), `node ${n + 1}`]);
      }
    });
    for (const [key, where] of nonZero) if (where.length > 1) mismatches.push(`${family} ${key} is non-zero on ${where.join(' and ')}`);
  }
  targets.forEach(({ q, t }, i) => {
    const want = expectedSums(t, first, shopVars);
    const got = new Map(answers[i].result.map((r) => [JSON.stringify(Object.fromEntries(t.by.map((l) => [l, r.metric[l] ?? '']))), Number(r.value[1])]));
    const keys = [...new Set([...want.keys(), ...got.keys()])].sort();
    if (keys.some((k) => want.get(k) !== got.get(k))) mismatches.push(`${q.where}: Prometheus ${show(got) || 'nothing'}, nodes' /metrics summed ${show(want) || 'nothing'}`);
  });
  if (mismatches.length) return { status: 'mismatch', detail: mismatches.join('; ') };
  const perNode = SHOPS.map((s) => `${s.id} open ${openOf(first).get(JSON.stringify({ shop: s.id }))} = ${first.map((samples, n) => `node ${n + 1}: ${samples.find((x) => x.name === 'chatdesk_conversations_active' && x.labels.shop === s.id)?.value ?? '-'}`).join(' + ')}`);
  return { status: 'match', detail: `${targets.length} targets (${perNode.join('; ')})` };
}

// Several nodes, after the polling: no per-shop gauge counted on two instances at one evaluation,
// the traffic entered where it should, and what the run showed.
async function checkNodes({ api, gateways, entries, homes, nodeCheck, trafficStart }) {
  const problems = [];
  if (!nodeCheck.done) problems.push(`the dashboards' per-shop gauge targets never equalled the sums over the nodes' /metrics (${nodeCheck.attempts} tries): ${nodeCheck.last}`);
  const end = Date.now() / 1000;
  const range = `${Math.max(1, Math.floor(end - trafficStart))}s`;
  const node = (instance) => { const i = gateways.findIndex((g) => `127.0.0.1:${g.port}` === instance); return i < 0 ? instance : `node ${i + 1}`; };
  for (const [family, by] of Object.entries(PER_SHOP_GAUGES)) {
    const expr = `max_over_time((count by (${by.join(', ')}) (${family} != 0))[${range}:1s])`;
    const r = await api.instant(expr, end);
    for (const s of r.result) {
      if (Number(s.value[1]) > 1) problems.push(`${family}${JSON.stringify(s.metric)} was non-zero on ${s.value[1]} instances at one evaluation (counted twice): ${expr}`);
    }
    if (family === 'chatdesk_conversations_active') {
      for (const shop of SHOPS) if (!r.result.some((x) => x.metric.shop === shop.id)) problems.push(`${family}{shop="${shop.id}"} was never non-zero on any node: ${expr}`);
    }
  }
  const held = (await api.instant(`count by (shop, instance) (max_over_time(chatdesk_conversations_active[${range}]) > 0)`, end)).result;
  SHOPS.forEach((s, i) => {
    const by = held.filter((x) => x.metric.shop === s.id).map((x) => node(x.metric.instance));
    log(`${s.id}: open conversations reported by ${by.join(', ') || 'no node'} over the run (home at the start: node ${homes[i] + 1}; traffic through node ${entries[i] + 1})`);
  });
  const sockets = (await api.instant(`max_over_time(chatdesk_connections{kind="customer"}[${range}])`, end)).result;
  for (const n of new Set(entries)) {
    const v = sockets.find((x) => x.metric.instance === `127.0.0.1:${gateways[n].port}`);
    if (!(Number(v?.value[1]) > 0)) problems.push(`node ${n + 1} (${gateways[n].base}), a simulator's entry, never held a customer socket (chatdesk_connections{kind="customer"})`);
  }
  log(`customer sockets, most at once: ${sockets.map((x) => `${node(x.metric.instance)} ${x.value[1]}`).join(', ')}`);
  return problems;
}

// ------------------------------------------------------------------------------------------------
// The test
// ------------------------------------------------------------------------------------------------

const cleanups = []; // run in reverse order
let cleaningUp = null;
function cleanup() {
  cleaningUp ??= (async () => {
    while (cleanups.length) {
      const fn = cleanups.pop();
      try { await fn(); } catch (e) { console.error(`clean-up: ${e.message}`); }
    }
  })();
  return cleaningUp;
}

async function run() {
  const nodes = nodeCount();
  const gatewayBin = process.env.CHATDESK_GATEWAY_BIN;
  const simulatorBin = process.env.CHATDESK_SIMULATOR_BIN;
  if (!gatewayBin || !simulatorBin) {
    console.log('live Prometheus test skipped: CHATDESK_GATEWAY_BIN and CHATDESK_SIMULATOR_BIN must both be set');
    return 'skip';
  }
  for (const [name, bin] of [['CHATDESK_GATEWAY_BIN', gatewayBin], ['CHATDESK_SIMULATOR_BIN', simulatorBin]]) {
    if (!fs.existsSync(bin)) throw new Error(`${name}=${bin} does not exist (build chatdesk-gateway and chatdesk-simulator)`);
  }
  const prometheusBin = findPrometheus();
  if (!prometheusBin) throw new Error('prometheus not found: install the Debian package prometheus (scripts/install-deps.sh), or set PROMETHEUS');

  // What the dashboards and rules ask for.
  const recordingText = fs.readFileSync(path.join(root, 'prometheus', 'recording_rules.yml'), 'utf8');
  const alertText = fs.readFileSync(path.join(root, 'prometheus', 'alert_rules.yml'), 'utf8');
  const recorded = parseYaml(recordingText, 'recording_rules.yml').groups.flatMap((g) => g.rules.map((r) => r.record)).filter(Boolean);
  const alertNames = parseYaml(alertText, 'alert_rules.yml').groups.flatMap((g) => g.rules.map((r) => r.alert)).filter(Boolean);
  const dashboards = fs.readdirSync(path.join(root, 'grafana')).filter((f) => f.endsWith('.json')).sort()
    .map((f) => ({ file: `grafana/${f}`, json: JSON.parse(fs.readFileSync(path.join(root, 'grafana', f), 'utf8')) }));
  const queries = dashboards.flatMap((d) => dashboardQueries(d.file, d.json));
  for (const a of ALLOWED_EMPTY) {
    if (!queries.some((q) => a.where.test(q.where))) throw new Error(`ALLOWED_EMPTY names no query: ${a.where}`);
  }

  // 1. The gateway: one with a Redis of its own, or `nodes` nodes of one desk on one Redis.
  const gatewayOptions = {
    writtenBy: 'dashboards/tests/live_prometheus.test.mjs',
    shops: SHOPS.map((s) => `{id: ${s.id}, name: "Live ${s.profile}", timezone: UTC, resume_grace: 2s, sla: ${SHOP_SLA}}`),
  };
  const gateways = [];
  let gatewayStops = [];
  let redis = null;
  if (nodes === 1) {
    cleanups.push(async () => { gatewayStops = await Promise.all(gateways.map((g) => g.stop({ graceMs: 5000 }))); });
    gateways.push(await startGateway(gatewayBin, { ...gatewayOptions, redis: true }));
  } else {
    // Clean-ups run in reverse order: the gateways stop first, then Redis.
    const redisDir = fs.mkdtempSync(path.join(os.tmpdir(), 'chatdesk-live-redis-'));
    cleanups.push(() => fs.rmSync(redisDir, { recursive: true, force: true }));
    redis = await startRedis(redisDir);
    cleanups.push(() => redis.proc.stop({ graceMs: 2000 }));
    cleanups.push(async () => { gatewayStops = await Promise.all(gateways.map((g) => g.stop({ graceMs: 5000 }))); });
    const started = await Promise.allSettled(Array.from({ length: nodes }, (_, i) => startGateway(gatewayBin, {
      ...gatewayOptions, redisPort: redis.port, extraConfig: [SCALE_CONFIG], name: `gateway ${i + 1}`, healthTimeoutMs: 15000,
    })));
    for (const r of started) if (r.status === 'fulfilled') gateways.push(r.value);
    const failed = started.find((r) => r.status === 'rejected');
    if (failed) throw failed.reason;
  }
  log(nodes === 1 ? `gateway on ${gateways[0].base}` : `${nodes} gateway nodes on redis 127.0.0.1:${redis.port} (${SCALE_CONFIG}): ${gateways.map((g) => g.base).join(', ')}`);
  const homes = nodes === 1 ? SHOPS.map(() => 0) : await settle(gateways, redis.port);

  // 2. Prometheus with the shipped rules (for: shortened in the copy of the alert rules).
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'chatdesk-live-prometheus-'));
  cleanups.push(() => fs.rmSync(tmp, { recursive: true, force: true }));
  const shortened = shortenHoldingPeriods(alertText, SHORT_FOR);
  fs.writeFileSync(path.join(tmp, 'recording_rules.yml'), recordingText);
  fs.writeFileSync(path.join(tmp, 'alert_rules.yml'),
    `# A copy of dashboards/prometheus/alert_rules.yml for dashboards/tests/live_prometheus.test.mjs: only the\n` +
    `# alerts' for: holding periods are shortened (to ${SHORT_FOR}); expressions, thresholds and labels are the shipped ones.\n` +
    shortened.text);
  const promPort = await freePort();
  fs.writeFileSync(path.join(tmp, 'prometheus.yml'), [
    '# written by dashboards/tests/live_prometheus.test.mjs',
    'global:',
    `  scrape_interval: ${SCRAPE_SECONDS}s`,
    `  scrape_timeout: ${SCRAPE_SECONDS}s`,
    `  evaluation_interval: ${SCRAPE_SECONDS}s`,
    'rule_files:',
    '  - recording_rules.yml',
    '  - alert_rules.yml',
    'scrape_configs:',
    '  - job_name: chatdesk',
    '    metrics_path: /metrics',
    '    static_configs:',
    `      - targets: [${gateways.map((g) => `"127.0.0.1:${g.port}"`).join(', ')}]`,
    '',
  ].join('\n'));
  const prom = startProcess(prometheusBin, [
    `--config.file=${path.join(tmp, 'prometheus.yml')}`,
    `--storage.tsdb.path=${path.join(tmp, 'data')}`,
    `--web.listen-address=127.0.0.1:${promPort}`,
    '--web.enable-lifecycle',
  ], { name: 'prometheus' });
  let prometheusStop = null;
  cleanups.push(async () => { prometheusStop = await prom.stop({ graceMs: 10000 }); });
  const promBase = `http://127.0.0.1:${promPort}`;
  const api = promClient(promBase);
  log(`prometheus on ${promBase}; alert for: shortened to ${SHORT_FOR} (shipped: ${shortened.changed.join(', ')})`);

  const waitFor = async (what, ms, fn) => {
    const deadline = Date.now() + ms;
    for (;;) {
      if (prom.exited()) throw new Error(`prometheus exited (${JSON.stringify(prom.exited())}) while waiting for ${what}:\n${prom.log()}`);
      try { if (await fn()) return; } catch { /* not yet */ }
      if (Date.now() > deadline) throw new Error(`timed out after ${ms / 1000} s waiting for ${what}\n${prom.log().split('\n').slice(-30).join('\n')}`);
      await sleep(250);
    }
  };
  await waitFor('prometheus to be ready (/-/ready)', 30000, async () => (await httpGet(`${promBase}/-/ready`)).status === 200);
  await waitFor(`the chatdesk target${nodes > 1 ? `s (${nodes})` : ''} to be up (/api/v1/targets)`, 30000, async () => {
    const t = await api.get('/api/v1/targets?state=active');
    return t.activeTargets.filter((x) => x.labels.job === 'chatdesk' && x.health === 'up').length === nodes;
  });
  const start = Math.floor(Date.now() / 1000) - 1;
  log(`prometheus scrapes the gateway${nodes > 1 ? ` nodes (${nodes} targets up)` : ' (target up)'}`);

  // 3. Traffic: one simulator per shop, and one frame the lead endpoint refuses. On several nodes
  // each shop's simulator enters through a node that is not the shop's home.
  const entries = entryNodes(homes, nodes);
  const simulators = SHOPS.map((s, i) => {
    const args = ['--url', `ws://127.0.0.1:${gateways[entries[i]].port}`, '--shop', s.id, '--profile', s.profile, '--seed', String(s.seed), ...SIMULATOR_ARGS];
    const p = startProcess(simulatorBin, args, { name: `simulator ${s.id}` });
    log(`simulator ${s.id}${nodes > 1 ? ` (through node ${entries[i] + 1}; home: node ${homes[i] + 1})` : ''}: ${args.join(' ')}`);
    return p;
  });
  const trafficStart = Date.now() / 1000;
  const simulatorStops = [];
  cleanups.push(async () => {
    // Orderly: SIGTERM lets the simulated people close and hand back their conversations (SIGCONT
    // first, in case they are frozen).
    for (const p of simulators) if (!p.exited()) p.child.kill('SIGCONT');
    simulatorStops.push(...await Promise.all(simulators.map((p) => p.stop({ graceMs: 10000 }))));
  });
  const leadNode = Array.from({ length: nodes }, (_, n) => n).find((n) => !entries.includes(n)) ?? 0;
  const lead = await wsConnect(gateways[leadNode].port, `/ws/lead?shop=${SHOPS[0].id}`);
  cleanups.push(() => lead.close());
  lead.send(JSON.stringify({ type: 'ping' })); // refused: unknown_type, counted in chatdesk_protocol_errors_total

  // 4. Poll until everything returned data and a greeting alert fires.
  const pending = new Map(); // where -> check; removed once it returned data
  for (const r of recorded) pending.set(`recording rule ${r}`, { kind: 'recording', where: `recording rule ${r}`, expr: r });
  for (const q of queries) pending.set(q.where, q);
  const passed = [];
  const nanOnly = new Map(); // where -> substituted expr of the last NaN-only answer
  const lastExpr = new Map();
  const errors = new Map(); // where -> last query error
  const alertsSeen = new Map(); // "name{shop}" -> { pending: s, firing: s }
  let greetingAlertFiring = null;
  const pollDeadline = Date.now() + POLL_BUDGET_MS;
  // Several nodes: the dashboards' per-shop gauge targets against the nodes' own /metrics.
  const gaugeTargets = [...new Map(queries.filter((q) => q.kind === 'panel' && perShopGaugeSum(q.expr)).map((q) => [q.expr, q])).values()];
  const nodeCheck = { done: nodes === 1, attempts: 0, last: 'not tried: the shops never all had open conversations' };

  for (;;) {
    for (const p of [prom, ...gateways.map((g) => g.proc)]) {
      if (p.exited()) throw new Error(`${p.name} exited during the test (${JSON.stringify(p.exited())}):\n${p.log().split('\n').slice(-40).join('\n')}`);
    }
    const end = Date.now() / 1000;
    const rangeS = Math.max(1, Math.ceil(end - start));
    const intervalS = Math.max(SCRAPE_SECONDS, Math.round(rangeS / 1000));
    const timing = { range: `${rangeS}s`, interval: `${intervalS}s`, rateInterval: `${Math.max(intervalS + SCRAPE_SECONDS, 4 * SCRAPE_SECONDS)}s` };

    // Variables first: their values go into the panel queries ($shop, then $agent, which uses $shop).
    const varsOf = new Map(); // file -> { shop: regex, agent: regex }
    for (const d of dashboards) {
      const vars = {};
      for (const q of queries.filter((x) => x.file === d.file && x.kind === 'variable')) {
        const lv = parseLabelValues(q.expr);
        let values = [];
        try {
          if (!lv) throw new Error(`not a label_values() query: ${q.expr}`);
          const match = substituteVariables(lv.match, { ...timing, vars });
          lastExpr.set(q.where, `label ${lv.label} of ${match}`);
          values = await api.labelValues(lv.label, match, start, end);
          const re = variableRegex(q.regex);
          if (re) values = values.filter((v) => re.test(v));
          errors.delete(q.where);
        } catch (e) { errors.set(q.where, e.message); }
        const complete = q.name === 'shop' ? SHOPS.every((s) => values.includes(s.id)) : values.length > 0;
        if (complete && pending.delete(q.where)) passed.push(q.where);
        vars[q.name] = values.length ? multiValueRegex(values) : '.*';
      }
      varsOf.set(d.file, vars);
    }

    for (const [where, c] of pending) {
      if (c.kind === 'variable') continue;
      try {
        let data;
        if (c.kind === 'recording') {
          data = await api.instant(c.expr, end);
        } else {
          const expr = substituteVariables(c.expr, { ...timing, vars: varsOf.get(c.file) });
          lastExpr.set(where, expr);
          data = c.instant ? await api.instant(expr, end) : await api.range(expr, start, end, intervalS);
        }
        errors.delete(where);
        if (hasData(data)) { pending.delete(where); passed.push(where); nanOnly.delete(where); } else if (onlyNaN(data)) nanOnly.set(where, true);
      } catch (e) { errors.set(where, e.message); }
    }

    try {
      for (const a of (await api.get('/api/v1/alerts')).alerts) {
        const key = `${a.labels.alertname}${a.labels.shop ? `{shop="${a.labels.shop}"}` : ''}`;
        const seen = alertsSeen.get(key) ?? {};
        seen[a.state] ??= elapsed();
        alertsSeen.set(key, seen);
        if (a.state === 'firing' && GREETING_ALERTS.includes(a.labels.alertname)) greetingAlertFiring ??= `${key} at ${elapsed()}`;
      }
    } catch (e) { errors.set('/api/v1/alerts', e.message); }

    if (!nodeCheck.done && nodeCheck.attempts < FREEZE_ATTEMPTS) {
      try {
        const r = await compareWithNodes({ api, gateways, simulators, gaugeTargets, vars: varsOf, timing });
        if (r.status !== 'idle') nodeCheck.attempts++;
        if (r.status !== 'idle' || nodeCheck.attempts === 0) nodeCheck.last = r.detail;
        if (r.status === 'match') { nodeCheck.done = true; log(`per-shop gauge targets equal the sums over the ${nodes} nodes' /metrics: ${r.detail}`); }
      } catch (e) { nodeCheck.last = `error: ${e.message}`; nodeCheck.attempts++; }
    }

    const waiting = [...pending.keys()].filter((w) => !ALLOWED_EMPTY.some((a) => a.where.test(w)));
    if (waiting.length === 0 && greetingAlertFiring && (nodeCheck.done || nodeCheck.attempts >= FREEZE_ATTEMPTS)) break;
    if (Date.now() > pollDeadline) break;
    await sleep(POLL_EVERY_MS);
  }

  // Every rule loaded, as shipped, and healthy.
  const problems = [];
  const rules = (await api.get('/api/v1/rules')).groups.flatMap((g) => g.rules);
  for (const r of recorded) if (!rules.some((x) => x.type === 'recording' && x.name === r)) problems.push(`recording rule ${r} is not loaded`);
  for (const a of alertNames) if (!rules.some((x) => x.type === 'alerting' && x.name === a)) problems.push(`alert ${a} is not loaded`);
  for (const r of rules) if (r.health === 'err') problems.push(`rule ${r.name}: evaluation error: ${r.lastError}`);

  // 5. Verdict.
  const allowedEmpty = [...pending.keys()].filter((w) => ALLOWED_EMPTY.some((a) => a.where.test(w)));
  const missing = [...pending.keys()].filter((w) => !allowedEmpty.includes(w));
  for (const w of missing) {
    const why = errors.has(w) ? `query error: ${errors.get(w)}` : nanOnly.has(w) ? 'only NaN' : 'no data';
    problems.push(`${w}: ${why}${lastExpr.has(w) ? `\n      ${lastExpr.get(w)}` : ''}`);
  }
  if (!greetingAlertFiring) problems.push(`no greeting alert (${GREETING_ALERTS.join(', ')}) reached firing`);
  if (nodes > 1) problems.push(...await checkNodes({ api, gateways, entries, homes, nodeCheck, trafficStart }));
  // The gateway runs on a healthy Redis of its own: the store and violation-stream alerts page ops
  // and must stay silent here (a false page is as bad as a missed one).
  for (const [key, seen] of alertsSeen) {
    if (HEALTHY_REDIS_QUIET.some((name) => key.startsWith(name))) {
      problems.push(`${key} went ${Object.keys(seen).join('/')} although Redis was healthy`);
    }
  }

  const counts = (kind) => passed.filter((w) => (kind === 'recording' ? w.startsWith('recording rule') : queries.find((q) => q.where === w)?.kind === kind)).length;
  log(`returned data: ${counts('recording')}/${recorded.length} recording rules, ${counts('variable')} variables, ` +
    `${counts('annotation')} annotations, ${counts('panel')}/${queries.filter((q) => q.kind === 'panel').length} panel targets`);
  for (const w of allowedEmpty) log(`allowed to stay empty: ${w} (${ALLOWED_EMPTY.find((a) => a.where.test(w)).why})`);
  for (const a of ALLOWED_EMPTY) {
    if (passed.some((w) => a.where.test(w))) log(`note: ${a.where} is in ALLOWED_EMPTY but returned data; the entry may be unnecessary`);
  }
  log(`alerts seen: ${[...alertsSeen].map(([k, v]) => `${k} ${Object.entries(v).map(([s, t]) => `${s}@${t}`).join(' ')}`).join('; ') || 'none'}`);
  if (greetingAlertFiring) log(`greeting alert firing: ${greetingAlertFiring}`);
  // For the record (not checked): what the traffic produced.
  for (const [what, expr] of [
    ['violations', 'sum by (rule, severity) (chatdesk_sla_violations_total) > 0'],
    ['conversations', 'sum by (outcome) (chatdesk_conversations_total) > 0'],
    ['observations', 'label_replace(sum(chatdesk_greeting_latency_seconds_count), "h", "greetings", "", "") or label_replace(sum(chatdesk_reply_wait_seconds_count), "h", "reply_waits", "", "") or label_replace(sum(chatdesk_typing_rate_cpm_count), "h", "typing_rates", "", "")'],
  ]) {
    try {
      const r = (await api.instant(expr, Date.now() / 1000)).result;
      log(`${what}: ${r.map((s) => `${Object.values(s.metric).join('/')}=${Number(s.value[1])}`).join(' ') || 'none'}`);
    } catch (e) { log(`${what}: ${e.message}`); }
  }

  await cleanup();
  for (const s of simulators) {
    const final = s.lines().filter((l) => /sim (final|verdict)/.test(l));
    log(final.join('\n    ') || `${s.name}: no final line`);
  }
  const stops = [...gateways.map((g, i) => [g.proc.name, gatewayStops[i]]), [prom.name, prometheusStop], ...simulators.map((s, i) => [s.name, simulatorStops[i]])];
  for (const [name, how] of stops) {
    if (how && how.how === 'kill') log(`note: ${name} did not exit within its grace period after SIGTERM and was killed`);
  }

  if (problems.length) {
    console.error(`\nlive Prometheus test FAILED: ${problems.length} problem(s):\n  - ${problems.join('\n  - ')}`);
    return 'fail';
  }
  return 'pass';
}

async function main() {
  const watchdog = setTimeout(() => {
    console.error(`live Prometheus test: still running after ${WATCHDOG_MS / 1000} s; giving up`);
    // A bounded clean-up; the exit handler of dashboard_queries.mjs kills any child still running.
    Promise.race([cleanup(), sleep(20000)]).finally(() => { console.log('0 passed, 1 failed'); process.exit(1); });
  }, WATCHDOG_MS);
  watchdog.unref();
  for (const sig of ['SIGINT', 'SIGTERM']) {
    process.once(sig, async () => {
      console.error(`live Prometheus test: ${sig}, stopping`);
      await cleanup();
      console.log('0 passed, 1 failed');
      process.exit(1);
    });
  }
  let result;
  try {
    result = await run();
  } catch (e) {
    console.error(`live Prometheus test FAILED: ${e.message}`);
    result = 'fail';
  } finally {
    await cleanup();
  }
  log(`done (${result})`);
  if (result === 'skip') { console.log('0 passed, 0 failed, 1 skipped'); return 77; }
  console.log(result === 'pass' ? '1 passed, 0 failed' : '0 passed, 1 failed');
  return result === 'pass' ? 0 : 1;
}

const realpath = (p) => { try { return fs.realpathSync(p); } catch { return path.resolve(p); } };
if (process.argv[1] && realpath(process.argv[1]) === realpath(fileURLToPath(import.meta.url))) {
  main().then((code) => { process.exitCode = code; }, (e) => { console.error(e.stack || String(e)); console.log('0 passed, 1 failed'); process.exitCode = 1; });
}
