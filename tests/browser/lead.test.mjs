// Browser test of the team lead's desk (GET /lead?shop=S) against the real gateway, in a shop with
// a fast SLA (greet within 1 s, at the latest 2 s): a customer writes while no agent is available;
// the lead page shows the waiting customer green, then amber after ~1 s, then red after ~2 s, and
// the greeting warning and breach arrive live in the violations list. Then an agent goes available,
// takes the conversation and replies, and the customer leaves the waiting table.
// The customer and the agent are raw WebSockets in a second page, so this tests the lead page only.
// Run: node tests/browser/lead.test.mjs   (env: see support/gateway.mjs)

import path from 'node:path';
import { startGateway, launchBrowser, artifactsDir } from './support/gateway.mjs';
import { runBrowserTest } from './support/harness.mjs';

const TEST_BUDGET_MS = 55000;  // the whole test, start to finish
const STEP_MS = 10000;         // any single wait
const SHOP = 'fast';
const SHOP_NAME = 'Fast shop';
const FAST_SHOP = `{id: ${SHOP}, name: "${SHOP_NAME}", timezone: Asia/Shanghai, ` +
  'sla: {greeting_target: 1s, greeting_limit: 2s, escalate_every: 2s, reply_wait_limit: 2s}}';
const CUSTOMER_TEXT = '您好，我想问一下订单什么时候发货？';
const AGENT_TEXT = '您好，您的订单今天下午发货。';

const tid = (id) => `[data-testid="${id}"]`;
const started = Date.now();
const log = (text) => console.log(`[${((Date.now() - started) / 1000).toFixed(1).padStart(5)}s] ${text}`);

let gateway = null;
let browser = null;
const pages = {};
const pageErrors = [];
let currentStep = 'start';

async function step(name, fn) {
  currentStep = name;
  log(name);
  await fn();
}

async function waitForSelector(page, selector, what, { state = 'visible', timeout = STEP_MS } = {}) {
  try {
    await page.locator(selector).first().waitFor({ state, timeout });
  } catch {
    throw new Error(`${what}: ${selector} not ${state} within ${timeout} ms`);
  }
}

async function screenshot(page, name) {
  const file = path.join(artifactsDir(), name);
  await page.screenshot({ path: file, timeout: STEP_MS });
  log(`  screenshot ${file}`);
}

function watchPage(page, name, { consoleErrors = true } = {}) {
  page.on('pageerror', (err) => pageErrors.push(`${name}: ${err.message}`));
  if (!consoleErrors) return;
  page.on('console', (msg) => {
    if (msg.type() === 'error') log(`  ${name} console error: ${msg.text()}`);
  });
}

// When the lead page's socket received each snapshot (this process's clock). The gateway checks
// for changes once a second and sends a snapshot at such a beat when there was one.
const snapshotTimes = [];
function watchSnapshots(page) {
  page.on('websocket', (ws) => {
    if (!ws.url().includes('/ws/lead')) return;
    ws.on('framereceived', ({ payload }) => {
      try {
        if (JSON.parse(payload).type === 'snapshot') snapshotTimes.push(Date.now());
      } catch { /* not JSON: not ours to judge here */ }
    });
  });
}

// How long to wait until 250 ms before the next beat, going by the last snapshot seen.
function untilShortlyBeforeBeat() {
  const last = snapshotTimes[snapshotTimes.length - 1] ?? Date.now();
  let target = last + 750;
  while (target < Date.now() + 50) target += 1000;
  return target - Date.now();
}

// ---- the customer and the agent: raw WebSockets in a page of the gateway's origin -------------

// Installs window.openSocket(name, path) and keeps every frame each socket received.
async function installSockets(page) {
  await page.evaluate(() => {
    window.sockets = {};
    window.openSocket = (name, path) => new Promise((resolve, reject) => {
      const url = new URL(path, location.href);
      url.protocol = 'ws:';
      const ws = new WebSocket(url);
      const entry = { ws, frames: [], closed: false };
      window.sockets[name] = entry;
      ws.onmessage = (ev) => entry.frames.push(JSON.parse(ev.data));
      ws.onopen = () => resolve();
      ws.onerror = () => reject(new Error(`WebSocket ${path} failed`));
      ws.onclose = () => { entry.closed = true; };
    });
    window.sendFrame = (name, frame) => window.sockets[name].ws.send(JSON.stringify(frame));
  });
}

async function openSocket(page, name, wsPath) {
  await page.evaluate(([n, p]) => window.openSocket(n, p), [name, wsPath]);
}

async function sendFrame(page, name, frame) {
  await page.evaluate(([n, f]) => window.sendFrame(n, f), [name, frame]);
}

// Waits for a frame of `type` on socket `name` whose fields include `match`; returns it.
async function waitForFrame(page, name, type, match = {}, what = `${name} ${type}`) {
  try {
    const handle = await page.waitForFunction(([n, t, m]) => window.sockets[n]?.frames.find((f) =>
      f.type === t && Object.entries(m).every(([k, v]) => f[k] === v)) ?? null,
    [name, type, match], { timeout: STEP_MS, polling: 50 });
    return await handle.jsonValue();
  } catch {
    const seen = await page.evaluate((n) => window.sockets[n]?.frames.map((f) => f.type), name).catch(() => []);
    throw new Error(`${what}: no ${type} frame ${JSON.stringify(match)} within ${STEP_MS} ms; got ${JSON.stringify(seen)}`);
  }
}

