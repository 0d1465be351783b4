#!/usr/bin/env node
// Lint of the chatdesk dashboards and Prometheus rules (registered in CTest by dashboards/CMakeLists.txt).
//
//   node dashboards/tests/lint_dashboards.mjs            static checks (below)
//   node dashboards/tests/lint_dashboards.mjs --live     compare dashboards/exported_metrics.txt with a
//                                                        live scrape of CHATDESK_GATEWAY_BIN (exit 77,
//                                                        "skipped", when it is not set)
//   node dashboards/tests/lint_dashboards.mjs --self-test  break the real files in memory in known ways
//                                                        and check that each is reported
//
// Static checks:
//   - grafana/*.json: valid JSON, a Grafana dashboard model (uid, title, schemaVersion, time,
//     templating with the datasource/shop/agent variables, panels with unique ids, a type, a title and
//     a gridPos inside 24 columns, not overlapping); every panel has targets, each with a refId and a
//     non-empty expr; every datasource reference anywhere is the ${datasource} variable (no
//     hard-coded UID); table columns renamed from "Value #X" name real refIds.
//   - every metric an expr names (dashboard panels, variables, annotations, recording and alert
//     rules) is a series of a family in exported_metrics.txt, a recorded series of
//     prometheus/recording_rules.yml, or one of Prometheus's own (up, ALERTS); label matchers use
//     labels the series has, and values of closed label sets (rule, severity, le, ...) that exist.
//   - with promtool (PROMTOOL or PATH): every dashboard expr parses (variables substituted).
//   - recording rules are named level:metric:operations, are used (by a dashboard, an alert or another
//     rule), and those the dashboards use directly are covered by a promtool promql_expr_test.
//   - every alert has severity page|ticket, summary, description and a runbook saying what it
//     means / what to check / what to do, and prometheus/tests has a firing and a not-firing case
//     for it.
//   - several gateway nodes (docs/scaling.md): every per-shop series (a family with a shop label) in a
//     panel, recording or alert rule is summed over the instances before anything else is done with
//     it: a gauge is the direct operand of sum (sum(g), sum by (shop, ...) (g)), a counter's rate or
//     increase likewise; never a bare selector, max/min/avg over the nodes, or instance kept in the
//     grouping.
//
// Environment: CHATDESK_GATEWAY_BIN (the gateway, for --live), PROMTOOL (default: promtool on PATH).

import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import {
  httpGet, panelsOf, parseLabelValues, sleep, startGateway, substituteVariables, variableQuery, wsConnect,
} from './dashboard_queries.mjs';
import { parseYaml } from './yaml_subset.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, '..'); // dashboards/

const DS_VAR = new Set(['${datasource}', '$datasource']);
// Series Prometheus makes itself: label sets are free (ALERTS carries the alert's labels).
const PROMETHEUS_SERIES = { up: ['job', 'instance'], ALERTS: null, ALERTS_FOR_STATE: null };
const TARGET_LABELS = ['job', 'instance'];
const PANEL_TYPES = new Set(['timeseries', 'stat', 'table', 'bargauge', 'gauge', 'barchart', 'heatmap', 'piechart', 'state-timeline', 'status-history']);

// ------------------------------------------------------------------------------------------------
// exported_metrics.txt
// ------------------------------------------------------------------------------------------------

