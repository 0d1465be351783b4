// The benchmark table (tools/bench/run.sh): reads the result lines of every repetition and prints
//   scenario | metric | median | min–max | runs | target | met?
// `met?` judges the median against the target when the target is a plain bound on the figure
// (see judge below), and says in how many runs it held. Other targets are shown but not judged.
// Missing a target is reported, never a failure.
//
//   node report.mjs table RESULTS.jsonl [--title TEXT]...
//   node report.mjs append IN.jsonl OUT.jsonl --rep N --script NAME
//       validates IN's lines (scenario, metric, finite value), adds rep and script, appends them
//       to OUT; exits 1 when IN holds no valid figure (or a bad line), printing why.
import fs from 'node:fs';

const [mode, ...rest] = process.argv.slice(2);

function parseLines(file) {
  const text = fs.existsSync(file) ? fs.readFileSync(file, 'utf8') : '';
  const good = [];
  const bad = [];
  for (const raw of text.split('\n')) {
    if (raw.trim() === '') continue;
    let line;
    try {
      line = JSON.parse(raw);
    } catch {
      bad.push(`not JSON: ${raw.slice(0, 120)}`);
      continue;
    }
    if (typeof line.scenario !== 'string' || typeof line.metric !== 'string' ||
        typeof line.value !== 'number' || !Number.isFinite(line.value)) {
      bad.push(`not a figure: ${raw.slice(0, 120)}`);
      continue;
    }
    good.push(line);
  }
  return { good, bad };
}

function option(name, fallback) {
  const i = rest.indexOf(name);
  return i >= 0 && i + 1 < rest.length ? rest[i + 1] : fallback;
}

if (mode === 'append') {
  const [input, output] = rest;
  const { good, bad } = parseLines(input);
  const rep = Number(option('--rep', '1'));
  const script = option('--script', '');
  for (const b of bad) console.error(`report: ${script}: ${b}`);
  if (good.length === 0) console.error(`report: ${script}: produced no figure`);
  const out = good.map((l) => JSON.stringify({ ...l, rep, script })).join('\n');
  if (out) fs.appendFileSync(output, out + '\n');
  process.exit(good.length > 0 && bad.length === 0 ? 0 : 1);
}

if (mode !== 'table') {
  console.error('usage: node report.mjs table RESULTS.jsonl | append IN OUT --rep N --script S');
  process.exit(2);
}

const { good } = parseLines(rest[0]);
const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};
// Enough digits to compare figures, never fewer than the integer part.
const fmt = (v) => {
  const a = Math.abs(v);
  if (Number.isInteger(v)) return String(v);
  if (a >= 1000) return Math.round(v).toString();
  if (a >= 100) return v.toFixed(1);
  if (a >= 1) return v.toFixed(2);
  return v.toPrecision(3);
};

// A target is judged when it reads "OP NUMBER [UNIT] [(comment)]" with OP one of <= >= == < >
// and UNIT, if given, the first word of the figure's unit ("<= 2000 us", ">= 1.5",
// "<= 4 KiB (stretch 2 KiB)"); anything else is shown but not judged.
function judge(target, unit, value) {
  const m = /^\s*(<=|>=|==|<|>)\s*(-?[0-9.]+(?:e[+-]?\d+)?)\s*([^\s(]*)\s*(\(.*\))?\s*$/i
    .exec(target || '');
  if (!m) return null;
  if (m[3] && m[3] !== (unit || '').split(/\s+/)[0]) return null;
  const bound = Number(m[2]);
  switch (m[1]) {
    case '<=': return value <= bound;
    case '>=': return value >= bound;
    case '==': return value === bound;
    case '<': return value < bound;
    default: return value > bound;
  }
}

// Group by scenario (in name order) and metric (in the order first seen).
const groups = new Map();
for (const l of good) {
  const key = `${l.scenario}\u0000${l.metric}`;
  if (!groups.has(key)) groups.set(key, { scenario: l.scenario, metric: l.metric, unit: l.unit || '',
    target: l.target || '', values: [] });
  groups.get(key).values.push(l.value);
}
const ordered = [...groups.values()].sort((a, b) =>
  a.scenario < b.scenario ? -1 : a.scenario > b.scenario ? 1 : 0);
const rows = [['scenario', 'metric', 'median', 'min–max', 'runs', 'target', 'met?']];
let met = 0;
let missed = 0;
for (const g of ordered) {
  const med = median(g.values);
  const lo = Math.min(...g.values);
  const hi = Math.max(...g.values);
  const verdict = judge(g.target, g.unit, med);
  let cell = '';
  if (verdict !== null) {
    const ok = g.values.filter((v) => judge(g.target, g.unit, v)).length;
    cell = `${verdict ? 'met' : 'MISSED'} (${ok}/${g.values.length} runs)`;
    verdict ? met++ : missed++;
  }
  const unit = g.unit ? ` ${g.unit}` : '';
  rows.push([g.scenario, g.metric, `${fmt(med)}${unit}`, `${fmt(lo)}–${fmt(hi)}`,
    String(g.values.length), g.target, cell]);
}

const titles = [];
for (let i = 0; i < rest.length; i++) if (rest[i] === '--title') titles.push(rest[++i]);
for (const t of titles) console.log(t);
const widths = rows[0].map((_, c) => Math.max(...rows.map((r) => [...r[c]].length)));
const pad = (s, w) => s + ' '.repeat(w - [...s].length);
rows.forEach((r, i) => {
  console.log(`| ${r.map((c, j) => pad(c, widths[j])).join(' | ')} |`);
  if (i === 0) console.log(`|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`);
});
console.log(`\ntargets: ${met} met, ${missed} missed (judged on the median; missed targets are ` +
  'reported, not failures)');
