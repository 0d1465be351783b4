// Turns one repetition of scenarios 1–3 (the load generator's JSON files written by
// scenarios/10-relay.sh) into result lines for tools/bench/run.sh: one JSON line per figure, with
// the ratios computed within this repetition. Usage: node relay-figures.mjs RESULTS_DIR
import fs from 'node:fs';
import path from 'node:path';

const dir = process.argv[2];
const read = (name) => JSON.parse(fs.readFileSync(path.join(dir, `${name}.json`), 'utf8'));
const lines = [];
const emit = (scenario, metric, value, unit, target, better) => {
  if (!Number.isFinite(value)) throw new Error(`${scenario} ${metric}: no figure (${value})`);
  const line = { scenario, metric, value: Number(value.toPrecision(6)), unit };
  if (target) line.target = target;
  if (better) line.better = better;
  lines.push(JSON.stringify(line));
};

const S1 = '1 relay chatdesk';
const ratio0 = (a, b) => a / b;
const S2 = '2 relay node ws';
const S3 = '3 relay raw tcp echo';
const S1b = '1b relay chatdesk storage off';
const servers = { chatdesk: S1, 'chatdesk-nostore': S1b, node: S2, echo: S3 };
const r = {};
for (const t of Object.keys(servers)) {
  r[t] = { 1: read(`${t}-inflight1`), 8: read(`${t}-inflight8`) };
  if (t !== 'echo') {
    r[t][50] = read(`${t}-rate50`);
    r[t][80] = read(`${t}-rate80`);
  }
}

for (const [t, scenario] of Object.entries(servers)) {
  for (const k of [1, 8]) {
    const m = r[t][k];
    emit(scenario, `msgs_per_s@inflight${k}`, m.msgs_per_s, 'msg/s', '', 'higher');
    emit(scenario, `cpu_us_per_msg@inflight${k}`, m.cpu_us_per_msg, 'us', '', 'lower');
    emit(scenario, `p99_us@inflight${k}`, m.p99_us, 'us', '', 'lower');
  }
  if (t === 'echo') continue;
  for (const pct of [50, 80]) {
    const m = r[t][pct];
    const target = t === 'chatdesk' && pct === 50 ? '<= 2000 us' : '';
    emit(scenario, `p50_us@${pct}%sat`, m.p50_us, 'us', '', 'lower');
    emit(scenario, `p99_us@${pct}%sat`, m.p99_us, 'us', target, 'lower');
    emit(scenario, `p999_us@${pct}%sat`, m.p999_us, 'us', '', 'lower');
    // What the customer -> agent p99 contains besides the server: the generator's own lateness
    // in sending (open loop), and the agent -> customer p99 (measured from the actual send).
    if (m.send_lag_p99_us !== undefined)
      emit(scenario, `send_lag_p99_us@${pct}%sat`, m.send_lag_p99_us, 'us', '', 'lower');
    emit(scenario, `a2c_p99_us@${pct}%sat`, m.a2c_p99_us, 'us', '', 'lower');
    emit(scenario, `cpu_us_per_msg@${pct}%sat`, m.cpu_us_per_msg, 'us', '', 'lower');
  }
  for (const k of [1, 8]) {
    const m = r[t][k];
    // The load generator's own CPU share: near 1.0 would mean it, not the server, was the limit.
    emit(scenario, `load_cpu_util@inflight${k}`, m.load_cpu_util, 'cpu', '', 'lower');
    emit(scenario, `server_cpu_util@inflight${k}`, m.server_cpu_util, 'cpu', '', '');
  }
}

// The durable store (docs/storage.md): its cost against the same gateway with storage off, and
// Redis's share. Commands and round trips are over the whole run (setup included); CPU over the
// measured window.
const storeFile = (name) => path.join(dir, `${name}.store.json`);
for (const [t, scenario] of [['chatdesk', S1], ['chatdesk-nostore', S1b]]) {
  for (const k of [1, 8]) {
    const m = r[t][k];
    emit(scenario, `redis_cpu_us_per_msg@inflight${k}`, m.redis_cpu_us_per_msg ?? NaN, 'us', '',
      'lower');
    emit(scenario, `total_cpu_us_per_msg@inflight${k}`,
      m.cpu_us_per_msg + (m.redis_cpu_us_per_msg ?? NaN), 'us', '', 'lower');
    const store = JSON.parse(fs.readFileSync(storeFile(`${t}-inflight${k}`), 'utf8'));
    // Every message sent is relayed once (customer -> agent) and answered (agent -> customer).
    const relayed = m.sent * (m.reply ? 2 : 1);
    emit(scenario, `redis_commands_per_msg@inflight${k}`, store.redis_commands / relayed, 'cmd',
      '', 'lower');
    if (t === 'chatdesk')
      emit(scenario, `store_round_trips_per_msg@inflight${k}`, store.store_writes / relayed,
        'rtt', '<= 1 per loop turn', 'lower');
  }
}
for (const k of [1, 8]) {
  emit(S1b, `gateway_cpu_ratio_storage_on/off@inflight${k}`,
    ratio0(r.chatdesk[k].cpu_us_per_msg, r['chatdesk-nostore'][k].cpu_us_per_msg), 'x', '<= 1.3',
    'lower');
}
emit(S1b, 'p99_ratio_storage_on/off@50%sat',
  ratio0(r.chatdesk[50].p99_us, r['chatdesk-nostore'][50].p99_us), 'x', '', 'lower');

// Ratios chatdesk/baseline, each from this repetition's own runs.
const ratio = (a, b) => a / b;
for (const k of [1, 8]) {
  emit(S2, `throughput_ratio_chatdesk/node@inflight${k}`,
    ratio(r.chatdesk[k].msgs_per_s, r.node[k].msgs_per_s), 'x', '>= 1.5', 'higher');
  emit(S2, `cpu_per_msg_ratio_chatdesk/node@inflight${k}`,
    ratio(r.chatdesk[k].cpu_us_per_msg, r.node[k].cpu_us_per_msg), 'x', '<= 0.5', 'lower');
}
for (const pct of [50, 80]) {
  // Each server at that share of its own saturation rate.
  emit(S2, `p99_ratio_chatdesk/node@${pct}%sat`,
    ratio(r.chatdesk[pct].p99_us, r.node[pct].p99_us), 'x', '', 'lower');
}
for (const k of [1, 8]) {
  emit(S3, `throughput_ratio_chatdesk/echo@inflight${k}`,
    ratio(r.chatdesk[k].msgs_per_s, r.echo[k].msgs_per_s), 'x', '', 'higher');
  emit(S3, `cpu_per_msg_ratio_chatdesk/echo@inflight${k}`,
    ratio(r.chatdesk[k].cpu_us_per_msg, r.echo[k].cpu_us_per_msg), 'x', '<= 1.5', 'lower');
}
// Messages lost or refused count here: a relay that drops messages is not faster.
for (const [t, scenario] of Object.entries(servers)) {
  const errors = Object.values(r[t]).reduce((sum, m) => sum + m.errors, 0);
  emit(scenario, 'errors_all_runs', errors, 'count', '<= 0', 'lower');
}

process.stdout.write(lines.join('\n') + '\n');
