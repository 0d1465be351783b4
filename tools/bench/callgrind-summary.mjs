// Groups a callgrind profile of chatdesk-gateway into the costs the lead optimises by
// (docs/benchmarks.md, "Profile"): instructions per relayed message for JSON parsing, frame
// building, the SLA engine, metrics, the desk's own routing, the Beast/Asio write and read paths,
// the event loop and the Redis writer; and calls per message (allocations, frames, syscalls).
// Messages relayed = calls of Desk::Impl::append in the dump, so the window is exact.
// Usage: node callgrind-summary.mjs CALLGRIND.OUT INCLUSIVE.txt SELF.txt
//   INCLUSIVE.txt / SELF.txt: `callgrind_annotate --threshold=100 --inclusive=yes|no` output
import fs from 'node:fs';

const [dumpFile, incFile, selfFile] = process.argv.slice(2);

// Call counts by callee name, from the dump's cfn=/calls= lines (names are compressed to ids).
const calls = new Map();
{
  const names = new Map();
  const nameOf = (s) => {
    const m = /^\((\d+)\)(?: (.*))?$/.exec(s);
    if (!m) return s;
    if (m[2] !== undefined) names.set(m[1], m[2]);
    return names.get(m[1]);
  };
  let callee = '';
  for (const line of fs.readFileSync(dumpFile, 'utf8').split('\n')) {
    if (line.startsWith('fn=')) nameOf(line.slice(3));
    else if (line.startsWith('cfn=')) callee = nameOf(line.slice(4));
    else if (line.startsWith('calls=')) {
      const count = Number(line.slice(6).split(' ')[0]);
      calls.set(callee, (calls.get(callee) || 0) + count);
    }
  }
}
const callsOf = (test) => [...calls].filter(([name]) => test(name)).reduce((s, [, c]) => s + c, 0);
const n = callsOf((s) => s.startsWith('chatdesk::gateway::Desk::Impl::append('));

function load(file) {
  const rows = [];
  let total = 0;
  for (const line of fs.readFileSync(file, 'utf8').split('\n')) {
    const m = /^\s*([\d,]+)\s+(?:\([^)]*\)\s+)?(.*)$/.exec(line);
    if (!m) continue;
    const ir = Number(m[1].replaceAll(',', ''));
    if (m[2].includes('PROGRAM TOTALS')) total = ir;
    else rows.push({ ir, name: m[2].replace(/^[^:]*:/, '') });
  }
  return { rows, total };
}
const inc = load(incFile);
const self = load(selfFile);
// Inclusive cost of the first function whose name starts with `prefix`.
const incl = (prefix) => inc.rows.find((x) => x.name.startsWith(prefix))?.ir ?? 0;
const sum = (prefixes) => prefixes.reduce((s, p) => s + incl(p), 0);
const selfOf = (re) => self.rows.filter((x) => re.test(x.name)).reduce((s, x) => s + x.ir, 0);

const G = 'chatdesk::gateway::';
const parse = sum([`${G}parse_customer_frame(`, `${G}parse_agent_frame(`]);
const build = sum(['message[', 'ack[', 'sla[', 'desk[', 'error[', 'status['].map((f) => `${G}frames::${f}`));
const fanout = sum(['on_reply_wait(', 'on_typing_unmeasured(', 'on_typing_rate(', 'on_greeting(',
  'on_violation(', 'on_outcome('].map((f) => `${G}SlaFanout::${f}`));
const engine = sum(['customer_message(', 'agent_message(', 'advance('].map((f) => `chatdesk::monitor::SlaEngine::${f}`));
const send = incl(`${G}Gateway::State::send(`);
const afterEvent = incl(`${G}Gateway::State::after_event(`);
const desk = sum([`${G}Desk::customer_frame(`, `${G}Desk::agent_frame(`]);
const frame = incl(`${G}Gateway::State::session_frame(`);
const onRead = incl(`${G}WebSocketSession::on_read(`);
const onWrite = incl(`${G}WebSocketSession::on_write(`);
const scrape = incl(`${G}HttpSession::on_read(`);
const writer = incl('chatdesk::monitor::ViolationWriter::run(');
const utf8 = selfOf(/utf8_checker/);
const alloc = selfOf(/^(malloc|free|_int_malloc|_int_free|malloc_consolidate|unlink_chunk|cfree|memalign|_mid_memalign|operator new|operator delete|boost::json::detail::default_resource::do_)/);
const jsonSelf = selfOf(/^boost::json::|libboost_json/);
const total = inc.total;

const rows = [
  ['user-space instructions, all threads', total],
  ['frame handling (State::session_frame), of which:', frame],
  ['  JSON parse of the client frame (parse_*_frame, Boost.JSON DOM)', parse],
  ['  server frames built + serialized (frames::*, Boost.JSON object)', build],
  ['  SLA engine (customer_message/agent_message/advance) w/o fan-out', engine - fanout],
  ['  metrics + violation fan-out from the engine (SlaFanout::on_*)', fanout],
  ['  sends: State::send -> queue -> Beast async_write initiation', send],
  ['  desk routing itself (the rest of Desk::*_frame)', desk - parse - build - engine - send],
  ['  timer re-arm (State::after_event)', afterEvent],
  ['on_read around the handler (rate limit, buffer, next async_read)', onRead - frame],
  ['write completions (on_write: pop, next queued frame)', onWrite],
  ['event loop + Beast frame reading + completion dispatch (rest)', total - onRead - onWrite - scrape - writer],
  ['Redis violation writer thread', writer],
  ['/metrics scrapes in the window (not per message)', scrape],
  ['cross-cutting: allocation (malloc/free/new/delete, self)', alloc],
  ['cross-cutting: Boost.JSON library code (self)', jsonSelf],
  ['cross-cutting: WebSocket UTF-8 validation (self)', utf8],
];
console.log(`messages relayed in the window (calls of Desk::Impl::append): ${n}`);
for (const [label, ir] of rows) {
  const perMsg = String(Math.round(ir / n)).padStart(7);
  console.log(`${label.padEnd(70)} ${perMsg} instr/msg ${(100 * ir / total).toFixed(1).padStart(5)}%`);
}
const per = (c) => (c / n).toFixed(2);
console.log(`calls per relayed message: malloc ${per(callsOf((s) => s.startsWith('malloc')))}, ` +
  `free ${per(callsOf((s) => s.startsWith('free')))}, ` +
  `frames queued (State::send) ${per(callsOf((s) => s.startsWith(`${G}Gateway::State::send(`)))}, ` +
  `sendmsg ${per(callsOf((s) => /^(__libc_sendmsg|sendmsg)\b/.test(s)))}, ` +
  `recvmsg ${per(callsOf((s) => /^(__libc_recvmsg|recvmsg)\b/.test(s)))}, ` +
  `epoll_wait ${per(callsOf((s) => /^epoll_wait\b/.test(s)))}`);