// ---- the lead page -----------------------------------------------------------------------------

// Records every colour (data-sla, data-tone) the waiting row of `conversation` takes, with the time,
// from now on: the transitions ok -> warn -> breach take a second each, too quick to poll reliably
// from outside the page.
async function recordRowColours(page, conversation) {
  await page.evaluate((id) => {
    const seen = [];
    window.rowColours = seen;
    const note = (tr) => {
      const last = seen[seen.length - 1];
      const now = { sla: tr.dataset.sla, tone: tr.dataset.tone, t: Date.now() };
      if (!last || last.sla !== now.sla || last.tone !== now.tone) seen.push(now);
    };
    const body = document.querySelector('[data-testid="wait-body"]');
    const current = body.querySelector(`tr[data-conversation="${CSS.escape(id)}"]`);
    if (current) note(current);
    new MutationObserver((records) => {
      for (const r of records) {
        const rowsTouched = r.type === 'attributes' ? [r.target] : [...r.addedNodes];
        for (const tr of rowsTouched) if (tr.dataset?.conversation === id) note(tr);
      }
    }).observe(body, { subtree: true, childList: true, attributes: true, attributeFilter: ['data-sla', 'data-tone'] });
  }, conversation);
}

async function rowColours(page) {
  return page.evaluate(() => window.rowColours);
}

async function waitForRowSla(page, rowSelector, sla, timeout) {
  try {
    await page.locator(`${rowSelector}[data-sla="${sla}"]`).waitFor({ state: 'attached', timeout });
  } catch {
    throw new Error(`waiting row did not turn data-sla="${sla}" within ${timeout} ms; colours seen: ${JSON.stringify(await rowColours(page))}`);
  }
}