// { family: { type, labels: { name: Set|null } } }
export function parseExported(text) {
  const families = {};
  text.split('\n').forEach((line, i) => {
    const l = line.replace(/#.*/, '').trim();
    if (!l) return;
    const [name, type, ...labelSpecs] = l.split(/\s+/);
    if (!/^[a-zA-Z_:][a-zA-Z0-9_:]*$/.test(name) || !['counter', 'gauge', 'histogram', 'summary'].includes(type)) {
      throw new Error(`exported_metrics.txt:${i + 1}: expected "<name> <counter|gauge|histogram> <label>...": ${line}`);
    }
    const labels = {};
    for (const spec of labelSpecs) {
      const [label, values] = spec.split('=');
      labels[label] = values === undefined ? null : new Set(values.split('|'));
    }
    if (type === 'histogram' && !labels.le) throw new Error(`exported_metrics.txt:${i + 1}: histogram ${name} must list its le bounds`);
    families[name] = { type, labels };
  });
  return families;
}

// Series name -> { family, labels } for every series the exported families produce.
function seriesIndex(families) {
  const index = {};
  for (const [name, f] of Object.entries(families)) {
    if (f.type === 'histogram') {
      const { le, ...rest } = f.labels;
      index[`${name}_bucket`] = { family: name, labels: f.labels };
      index[`${name}_count`] = { family: name, labels: rest };
      index[`${name}_sum`] = { family: name, labels: rest };
    } else {
      index[name] = { family: name, labels: f.labels };
    }
  }
  return index;
}

// ------------------------------------------------------------------------------------------------
// PromQL: the selectors of an expression (metric name and label matchers), without a full parser.
// ------------------------------------------------------------------------------------------------

const GROUPING = new Set(['by', 'without', 'on', 'ignoring', 'group_left', 'group_right']);
// Aggregation operators are keywords too: "sum by (x) (...)" has no "(" right after "sum".
const AGGREGATIONS = ['sum', 'min', 'max', 'avg', 'group', 'stddev', 'stdvar', 'count', 'count_values', 'bottomk', 'topk', 'quantile'];
const KEYWORDS = new Set(['and', 'or', 'unless', 'bool', 'offset', 'atan2', 'inf', 'nan', ...GROUPING, ...AGGREGATIONS]);

export function selectors(expr) {
  const out = [];
  let i = 0;
  const n = expr.length;
  const skipWs = () => { while (i < n && /\s/.test(expr[i])) i++; };
  const skipString = () => {
    const q = expr[i++];
    while (i < n && expr[i] !== q) i += expr[i] === '\\' && q !== '`' ? 2 : 1;
    i++;
  };
  const skipBalanced = (open, close) => {
    let depth = 0;
    for (; i < n; i++) {
      if (expr[i] === '"' || expr[i] === "'" || expr[i] === '`') { skipString(); i--; continue; }
      if (expr[i] === open) depth++;
      else if (expr[i] === close && --depth === 0) { i++; return; }
    }
    throw new Error(`unbalanced ${open}${close} in: ${expr}`);
  };
  const readMatchers = () => {
    // expr[i] === '{'
    const start = i;
    skipBalanced('{', '}');
    const body = expr.slice(start + 1, i - 1);
    const matchers = [];
    const re = /\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*(=~|!~|!=|=)\s*("(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`[^`]*`)\s*(,|$)/y;
    let m;
    let at = 0;
    while (at < body.length && /\S/.test(body.slice(at))) {
      re.lastIndex = at;
      m = re.exec(body);
      if (!m) throw new Error(`cannot read label matchers {${body}} in: ${expr}`);
      const raw = m[3];
      const value = raw.startsWith('`') ? raw.slice(1, -1) : JSON.parse(raw.startsWith("'") ? `"${raw.slice(1, -1).replace(/"/g, '\\"')}"` : raw);
      matchers.push({ label: m[1], op: m[2], value });
      at = re.lastIndex;
    }
    return matchers;
  };

  while (i < n) {
    const c = expr[i];
    if (/\s/.test(c)) { i++; continue; }
    if (c === '#') { while (i < n && expr[i] !== '\n') i++; continue; }
    if (c === '"' || c === "'" || c === '`') { skipString(); continue; }
    if (c === '[') { skipBalanced('[', ']'); continue; }
    if (c === '$') { // a Grafana variable: $name, ${name}, $__range
      i++;
      if (expr[i] === '{') skipBalanced('{', '}');
      else while (i < n && /[a-zA-Z0-9_]/.test(expr[i])) i++;
      continue;
    }
    if (c === '{') { out.push({ name: null, matchers: readMatchers() }); continue; }
    if (/[0-9.]/.test(c)) {
      const m = expr.slice(i).match(/^(0x[0-9a-fA-F]+|[0-9]*\.?[0-9]+(?:[eE][+-]?[0-9]+)?)(?:[a-zA-Z]+[0-9]*)*/);
      i += m ? m[0].length : 1;
      continue;
    }
    const id = expr.slice(i).match(/^[a-zA-Z_:][a-zA-Z0-9_:]*/);
    if (id) {
      const word = id[0];
      i += word.length;
      skipWs();
      if (expr[i] === '(') {
        if (GROUPING.has(word)) skipBalanced('(', ')'); // label list, not expressions
        continue; // a function or aggregation: its arguments are read as they come
      }
      if (KEYWORDS.has(word.toLowerCase())) continue;
      out.push({ name: word, matchers: expr[i] === '{' ? readMatchers() : [] });
      continue;
    }
    i++;
  }
  for (const s of out) {
    if (s.name === null) {
      const nameMatcher = s.matchers.find((m) => m.label === '__name__' && m.op === '=');
      s.name = nameMatcher ? nameMatcher.value : null;
    }
  }
  return out;
}

// ------------------------------------------------------------------------------------------------
// The checks
// ------------------------------------------------------------------------------------------------

class Lint {
  constructor({ exported, recordingRules, alertRules, ruleTests, dashboards, promtool }) {
    this.errors = [];
    this.exported = exported;
    this.series = seriesIndex(exported);
    this.recordingRules = recordingRules; // [{ record, expr, group }]
    this.alertRules = alertRules;         // [{ alert, expr, labels, annotations, for }]
    this.ruleTests = ruleTests;           // [{ file, doc }]
    this.dashboards = dashboards;         // [{ file, json }]
    this.promtool = promtool;
    this.recorded = new Map(this.recordingRules.map((r) => [r.record, r]));
    this.used = new Map(); // recorded series -> where it is used
  }

  error(where, msg) { this.errors.push(`${where}: ${msg}`); }

  // The labels (and closed value sets) of a recorded series, from its level and its base metric.
  recordedLabels(name) {
    const [level, metric] = name.split(':');
    const labels = {};
    for (const label of level.split('_')) {
      let values = null;
      for (const [fam, f] of Object.entries(this.exported)) {
        const related = metric === fam || metric.startsWith(`${fam}_`) || fam.startsWith(`${metric}_`);
        if (related && f.labels[label]) values = f.labels[label];
      }
      labels[label] = values;
    }
    return labels;
  }

  // Checks every selector of `expr`; `where` names the place for messages.
  checkExpr(where, expr, { usedBy } = {}) {
    if (typeof expr !== 'string' || !expr.trim()) { this.error(where, 'empty expr'); return; }
    let sels;
    try {
      sels = selectors(expr);
    } catch (e) {
      this.error(where, e.message);
      return;
    }
    if (sels.length === 0) this.error(where, `expr names no metric: ${expr}`);
    for (const s of sels) {
      if (!s.name) { this.error(where, `selector without a metric name in: ${expr}`); continue; }
      let labels;
      if (this.series[s.name]) {
        labels = { ...this.series[s.name].labels };
        for (const t of TARGET_LABELS) labels[t] = null;
      } else if (this.recorded.has(s.name)) {
        labels = this.recordedLabels(s.name);
        if (usedBy) {
          if (!this.used.has(s.name)) this.used.set(s.name, new Set());
          this.used.get(s.name).add(usedBy);
        }
      } else if (Object.prototype.hasOwnProperty.call(PROMETHEUS_SERIES, s.name)) {
        const l = PROMETHEUS_SERIES[s.name];
        labels = l ? Object.fromEntries(l.map((x) => [x, null])) : null;
      } else {
        this.error(where, `unknown metric "${s.name}": neither exported by the gateway (exported_metrics.txt) nor recorded (recording_rules.yml)`);
        continue;
      }
      if (!labels) continue;
      for (const m of s.matchers) {
        if (m.label === '__name__') continue;
        if (!Object.prototype.hasOwnProperty.call(labels, m.label)) {
          this.error(where, `${s.name} has no label "${m.label}" (has: ${Object.keys(labels).join(', ') || 'none'})`);
          continue;
        }
        const allowed = labels[m.label];
        if (!allowed || m.value.includes('$')) continue;
        let values = null;
        if (m.op === '=' || m.op === '!=') values = [m.value];
        else if (/^[A-Za-z0-9_|]+$/.test(m.value)) values = m.value.split('|');
        for (const v of values ?? []) {
          if (!allowed.has(v)) this.error(where, `${s.name}{${m.label}${m.op}"${m.value}"}: "${v}" is not a ${m.label} value (${[...allowed].join(', ')})`);
        }
      }
    }
  }

  // Several gateway nodes are several instances of job chatdesk (docs/scaling.md). A shop's desk
  // runs on its home node: only that node reports non-zero per-shop gauges and counts the shop's
  // counters, the others report 0, and the home may move. So a per-shop series is summed over the
  // instances first: compared per instance, a node that is not the home ("0 available") would be
  // joined with the home's queue, and a rate split by a move would be seen in halves.
  checkAcrossNodes(where, expr) {
    if (typeof expr !== 'string') return;
    // String literals and comments blanked (same length), so that positions stay and label values
    // are not read as names.
    const text = expr.replace(/"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`[^`]*`|#[^\n]*/g, (m) => ' '.repeat(m.length));
    const skipWs = (i) => { while (i < text.length && /\s/.test(text[i])) i++; return i; };
    const skipPair = (i, open, close) => {
      if (text[i] !== open) return i;
      const end = text.indexOf(close, i);
      return end < 0 ? text.length : end + 1;
    };
    for (const m of text.matchAll(/[a-zA-Z_:][a-zA-Z0-9_:]*/g)) {
      const name = m[0];
      const entry = this.series[name];
      const family = entry && this.exported[entry.family];
      if (!family || !Object.prototype.hasOwnProperty.call(entry.labels, 'shop')) continue;
      const counter = family.type !== 'gauge';
      let before = text.slice(0, m.index).trimEnd();
      let ok = true;
      let after = skipWs(skipPair(skipWs(m.index + name.length), '{', '}'));
      if (counter) {
        const r = before.match(/\b(rate|increase|irate)\s*\($/);
        if (!r) ok = false;
        else {
          before = before.slice(0, r.index).trimEnd();
          after = skipWs(skipPair(after, '[', ']'));
          if (text[after] !== ')') ok = false;
          after = skipWs(after + 1);
        }
      }
      const agg = ok && before.match(/\bsum\s*(?:\b(by|without)\s*\(([^()]*)\)\s*)?\($/);
      if (!agg || text[after] !== ')') ok = false;
      else {
        const labels = (agg[2] ?? '').split(',').map((x) => x.trim()).filter(Boolean);
        if (agg[1] === 'by' && labels.includes('instance')) ok = false;
        if (agg[1] === 'without' && !labels.includes('instance')) ok = false;
      }
      if (!ok) {
        this.error(where, `${name} is per shop and reported by every gateway node (non-zero only on the shop's home, which may move): ` +
          `sum it over the instances first, as the direct operand of sum by (shop, ...) (${counter ? `rate(${name}[...])` : name}) ` +
          '(docs/scaling.md; dashboards/README.md, "Several nodes")');
      }
    }
  }

  checkRules() {
    const names = new Set();
    for (const r of this.recordingRules) {
      const where = `recording_rules.yml ${r.record}`;
      if (names.has(r.record)) this.error(where, 'recorded twice');
      names.add(r.record);
      const parts = r.record.split(':');
      if (parts.length !== 3 || parts.some((p) => !/^[a-zA-Z_][a-zA-Z0-9_]*$/.test(p))) {
        this.error(where, 'not named level:metric:operations');
      }
      this.checkExpr(where, r.expr, { usedBy: `rule ${r.record}` });
      this.checkAcrossNodes(where, r.expr);
    }
    const alertNames = new Set();
    for (const a of this.alertRules) {
      const where = `alert_rules.yml ${a.alert}`;
      if (alertNames.has(a.alert)) this.error(where, 'defined twice');
      alertNames.add(a.alert);
      this.checkExpr(where, a.expr, { usedBy: `alert ${a.alert}` });
      this.checkAcrossNodes(where, a.expr);
      const sev = a.labels?.severity;
      if (sev !== 'page' && sev !== 'ticket') this.error(where, `severity label must be page or ticket, is ${JSON.stringify(sev)}`);
      for (const k of ['summary', 'description', 'runbook']) {
        if (typeof a.annotations?.[k] !== 'string' || !a.annotations[k].trim()) this.error(where, `missing annotation ${k}`);
      }
      const runbook = a.annotations?.runbook ?? '';
      for (const part of ['What it means', 'What to check', 'What to do']) {
        if (!runbook.includes(part)) this.error(where, `runbook lacks "${part}"`);
      }
    }

    // Every alert has a firing and a not-firing promtool case.
    const cases = new Map();
    const testedExprs = [];
    for (const { file, doc } of this.ruleTests) {
      for (const t of doc?.tests ?? []) {
        for (const c of t.alert_rule_test ?? []) {
          if (!cases.has(c.alertname)) cases.set(c.alertname, { firing: 0, quiet: 0 });
          const exp = c.exp_alerts;
          if (Array.isArray(exp) && exp.length > 0) cases.get(c.alertname).firing++;
          else cases.get(c.alertname).quiet++;
          if (!alertNames.has(c.alertname)) this.error(file, `test for unknown alert ${c.alertname}`);
        }
        for (const c of t.promql_expr_test ?? []) testedExprs.push(c.expr ?? '');
      }
    }
    for (const name of alertNames) {
      const c = cases.get(name) ?? { firing: 0, quiet: 0 };
      if (!c.firing) this.error(`alert_rules.yml ${name}`, 'no promtool test case where it fires (prometheus/tests)');
      if (!c.quiet) this.error(`alert_rules.yml ${name}`, 'no promtool test case where it stays quiet (exp_alerts: [])');
    }
    this.testedExprs = testedExprs;
  }

  checkDashboard(file, d) {
    const where = (p) => `${file}${p ? ` panel ${JSON.stringify(p.title ?? p.id)}` : ''}`;
    if (!d || typeof d !== 'object' || Array.isArray(d)) { this.error(file, 'not a JSON object'); return; }
    for (const [k, type] of [['title', 'string'], ['uid', 'string'], ['schemaVersion', 'number'], ['panels', 'object'], ['templating', 'object'], ['time', 'object']]) {
      if (typeof d[k] !== type || d[k] === null) this.error(file, `missing or bad "${k}"`);
    }
    if (typeof d.uid === 'string' && !/^[a-zA-Z0-9_-]{1,40}$/.test(d.uid)) this.error(file, `bad uid ${d.uid}`);
    if (typeof d.schemaVersion === 'number' && (d.schemaVersion < 36 || d.schemaVersion > 41)) this.error(file, `schemaVersion ${d.schemaVersion} is not a Grafana 9/10 model`);
    if (d.id !== null && d.id !== undefined) this.error(file, '"id" must be null for an importable/provisioned dashboard');
    if (d.__inputs) this.error(file, 'uses __inputs (an export for sharing); use the ${datasource} variable instead');

    // Every datasource reference, wherever it is, is the variable.
    const walk = (node, at) => {
      if (Array.isArray(node)) { node.forEach((x, i) => walk(x, `${at}[${i}]`)); return; }
      if (!node || typeof node !== 'object') return;
      for (const [k, v] of Object.entries(node)) {
        if (k === 'datasource') {
          const uid = typeof v === 'string' ? v : v?.uid;
          if (v !== null && !DS_VAR.has(uid)) this.error(file, `${at}.datasource is ${JSON.stringify(v)}: hard-coded; use {"type": "prometheus", "uid": "\${datasource}"}`);
          if (v && typeof v === 'object' && v.type !== undefined && v.type !== 'prometheus') this.error(file, `${at}.datasource type ${v.type}, expected prometheus`);
        }
        walk(v, `${at}.${k}`);
      }
    };
    walk(d, '$');

    // Template variables.
    const vars = Object.fromEntries((d.templating?.list ?? []).map((v) => [v.name, v]));
    if (vars.datasource?.type !== 'datasource' || vars.datasource?.query !== 'prometheus') this.error(file, 'needs a "datasource" variable of type datasource, query prometheus');
    const varQuery = variableQuery;
    const expectVar = (name, def) => {
      const v = vars[name];
      if (!v || v.type !== 'query') { this.error(file, `needs a query variable "${name}"`); return; }
      if (varQuery(v) !== def) this.error(file, `variable ${name} must be ${def}, is ${varQuery(v)}`);
      if (v.definition !== undefined && v.definition !== varQuery(v)) this.error(file, `variable ${name}: definition and query differ`);
    };
    expectVar('shop', 'label_values(chatdesk_queue_length, shop)');
    expectVar('agent', 'label_values(chatdesk_greeting_latency_seconds_count{shop=~"$shop"}, agent)');
    for (const v of d.templating?.list ?? []) {
      const q = varQuery(v);
      if (v.type !== 'query' || !q) continue;
      const lv = parseLabelValues(q);
      if (!lv) { this.checkExpr(`${file} variable ${v.name}`, q); continue; }
      this.checkExpr(`${file} variable ${v.name}`, lv.match);
      const sel = selectors(lv.match)[0];
      const labels = sel && (this.series[sel.name]?.labels ?? (this.recorded.has(sel.name) ? this.recordedLabels(sel.name) : null));
      if (labels && !Object.prototype.hasOwnProperty.call(labels, lv.label)) this.error(`${file} variable ${v.name}`, `${sel.name} has no label ${lv.label}`);
    }

    for (const [i, a] of (d.annotations?.list ?? []).entries()) {
      if (a.builtIn) continue;
      this.checkExpr(`${file} annotation ${a.name ?? i}`, a.expr ?? a.target?.expr, { usedBy: `${file} annotation` });
      this.checkAcrossNodes(`${file} annotation ${a.name ?? i}`, a.expr ?? a.target?.expr);
    }

    // Panels (rows hold theirs in "panels" when collapsed).
    const panels = panelsOf(d);
    if (panels.length === 0) this.error(file, 'no panels');
    const ids = new Set();
    const cells = new Map();
    for (const p of panels) {
      if (!Number.isInteger(p.id)) this.error(where(p), 'id must be an integer');
      else if (ids.has(p.id)) this.error(where(p), `duplicate panel id ${p.id}`);
      ids.add(p.id);
      if (!PANEL_TYPES.has(p.type)) this.error(where(p), `unexpected panel type ${p.type}`);
      if (typeof p.title !== 'string' || !p.title.trim()) this.error(where(p), 'no title');
      const g = p.gridPos;
      if (!g || ![g.x, g.y, g.w, g.h].every(Number.isInteger) || g.x < 0 || g.w < 1 || g.h < 1 || g.x + g.w > 24) {
        this.error(where(p), `bad gridPos ${JSON.stringify(g)}`);
      } else {
        for (let x = g.x; x < g.x + g.w; x++) {
          for (let y = g.y; y < g.y + g.h; y++) {
            const other = cells.get(`${x},${y}`);
            if (other !== undefined && other !== p.id) { this.error(where(p), `overlaps panel ${other}`); x = Infinity; break; }
            cells.set(`${x},${y}`, p.id);
          }
        }
      }
      if (!DS_VAR.has(p.datasource?.uid)) this.error(where(p), 'panel datasource must be ${datasource}');
      if (!Array.isArray(p.targets) || p.targets.length === 0) { this.error(where(p), 'no targets'); continue; }
      const refs = new Set();
      let withExpr = 0;
      for (const t of p.targets) {
        if (!t.refId) this.error(where(p), 'target without refId');
        if (refs.has(t.refId)) this.error(where(p), `duplicate refId ${t.refId}`);
        refs.add(t.refId);
        if (typeof t.expr !== 'string' || !t.expr.trim()) { this.error(where(p), `target ${t.refId} has no expr`); continue; }
        withExpr++;
        this.checkExpr(`${where(p)} target ${t.refId}`, t.expr, { usedBy: `${file} ${p.title}` });
        this.checkAcrossNodes(`${where(p)} target ${t.refId}`, t.expr);
        this.exprs.push({ where: `${where(p)} target ${t.refId}`, expr: t.expr });
      }
      if (withExpr === 0) this.error(where(p), 'no target with an expr');
      for (const tr of p.transformations ?? []) {
        for (const key of Object.keys(tr.options?.renameByName ?? {})) {
          const m = key.match(/^Value #(.+)$/);
          if (m && !refs.has(m[1])) this.error(where(p), `renames "${key}" but has no target ${m[1]}`);
        }
      }
      if (p.type === 'table' && p.targets.length > 1) {
        const renamed = new Set(Object.keys(Object.assign({}, ...(p.transformations ?? []).map((t) => t.options?.renameByName ?? {}))));
        for (const r of refs) if (!renamed.has(`Value #${r}`)) this.error(where(p), `column "Value #${r}" is not renamed`);
      }
    }
  }

  checkDashboards() {
    this.exprs = [];
    if (this.dashboards.length === 0) this.error('grafana', 'no dashboards');
    for (const { file, json } of this.dashboards) this.checkDashboard(file, json);
  }

  checkUsage() {
    for (const r of this.recordingRules) {
      const users = [...(this.used.get(r.record) ?? [])].filter((u) => u !== `rule ${r.record}`);
      if (users.length === 0) this.error(`recording_rules.yml ${r.record}`, 'recorded but used by no dashboard, alert or rule');
      const direct = users.filter((u) => !u.startsWith('rule ') && !u.startsWith('alert '));
      if (direct.length && !this.testedExprs.some((e) => selectorsSafe(e).some((s) => s.name === r.record))) {
        this.error(`recording_rules.yml ${r.record}`, `used by the dashboards (${direct[0]}) but no promql_expr_test checks it`);
      }
    }
  }

  // Every dashboard expr must parse: promtool check rules on a rule file of them.
  checkSyntax() {
    if (!this.promtool) return 'skipped (promtool not found; set PROMTOOL)';
    const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'chatdesk-lint-'));
    try {
      const file = path.join(tmp, 'dashboard_exprs.yml');
      const groups = this.exprs.map((e, i) => `  - name: ${JSON.stringify(`${i} ${e.where}`)}\n    rules:\n      - record: lint_expr_${i}\n        expr: ${JSON.stringify(substituteVariables(e.expr))}\n`);
      fs.writeFileSync(file, `groups:\n${groups.join('')}`);
      const r = spawnSync(this.promtool, ['check', 'rules', file], { encoding: 'utf8' });
      if (r.error) return `skipped (${r.error.message})`;
      if (r.status !== 0) this.error('promtool check rules (dashboard exprs)', (r.stdout + r.stderr).trim());
      return `${this.exprs.length} exprs parsed by promtool`;
    } finally {
      fs.rmSync(tmp, { recursive: true, force: true });
    }
  }

  // The agents table's Score column computes the formula its description documents: promtool
  // evaluates the query on agents with known shares and breaches.
  checkScore() {
    const d = this.dashboards.find((x) => x.json?.uid === 'chatdesk-agents')?.json;
    const table = d?.panels?.find((p) => p.type === 'table');
    const renames = Object.assign({}, ...(table?.transformations ?? []).map((tr) => tr.options?.renameByName ?? {}));
    const scoreKey = Object.keys(renames).find((k) => renames[k] === 'Score');
    const target = table?.targets?.find((t) => `Value #${t.refId}` === scoreKey);
    if (!target) { this.error('grafana/agents.json', 'no "Score" column in the agent ranking table'); return 'no score'; }
    const doc = `${table.description ?? ''}\n${d.description ?? ''}`;
    const w = doc.match(/score = (\d+) x G \+ (\d+) x R \+ (\d+) x T - (\d+) x B/);
    if (!w) { this.error('grafana/agents.json', 'the ranking table description does not state "score = a x G + b x R + c x T - d x B"'); return 'no formula'; }
    const [wg, wr, wt, wb] = w.slice(1).map(Number);
    if (!this.promtool) return 'score check skipped (no promtool)';
    // Per agent: greetings (within 15 s), replies (within 20 s), measured messages (at most 50 cpm),
    // breaches, warnings. Counters step from 0 to their total at 30m; the query runs at 61m over 1h.
    const agents = {
      alice: { g: [20, 16], r: [50, 45], t: [40, 10], breach: 2, warning: 3 },
      bob: { g: [10, 10], r: [0, 0], t: [0, 0], breach: 0, warning: 0 },
      dave: { g: [2, 0], r: [10, 0], t: [10, 10], breach: 10, warning: 0 },
      carol: { g: [0, 0], r: [5, 5], t: [0, 0], breach: 0, warning: 1 }, // served nobody: not ranked
      none: { g: [5, 5], r: [0, 0], t: [0, 0], breach: 4, warning: 0 },  // the queue: not ranked
    };
    const series = [];
    const add = (name, labels, total) => {
      const l = Object.entries({ shop: 'demo', ...labels, job: 'chatdesk', instance: 'gw:8080' }).map(([k, v]) => `${k}="${v}"`).join(',');
      series.push(`      - series: '${name}{${l}}'\n        values: '0x30 ${total}x30'\n`);
    };
    const expected = [];
    for (const [agent, a] of Object.entries(agents)) {
      add('chatdesk_greeting_latency_seconds_count', { agent }, a.g[0]);
      add('chatdesk_greeting_latency_seconds_bucket', { agent, le: '15' }, a.g[1]);
      add('chatdesk_reply_wait_seconds_count', { agent }, a.r[0]);
      add('chatdesk_reply_wait_seconds_bucket', { agent, le: '20' }, a.r[1]);
      add('chatdesk_typing_rate_cpm_count', { agent }, a.t[0]);
      add('chatdesk_typing_rate_cpm_bucket', { agent, le: '50' }, a.t[1]);
      add('chatdesk_sla_violations_total', { agent, rule: 'greeting', severity: 'breach' }, a.breach);
      add('chatdesk_sla_violations_total', { agent, rule: 'typing_rate', severity: 'warning' }, a.warning);
      if (a.g[0] === 0 || agent === 'none') continue;
      const share = ([n, ok]) => (n ? ok / n : 1);
      const score = wg * share(a.g) + wr * share(a.r) + wt * (a.t[0] ? 1 - a.t[1] / a.t[0] : 1) - wb * (a.breach / a.g[0]);
      expected.push({ agent, value: Math.round(Math.min(100, Math.max(0, score)) * 100) / 100 });
    }
    const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'chatdesk-score-'));
    try {
      const file = path.join(tmp, 'score_test.yml');
      fs.writeFileSync(file, 'rule_files: []\nevaluation_interval: 1m\ntests:\n  - interval: 1m\n    input_series:\n' + series.join('') +
        '    promql_expr_test:\n      - expr: ' + JSON.stringify(`round(${substituteVariables(target.expr)}, 0.01)`) + '\n        eval_time: 61m\n        exp_samples:\n' +
        expected.map((e) => `          - labels: '{shop="demo",agent="${e.agent}"}'\n            value: ${e.value}\n`).join(''));
      const r = spawnSync(this.promtool, ['test', 'rules', file], { encoding: 'utf8' });
      if (r.error) return `score check skipped (${r.error.message})`;
      if (r.status !== 0) {
        this.error('grafana/agents.json Score', `the query does not compute the documented score ${w[0]}:\n${(r.stdout + r.stderr).trim()}`);
      }
      return `score formula checked on ${expected.length} agents`;
    } finally {
      fs.rmSync(tmp, { recursive: true, force: true });
    }
  }

  // Every panel expr returns data on synthetic traffic: promtool evaluates absent(expr) (which is
  // empty exactly when expr has data) with the recording rules loaded, on series made from
  // exported_metrics.txt for two shops and two agents, every listed label value, rising counters
  // and histograms.
  checkData() {
    if (!this.promtool) return 'data check skipped (no promtool)';
    const series = [];
    const steps = 120; // 30 s apart: an hour
    const line = (name, labels, values) => {
      const l = Object.entries({ ...labels, job: 'chatdesk', instance: 'gw:8080' }).map(([k, v]) => `${k}="${v}"`).join(',');
      series.push(`      - series: '${name}{${l}}'\n        values: '${values}'\n`);
    };
    const combos = (labels) => {
      let out = [{}];
      for (const [label, values] of Object.entries(labels)) {
        if (label === 'le') continue;
        const vs = values ? [...values] : { shop: ['demo', 'night-market'], agent: ['alice', 'bob'] }[label] ?? ['x'];
        out = out.flatMap((o) => vs.map((v) => ({ ...o, [label]: v })));
      }
      return out;
    };
    for (const [name, f] of Object.entries(this.exported)) {
      for (const labels of combos(f.labels)) {
        if (f.type === 'histogram') {
          const les = [...f.labels.le].filter((x) => x !== '+Inf').map(Number).sort((a, b) => a - b);
          const perStep = 4 * (les.length + 1);
          les.forEach((le, i) => line(`${name}_bucket`, { ...labels, le: String(le) }, `0+${4 * (i + 1)}x${steps}`));
          line(`${name}_bucket`, { ...labels, le: '+Inf' }, `0+${perStep}x${steps}`);
          line(`${name}_count`, labels, `0+${perStep}x${steps}`);
          line(`${name}_sum`, labels, `0+${perStep * 10}x${steps}`);
        } else {
          line(name, labels, f.type === 'counter' ? `0+1x${steps}` : `1x${steps}`);
        }
      }
    }
    line('up', {}, `1x${steps}`);
    const exprs = this.exprs.map((e) => ({ ...e, sub: substituteVariables(e.expr).replace(/\[1m\]/g, '[2m]') }));
    const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'chatdesk-data-'));
    try {
      const file = path.join(tmp, 'data_test.yml');
      fs.writeFileSync(file, `rule_files:\n  - ${JSON.stringify(path.join(root, 'prometheus', 'recording_rules.yml'))}\nevaluation_interval: 30s\ntests:\n` +
        `  - interval: 30s\n    input_series:\n${series.join('')}    promql_expr_test:\n` +
        exprs.map((e) => `      - expr: ${JSON.stringify(`absent(${e.sub})`)}\n        eval_time: 59m\n        exp_samples: []\n`).join(''));
      const r = spawnSync(this.promtool, ['test', 'rules', file], { encoding: 'utf8', maxBuffer: 64 << 20 });
      if (r.error) return `data check skipped (${r.error.message})`;
      if (r.status !== 0) {
        const out = r.stdout + r.stderr;
        const empty = exprs.filter((e) => out.includes(JSON.stringify(`absent(${e.sub})`)) || out.includes(`absent(${e.sub})`));
        for (const e of empty) this.error(e.where, 'returns no data on synthetic traffic');
        if (!empty.length) this.error('synthetic data check', out.trim().slice(0, 3000));
      }
      return `${exprs.length} exprs return data on synthetic traffic`;
    } finally {
      fs.rmSync(tmp, { recursive: true, force: true });
    }
  }

  run() {
    this.checkRules();
    this.checkDashboards();
    this.checkUsage();
    this.syntax = this.checkSyntax();
    this.score = this.checkScore();
    this.data = this.checkData();
    return this.errors;
  }
}

