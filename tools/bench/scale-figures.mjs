// Turns one repetition of scenario 1c (scenarios/15-scale.sh: the relay on 1, 2 and 3 gateway
// nodes) into result lines for tools/bench/run.sh, one JSON line per figure. Per node count N:
// nN.json is the load generator's line (server CPU summed over the nodes), nN.redis.json the Redis
// commands over the whole run (set-up included, as scenario 1 counts them) and with no traffic.
// The hop's cost is each N >= 2 less N = 1, within this repetition. No figure has a performance
// target; two check the measurement itself (no errors; every pair on two nodes when N >= 2).
// Usage: node scale-figures.mjs RESULTS_DIR N...
import fs from 'node:fs';
import path from 'node:path';

const [dir, ...counts] = process.argv.slice(2);
const nodes = counts.map(Number);
const read = (name) => JSON.parse(fs.readFileSync(path.join(dir, name), 'utf8'));
const S = '1c relay scale-out';
const lines = [];
const emit = (metric, value, unit, target, better) => {
  if (!Number.isFinite(value)) throw new Error(`${metric}: no figure (${value})`);
  const line = { scenario: S, metric, value: Number(value.toPrecision(6)), unit };
  if (target) line.target = target;
  if (better) line.better = better;
  lines.push(JSON.stringify(line));
};
const at = (n) => `@${n}node${n === 1 ? '' : 's'}`;

const r = {};
for (const n of nodes) {
  const m = read(`n${n}.json`);
  const redis = read(`n${n}.redis.json`);
  // Every message sent is relayed once (customer -> agent) and answered (agent -> customer).
  const relayed = m.sent * (m.reply ? 2 : 1);
  r[n] = {
    m,
    gateway: m.cpu_us_per_msg,
    redisCpu: m.redis_cpu_us_per_msg ?? NaN,
    commands: redis.redis_commands / relayed,
  };
}

for (const n of nodes) {
  const { m, gateway, redisCpu, commands } = r[n];
  const redis = read(`n${n}.redis.json`);
  emit(`msgs_per_s${at(n)}`, m.msgs_per_s, 'msg/s', '', 'higher');
  emit(`gateway_cpu_us_per_msg${at(n)}`, gateway, 'us', '', 'lower');
  emit(`redis_cpu_us_per_msg${at(n)}`, redisCpu, 'us', '', 'lower');
  emit(`total_cpu_us_per_msg${at(n)}`, gateway + redisCpu, 'us', '', 'lower');
  emit(`redis_commands_per_msg${at(n)}`, commands, 'cmd', '', 'lower');
  emit(`redis_idle_commands_per_s${at(n)}`, redis.idle_commands_per_s, 'cmd/s', '', 'lower');
  emit(`p50_us${at(n)}`, m.p50_us, 'us', '', 'lower');
  emit(`p99_us${at(n)}`, m.p99_us, 'us', '', 'lower');
  // All nodes share one core: near 1.0 means the nodes, not the generator, were the limit.
  emit(`gateway_cpu_util${at(n)}`, m.server_cpu_util, 'cpu', '', '');
  emit(`load_cpu_util${at(n)}`, m.load_cpu_util, 'cpu', '', 'lower');
  if (n >= 2) emit(`cross_node_share${at(n)}`, m.cross_node_pairs / m.pairs, '', '== 1', '');
}

// The hop: what N nodes cost per relayed message more than one node with the same machinery.
if (r[1]) {
  for (const n of nodes.filter((x) => x >= 2)) {
    emit(`hop_gateway_cpu_us_per_msg${at(n)}`, r[n].gateway - r[1].gateway, 'us', '', 'lower');
    emit(`hop_redis_cpu_us_per_msg${at(n)}`, r[n].redisCpu - r[1].redisCpu, 'us', '', 'lower');
    emit(`hop_redis_commands_per_msg${at(n)}`, r[n].commands - r[1].commands, 'cmd', '', 'lower');
  }
}

// Messages lost or refused, and shops that moved during a run (1012 closes), count here.
const errors = nodes.reduce((sum, n) => sum + r[n].m.errors, 0);
emit('errors_all_runs', errors, 'count', '<= 0', 'lower');
const moved = nodes.reduce((sum, n) => sum + read(`n${n}.redis.json`).homes_moved, 0);
emit('shops_moved_all_runs', moved, 'runs', '<= 0', 'lower');

process.stdout.write(lines.join('\n') + '\n');