async function run() {
  await step('start the gateway with a fast-SLA shop', async () => {
    gateway = await startGateway({ extraShops: [FAST_SHOP] });
    log(`  gateway at ${gateway.url}`);
  });

  await step('launch Chromium', async () => {
    browser = await launchBrowser();
  });

  const lead = await (await browser.newContext({ viewport: { width: 1280, height: 760 }, locale: 'en-US' })).newPage();
  pages.lead = lead;
  watchPage(lead, 'lead page');
  watchSnapshots(lead);
  lead.setDefaultTimeout(STEP_MS);

  const driver = await (await browser.newContext()).newPage();
  pages.driver = driver;
  watchPage(driver, 'driver page', { consoleErrors: false });  // its only error: no /favicon.ico
  driver.setDefaultTimeout(STEP_MS);

  await step('the lead opens /lead?shop=fast', async () => {
    await lead.goto(`${gateway.url}/lead?shop=${SHOP}`, { timeout: STEP_MS });
    await waitForSelector(lead, `${tid('conn-state')}[data-state="open"]`, 'lead connection');
    await lead.locator(tid('shop-name')).filter({ hasText: SHOP_NAME }).waitFor({ timeout: STEP_MS });
    await waitForSelector(lead, `${tid('desk-state')}[data-open="true"]`, 'desk open badge (first snapshot)');
  });

  await driver.goto(`${gateway.url}/healthz`, { timeout: STEP_MS });
  await installSockets(driver);

  await step('agent bob is signed in but away', async () => {
    await openSocket(driver, 'bob', `/ws/agent?shop=${SHOP}&agent=bob`);
    await waitForFrame(driver, 'bob', 'welcome');
    await waitForSelector(lead, `${tid('agent-row')}[data-agent="bob"][data-state="away"]`, 'bob in the agents list');
  });

  let conversation = '';
  let row = '';
  await step('a customer connects; nobody can take the chat', async () => {
    await openSocket(driver, 'customer', `/ws/customer?shop=${SHOP}`);
    const welcome = await waitForFrame(driver, 'customer', 'welcome');
    conversation = welcome.conversation;
    row = `${tid('wait-row')}[data-conversation="${conversation}"]`;
    log(`  conversation ${conversation}, state ${welcome.state}`);
    await waitForSelector(lead, row, 'the queued customer in the waiting table', { state: 'attached' });
    await recordRowColours(lead, conversation);
  });

  let sentAt = 0;
  await step('the customer writes: green, then amber after 1 s, then red after 2 s', async () => {
    // The gateway pushes snapshots on a one-second beat, and the greeting target is one second:
    // a message written just after a beat would first reach the page almost amber. Write it
    // shortly before a beat instead, so the green second is there to see.
    await lead.waitForTimeout(untilShortlyBeforeBeat());
    sentAt = Date.now();
    await sendFrame(driver, 'customer', { type: 'message', text: CUSTOMER_TEXT, client_msg_id: 'm1' });
    await waitForFrame(driver, 'customer', 'ack', { client_msg_id: 'm1' });
    await waitForRowSla(lead, row, 'warn', 5000);
    await waitForRowSla(lead, row, 'breach', 5000);
    const colours = await rowColours(lead);
    const running = colours.filter((c) => c.tone !== 'idle');
    log(`  row colours: ${running.map((c) => `${c.sla}@${((c.t - sentAt) / 1000).toFixed(2)}s`).join(' -> ')}`);
    const order = running.map((c) => c.sla).filter((s, i, all) => s !== all[i - 1]);
    if (order.slice(0, 3).join(',') !== 'ok,warn,breach') {
      throw new Error(`expected the row to go ok -> warn -> breach, saw ${JSON.stringify(running)}`);
    }
    const at = (sla) => (running.find((c) => c.sla === sla).t - sentAt) / 1000;
    if (at('warn') < 0.8 || at('warn') > 2.0) throw new Error(`row turned amber ${at('warn')} s after the message (want ~1 s)`);
    if (at('breach') < 1.8 || at('breach') > 3.0) throw new Error(`row turned red ${at('breach')} s after the message (want ~2 s)`);
    const cells = await lead.locator(row).evaluate((tr) => ({
      agent: tr.cells[1].textContent, phase: tr.dataset.phase, over: tr.querySelector('[data-testid="wait-over"]').textContent,
      level: tr.querySelector('[data-testid="wait-level"]').textContent,
    }));
    log(`  row: ${JSON.stringify(cells)}`);
    if (cells.agent !== 'queued' || cells.phase !== 'greeting' || !/^\+\d+s$/.test(cells.over) || !/^L\d+$/.test(cells.level)) {
      throw new Error(`red row should show queued, greeting, +Ns and the level; shows ${JSON.stringify(cells)}`);
    }
  });

  await step('the greeting warning and breach are pushed to the violations list', async () => {
    const v = `${tid('violation-row')}[data-conversation="${conversation}"][data-rule="greeting"]`;
    await waitForSelector(lead, `${v}[data-severity="warning"][data-level="1"]`, 'greeting warning in the list', { timeout: 3000 });
    await waitForSelector(lead, `${v}[data-severity="breach"][data-level="1"]`, 'greeting breach in the list', { timeout: 3000 });
    const first = await lead.locator(tid('violation-row')).first().getAttribute('data-severity');
    if (first !== 'breach') throw new Error(`newest violation should be first (the breach), is ${first}`);
    await waitForSelector(lead, `${tid('stat-breaching')} .stat-value:text-is("1")`, 'header: one customer past the limit', { state: 'attached' });
    await lead.waitForTimeout(1500);  // for the picture: over a second past the limit
    await screenshot(lead, 'lead-waiting-red.png');
  });

  await step('agent alice goes available and takes the conversation', async () => {
    await openSocket(driver, 'alice', `/ws/agent?shop=${SHOP}&agent=alice`);
    await waitForFrame(driver, 'alice', 'welcome');
    await sendFrame(driver, 'alice', { type: 'status', state: 'available' });
    await waitForFrame(driver, 'alice', 'assigned', { conversation });
    await lead.locator(`${row} td`).nth(1).filter({ hasText: 'alice' }).waitFor({ timeout: 3000 });
    await waitForSelector(lead, `${tid('agent-row')}[data-agent="alice"][data-state="available"] ${tid('agent-conv')}[data-conversation="${conversation}"]`,
      'the conversation under alice in the agents list', { state: 'attached', timeout: 3000 });
  });

  await step('alice replies: the customer leaves the waiting table', async () => {
    await sendFrame(driver, 'alice', { type: 'message', conversation, text: AGENT_TEXT, client_msg_id: 'a1' });
    await waitForFrame(driver, 'alice', 'ack', { client_msg_id: 'a1' });
    await waitForSelector(lead, row, 'row removed after the reply', { state: 'detached', timeout: 3000 });
    await waitForSelector(lead, tid('wait-empty'), '"nobody is waiting" hint');
    await waitForSelector(lead, `${tid('agent-row')}[data-agent="alice"] ${tid('agent-load')}`, 'alice load');
    const load = await lead.locator(`${tid('agent-row')}[data-agent="alice"] ${tid('agent-load')}`).textContent();
    if (!/^1 \/ \d+$/.test(load)) throw new Error(`alice should have 1 open conversation, shows ${JSON.stringify(load)}`);
    const body = await lead.evaluate(() => document.body.textContent);
    if (body.includes(CUSTOMER_TEXT) || body.includes(AGENT_TEXT)) throw new Error('the lead page shows chat text');
    await screenshot(lead, 'lead-after-reply.png');
  });

  if (pageErrors.length) throw new Error(`uncaught errors in the pages:\n  ${pageErrors.join('\n  ')}`);
}

async function cleanup() {
  if (browser) await browser.close().catch(() => {});
  browser = null;
  if (gateway) await gateway.stop().catch(() => {});
  gateway = null;
}

await runBrowserTest({
  name: 'lead.test.mjs',
  budgetMs: TEST_BUDGET_MS,
  run,
  cleanup,
  log,
  failurePrefix: 'failure-lead-',
  state: () => ({ currentStep, pages, pageErrors, gateway }),
});