function selectorsSafe(expr) {
  try { return selectors(expr); } catch { return []; }
}

function findPromtool() {
  if (process.env.PROMTOOL) return process.env.PROMTOOL;
  const r = spawnSync('promtool', ['--version'], { encoding: 'utf8' });
  return r.error ? null : 'promtool';
}

function rulesOf(doc, kind) {
  const out = [];
  for (const g of doc?.groups ?? []) for (const r of g.rules ?? []) if (r[kind]) out.push({ ...r, group: g.name });
  return out;
}

export function loadInputs(dir = root) {
  const read = (p) => fs.readFileSync(path.join(dir, p), 'utf8');
  const yaml = (p) => parseYaml(read(p), p);
  const testsDir = path.join(dir, 'prometheus', 'tests');
  const grafanaDir = path.join(dir, 'grafana');
  const dashboards = fs.readdirSync(grafanaDir).filter((f) => f.endsWith('.json')).sort().map((f) => {
    const file = `grafana/${f}`;
    try {
      return { file, json: JSON.parse(read(file)) };
    } catch (e) {
      return { file, json: null, parseError: e.message };
    }
  });
  return {
    exported: parseExported(read('exported_metrics.txt')),
    recordingRules: rulesOf(yaml('prometheus/recording_rules.yml'), 'record'),
    alertRules: rulesOf(yaml('prometheus/alert_rules.yml'), 'alert'),
    ruleTests: fs.readdirSync(testsDir).filter((f) => /\.ya?ml$/.test(f)).sort().map((f) => ({ file: `prometheus/tests/${f}`, doc: yaml(`prometheus/tests/${f}`) })),
    dashboards,
    promtool: findPromtool(),
  };
}

function lint(inputs) {
  const l = new Lint(inputs);
  const parseErrors = inputs.dashboards.filter((d) => d.parseError).map((d) => `${d.file}: invalid JSON: ${d.parseError}`);
  const errors = [...parseErrors, ...l.run()];
  return { errors, lint: l };
}

// ------------------------------------------------------------------------------------------------
// --self-test: each known breakage must be reported.
// ------------------------------------------------------------------------------------------------

function selfTest() {
  const clone = (x) => structuredClone(x);
  const base = loadInputs();
  base.promtool = null; // the syntax check is tried once, in the normal run
  const overview = (i) => i.dashboards.find((d) => d.file.endsWith('desk-overview.json')).json;
  const agents = (i) => i.dashboards.find((d) => d.file.endsWith('agents.json')).json;
  const firstTarget = (d) => d.panels.find((p) => p.targets?.length).targets[0];
  const cases = [
    ['unknown metric in a panel', (i) => { firstTarget(overview(i)).expr = 'sum(chatdesk_customers_wating)'; }, /unknown metric "chatdesk_customers_wating"/],
    ['histogram without suffix', (i) => { firstTarget(overview(i)).expr = 'sum(rate(chatdesk_greeting_latency_seconds[5m]))'; }, /unknown metric "chatdesk_greeting_latency_seconds"/],
    ['unknown recorded series', (i) => { firstTarget(agents(i)).expr = 'shop:chatdesk_greeting_latency_seconds:p95_5m'; }, /unknown metric/],
    ['bad label value', (i) => { firstTarget(overview(i)).expr = 'sum(chatdesk_sla_violations_total{rule="reply-wait"})'; }, /"reply-wait" is not a rule value/],
    ['bad le', (i) => { firstTarget(overview(i)).expr = 'sum(chatdesk_greeting_latency_seconds_bucket{le="15.0"})'; }, /"15.0" is not a le value/],
    ['unknown label', (i) => { firstTarget(overview(i)).expr = 'sum(chatdesk_queue_length{agent="a"})'; }, /has no label "agent"/],
    ['empty expr', (i) => { firstTarget(overview(i)).expr = ''; }, /has no expr/],
    ['panel without targets', (i) => { overview(i).panels[1].targets = []; }, /no targets/],
    ['hard-coded panel datasource', (i) => { overview(i).panels[2].datasource = { type: 'prometheus', uid: 'P1809F7CD0C75ACF3' }; }, /hard-coded/],
    ['hard-coded target datasource', (i) => { firstTarget(agents(i)).datasource = { type: 'prometheus', uid: 'abc' }; }, /hard-coded/],
    ['hard-coded variable datasource', (i) => { agents(i).templating.list[1].datasource = 'Prometheus'; }, /hard-coded/],
    ['wrong shop variable', (i) => { const v = overview(i).templating.list.find((x) => x.name === 'shop'); v.query.query = v.definition = 'label_values(up, instance)'; }, /variable shop must be/],
    ['overlapping panels', (i) => { overview(i).panels[1].gridPos = { ...overview(i).panels[0].gridPos }; }, /overlaps/],
    ['table column not renamed', (i) => { agents(i).panels[0].targets.push({ refId: 'Z', expr: 'sum(chatdesk_queue_length)' }); }, /"Value #Z" is not renamed/],
    ['unknown metric in an alert', (i) => { i.alertRules[0].expr = 'sum(chatdesk_greeting_breaches_total) > 1'; }, /unknown metric/],
    ['bad label value in a recording rule', (i) => { i.recordingRules[5].expr = 'sum by (shop) (chatdesk_greeting_latency_seconds_bucket{le="16"})'; }, /"16" is not a le value/],
    ['alert without runbook', (i) => { delete i.alertRules[1].annotations.runbook; }, /missing annotation runbook/],
    ['alert with another severity', (i) => { i.alertRules[2].labels.severity = 'critical'; }, /severity label must be page or ticket/],
    ['alert without a quiet test case', (i) => {
      for (const t of i.ruleTests) for (const tc of t.doc.tests ?? []) tc.alert_rule_test = (tc.alert_rule_test ?? []).filter((c) => !(c.alertname === 'ChatdeskNoAgentAvailable' && !c.exp_alerts?.length));
    }, /ChatdeskNoAgentAvailable: no promtool test case where it stays quiet/],
    ['alert without a firing test case', (i) => {
      for (const t of i.ruleTests) for (const tc of t.doc.tests ?? []) tc.alert_rule_test = (tc.alert_rule_test ?? []).filter((c) => !(c.alertname === 'ChatdeskGatewayDown' && c.exp_alerts?.length));
    }, /ChatdeskGatewayDown: no promtool test case where it fires/],
    ['unused recording rule', (i) => { i.recordingRules.push({ record: 'shop:chatdesk_unused:rate5m', expr: 'sum by (shop) (rate(chatdesk_messages_total[5m]))' }); }, /used by no dashboard/],
    ['badly named recording rule', (i) => { i.recordingRules[0].record = 'greeting_bucket_rate'; }, /level:metric:operations/],
    ['per-shop gauges compared per node', (i) => {
      i.alertRules.find((a) => a.alert === 'ChatdeskNoAgentAvailable').expr = 'chatdesk_agents{state="available"} == 0 and on (shop) chatdesk_queue_length > 0';
    }, /ChatdeskNoAgentAvailable: chatdesk_agents is per shop and reported by every gateway node/],
    ['per-shop gauge as max over the nodes', (i) => { firstTarget(overview(i)).expr = 'max by (shop) (chatdesk_customers_waiting{shop=~"$shop"})'; }, /chatdesk_customers_waiting is per shop and reported by every gateway node/],
    ['per-shop rate kept per node', (i) => {
      i.recordingRules.find((r) => r.record === 'shop:chatdesk_greeting_latency_seconds_count:rate5m').expr = 'sum by (shop, instance) (rate(chatdesk_greeting_latency_seconds_count[5m]))';
    }, /shop:chatdesk_greeting_latency_seconds_count:rate5m: chatdesk_greeting_latency_seconds_count is per shop/],
    ['per-shop counter rated without a sum', (i) => { firstTarget(agents(i)).expr = 'increase(chatdesk_greeting_latency_seconds_count{shop=~"$shop"}[$__range])'; }, /chatdesk_greeting_latency_seconds_count is per shop/],
    ['untested recorded series', (i) => { for (const t of i.ruleTests) for (const tc of t.doc.tests ?? []) tc.promql_expr_test = (tc.promql_expr_test ?? []).filter((c) => !c.expr.includes('p99_5m')); }, /no promql_expr_test checks it/],
  ];
  // These need promtool (they evaluate the Score query).
  const promtool = findPromtool();
  if (promtool) {
    const scoreTable = (i) => agents(i).panels.find((p) => p.type === 'table');
    const scoreTarget = (i) => scoreTable(i).targets.find((t) => t.expr.startsWith('clamp('));
    cases.push(
      ['score query differs from its description', (i) => { i.promtool = promtool; scoreTarget(i).expr = scoreTarget(i).expr.replace('+ 20 *', '+ 25 *'); }, /does not compute the documented score/],
      ['score description differs from the query', (i) => { i.promtool = promtool; for (const o of [scoreTable(i), agents(i)]) o.description = o.description.replace('20 x T', '30 x T'); }, /does not compute the documented score/],
      ['panel query that returns nothing', (i) => { i.promtool = promtool; firstTarget(overview(i)).expr = 'sum(chatdesk_customers_waiting) and on () chatdesk_queue_length{shop="nowhere"}'; }, /returns no data on synthetic traffic/],
      ['score counts warnings', (i) => { i.promtool = promtool; scoreTarget(i).expr = scoreTarget(i).expr.replace(', severity="breach"}', '}'); }, /does not compute the documented score/],
    );
  }
  const baseline = lint(clone(base)).errors;
  if (baseline.length) {
    console.error('self-test: the real files already fail the lint:\n  ' + baseline.join('\n  '));
    return 1;
  }
  let failed = 0;
  for (const [name, breakIt, expect] of cases) {
    const inputs = clone(base);
    breakIt(inputs);
    const { errors } = lint(inputs);
    const ok = errors.some((e) => expect.test(e));
    console.log(`${ok ? 'ok  ' : 'FAIL'} ${name}${ok ? '' : ` (expected ${expect}, got: ${errors.join(' | ') || 'no error'})`}`);
    if (!ok) failed++;
  }
  // The live comparison must notice a family, type, label or value that differs.
  const exported = base.exported;
  const scrape = fakeScrape(exported);
  const liveCases = [
    ['family missing from the list', (s) => { s.families.chatdesk_oldest_wait_seconds = { type: 'gauge', labels: { shop: new Set(['lint']) } }; }, /not in exported_metrics.txt/],
    ['family gone from the gateway', (s) => { delete s.families.chatdesk_queue_length; }, /not exported by the gateway/],
    ['type changed', (s) => { s.families.chatdesk_customers_waiting.type = 'counter'; }, /type/],
    ['label renamed', (s) => { const f = s.families.chatdesk_agents; f.labels.status = f.labels.state; delete f.labels.state; }, /labels/],
    ['bucket moved', (s) => { s.families.chatdesk_reply_wait_seconds.labels.le.delete('20'); s.families.chatdesk_reply_wait_seconds.labels.le.add('25'); }, /le values/],
  ];
  if (compareScrape(exported, clone(scrape)).length) { console.error('self-test: a faithful scrape is reported as different'); failed++; }
  for (const [name, breakIt, expect] of liveCases) {
    const s = clone(scrape);
    breakIt(s);
    const errs = compareScrape(exported, s);
    const ok = errs.some((e) => expect.test(e));
    console.log(`${ok ? 'ok  ' : 'FAIL'} live: ${name}${ok ? '' : ` (got: ${errs.join(' | ') || 'no error'})`}`);
    if (!ok) failed++;
  }
  console.log(failed ? `self-test: ${failed} breakage(s) not detected` : `self-test: all ${cases.length + liveCases.length} breakages detected`);
  return failed ? 1 : 0;
}

// ------------------------------------------------------------------------------------------------
// --live: the list against a running gateway
// ------------------------------------------------------------------------------------------------

// Parses the text exposition format: { families: { name: { type, labels: { label: Set } } } }.
export function parseExposition(text) {
  const families = {};
  const typeOf = {};
  for (const line of text.split('\n')) {
    const t = line.match(/^# TYPE ([a-zA-Z_:][a-zA-Z0-9_:]*) (\w+)/);
    if (t) { typeOf[t[1]] = t[2]; families[t[1]] = { type: t[2], labels: {}, samples: 0 }; continue; }
    if (!line || line.startsWith('#')) continue;
    const m = line.match(/^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+\S+/);
    if (!m) continue;
    let name = m[1];
    if (!families[name]) {
      const base = name.replace(/_(bucket|count|sum)$/, '');
      if (typeOf[base] === 'histogram' || typeOf[base] === 'summary') name = base;
    }
    const fam = families[name] ?? (families[name] = { type: 'untyped', labels: {}, samples: 0 });
    fam.samples++;
    for (const [, k, v] of (m[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) {
      (fam.labels[k] ??= new Set()).add(v.replace(/\\(.)/g, '$1'));
    }
  }
  return { families };
}

function fakeScrape(exported) {
  const families = {};
  for (const [name, f] of Object.entries(exported)) {
    families[name] = { type: f.type, labels: Object.fromEntries(Object.entries(f.labels).map(([k, v]) => [k, new Set(v ?? ['x'])])) };
  }
  return { families };
}

export function compareScrape(exported, scrape) {
  const errs = [];
  for (const name of Object.keys(scrape.families)) {
    if (!exported[name]) errs.push(`the gateway exports ${name} (${scrape.families[name].type}), which is not in exported_metrics.txt`);
  }
  for (const [name, f] of Object.entries(exported)) {
    const s = scrape.families[name];
    if (!s) { errs.push(`${name} is in exported_metrics.txt but not exported by the gateway`); continue; }
    if (s.type !== f.type) errs.push(`${name}: type ${s.type} on /metrics, ${f.type} in exported_metrics.txt`);
    const want = Object.keys(f.labels).sort().join(',');
    const got = Object.keys(s.labels).sort().join(',');
    if (want !== got) errs.push(`${name}: labels {${got}} on /metrics, {${want}} in exported_metrics.txt`);
    for (const [label, values] of Object.entries(f.labels)) {
      if (!values || !s.labels[label]) continue;
      const w = [...values].sort().join('|');
      const g = [...s.labels[label]].sort().join('|');
      if (w !== g) errs.push(`${name}: ${label} values ${g} on /metrics, ${w} in exported_metrics.txt`);
    }
  }
  return errs;
}

async function live() {
  const bin = process.env.CHATDESK_GATEWAY_BIN;
  if (!bin) {
    console.log('live check skipped: CHATDESK_GATEWAY_BIN is not set');
    return 77;
  }
  if (!fs.existsSync(bin)) {
    console.error(`CHATDESK_GATEWAY_BIN=${bin} does not exist (build chatdesk-gateway)`);
    return 1;
  }
  const exported = parseExported(fs.readFileSync(path.join(root, 'exported_metrics.txt'), 'utf8'));
  // Short SLA limits so that a greeting violation (and with it every per-agent family, for agent
  // "none") appears within a second.
  const gw = await startGateway(bin, {
    writtenBy: 'dashboards/tests/lint_dashboards.mjs --live',
    redis: true,
    shops: ['{id: lint, name: Lint shop, timezone: Asia/Shanghai, sla: {greeting_target: 200ms, greeting_limit: 400ms, escalate_every: 400ms}}'],
  });
  let customer = null;
  try {
    customer = await wsConnect(gw.port, '/ws/customer?shop=lint');
    customer.send(JSON.stringify({ type: 'message', text: 'hello', client_msg_id: 'lint-1' }));

    // Wait until every listed family is on /metrics (per-agent ones need the first violation).
    let scrape = null;
    for (let i = 0; i < 100; i++) {
      const res = await httpGet(`${gw.base}/metrics`);
      if (res.status === 200) {
        scrape = parseExposition(res.body);
        if (Object.keys(exported).every((f) => scrape.families[f]?.samples > 0)) break;
      }
      await sleep(100);
    }
    if (!scrape) throw new Error('GET /metrics never answered 200');
    const errs = compareScrape(exported, scrape);
    if (errs.length) {
      console.error(`exported_metrics.txt differs from the live /metrics of ${bin}:\n  ${errs.join('\n  ')}`);
      return 1;
    }
    console.log(`live check: ${Object.keys(exported).length} families, their types, labels and listed label values match ${path.basename(bin)}'s /metrics`);
    return 0;
  } finally {
    customer?.close();
    // Its shutdown is not under test here: a short grace, then SIGKILL.
    await gw.stop({ graceMs: 1000 });
  }
}

// ------------------------------------------------------------------------------------------------

async function main() {
  const args = process.argv.slice(2);
  if (args.includes('--self-test')) return selfTest();
  if (args.includes('--live')) return live();
  if (args.length) { console.error('usage: lint_dashboards.mjs [--live | --self-test]'); return 2; }
  const { errors, lint: l } = lint(loadInputs());
  if (errors.length) {
    console.error(`dashboards lint: ${errors.length} problem(s):\n  ${errors.join('\n  ')}`);
    return 1;
  }
  const panels = l.dashboards.reduce((n, d) => n + d.json.panels.length, 0);
  console.log(`dashboards lint: ok: ${l.dashboards.length} dashboards, ${panels} panels, ${l.exprs.length} panel exprs, ` +
    `${l.recordingRules.length} recording rules, ${l.alertRules.length} alerts; ${l.syntax}; ${l.score}; ${l.data}`);
  return 0;
}

const realpath = (p) => { try { return fs.realpathSync(p); } catch { return path.resolve(p); } };
if (process.argv[1] && realpath(process.argv[1]) === realpath(fileURLToPath(import.meta.url))) {
  main().then((code) => { process.exitCode = code; }, (e) => { console.error(e.stack || String(e)); process.exitCode = 1; });
}
