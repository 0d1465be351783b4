// Browser test of the consoles against the real gateway: an agent signs in and goes available, a
// customer on a phone-sized page asks a question, the agent sees it with a running SLA countdown,
// replies, the customer sees the reply, the agent closes, the customer sees the chat ended.
// Run: node tests/browser/console.test.mjs   (env: see support/gateway.mjs)

import path from 'node:path';
import { startGateway, launchBrowser, artifactsDir } from './support/gateway.mjs';
import { runBrowserTest } from './support/harness.mjs';

const TEST_BUDGET_MS = 55000;  // the whole test, start to finish
const STEP_MS = 10000;         // any single wait
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

// Waits until an element matching `selector` has exactly `text` as its text content.
async function waitForExactText(page, selector, text, what) {
  try {
    await page.waitForFunction(
      ([sel, expected]) => [...document.querySelectorAll(sel)].some((n) => n.textContent === expected),
      [selector, text], { timeout: STEP_MS, polling: 100 });
  } catch {
    const seen = await page.$$eval(selector, (nodes) => nodes.map((n) => n.textContent)).catch(() => []);
    throw new Error(`${what}: no ${selector} with text ${JSON.stringify(text)} within ${STEP_MS} ms; found ${JSON.stringify(seen)}`);
  }
}

async function waitForSelector(page, selector, what, state = 'visible') {
  try {
    await page.locator(selector).first().waitFor({ state, timeout: STEP_MS });
  } catch {
    throw new Error(`${what}: ${selector} not ${state} within ${STEP_MS} ms`);
  }
}

async function screenshot(page, name) {
  const file = path.join(artifactsDir(), name);
  await page.screenshot({ path: file, timeout: STEP_MS });
  log(`  screenshot ${file}`);
}

function watchPage(page, name) {
  page.on('pageerror', (err) => pageErrors.push(`${name}: ${err.message}`));
  page.on('console', (msg) => {
    if (msg.type() === 'error') log(`  ${name} console error: ${msg.text()}`);
  });
}

async function run() {
  await step('start the gateway', async () => {
    gateway = await startGateway();
    log(`  gateway at ${gateway.url}`);
  });

  await step('launch Chromium', async () => {
    browser = await launchBrowser();
  });

  const agent = await (await browser.newContext({ viewport: { width: 1280, height: 800 }, locale: 'en-US' })).newPage();
  pages.agent = agent;
  watchPage(agent, 'agent page');
  agent.setDefaultTimeout(STEP_MS);

  await step('agent signs in as alice in shop demo', async () => {
    await agent.goto(`${gateway.url}/`, { timeout: STEP_MS });
    await agent.fill(tid('login-shop'), 'demo');
    await agent.fill(tid('login-agent'), 'alice');
    await agent.click(tid('login-submit'));
    await waitForSelector(agent, `${tid('conn-state')}[data-state="open"]`, 'agent connection');
    await waitForExactText(agent, tid('shop-name'), 'Demo shop', 'agent console header');
  });

  await step('agent goes available', async () => {
    await agent.click(tid('status-available'));
    await waitForSelector(agent, `${tid('status-toggle')}[data-state="available"]`, 'status confirmed by the gateway');
    await waitForSelector(agent, `${tid('roster-agent')}[data-agent="alice"][data-state="available"]`, 'alice in the roster');
  });

  const customer = await (await browser.newContext({
    viewport: { width: 375, height: 667 }, deviceScaleFactor: 2, isMobile: true, hasTouch: true, locale: 'zh-CN',
  })).newPage();
  pages.customer = customer;
  watchPage(customer, 'customer page');
  customer.setDefaultTimeout(STEP_MS);

  await step('customer opens the chat page on a phone and writes', async () => {
    await customer.goto(`${gateway.url}/chat?shop=demo`, { timeout: STEP_MS });
    await waitForExactText(customer, tid('shop-name'), 'Demo shop', 'customer page header');
    await waitForSelector(customer, `${tid('chat-status')}:is([data-state="queued"], [data-state="assigned"])`, 'customer connected');
    await customer.fill(tid('chat-input'), CUSTOMER_TEXT);
    await customer.press(tid('chat-input'), 'Enter');
    await waitForExactText(customer, `${tid('chat-message')}[data-from="customer"][data-status="sent"] ${tid('chat-message-text')}`,
      CUSTOMER_TEXT, 'customer message acknowledged');
  });

  await step('agent sees the conversation with the exact text and a running SLA countdown', async () => {
    await waitForSelector(agent, tid('conversation-item'), 'conversation in the list');
    await agent.click(`${tid('conversation-item')} button`);
    await waitForExactText(agent, `${tid('message')}[data-from="customer"] ${tid('message-text')}`, CUSTOMER_TEXT, 'customer message at the agent');
    await waitForSelector(customer, `${tid('chat-status')}[data-state="assigned"]`, 'customer sees the agent joined');
    const chip = `${tid('conversation-view')} ${tid('sla-chip')}[data-rule="greeting"]`;
    await waitForSelector(agent, chip, 'SLA countdown chip');
    const chipText = await agent.locator(chip).textContent();
    if (!/\d+s/.test(chipText)) throw new Error(`SLA chip shows ${JSON.stringify(chipText)}, not a countdown`);
    log(`  SLA chip: ${chipText}`);
    try {
      await agent.waitForFunction(([sel, before]) => document.querySelector(sel)?.textContent !== before,
        [chip, chipText], { timeout: 3000, polling: 100 });
    } catch {
      throw new Error(`SLA chip is not counting: still ${JSON.stringify(chipText)} after 3 s`);
    }
    log(`  SLA chip after a moment: ${await agent.locator(chip).textContent()}`);
    await screenshot(agent, 'mid-conversation.png');
  });

  await step('agent replies', async () => {
    await agent.fill(tid('reply-input'), AGENT_TEXT);
    await agent.press(tid('reply-input'), 'Enter');
    await waitForExactText(agent, `${tid('message')}[data-from="agent"][data-status="sent"] ${tid('message-text')}`, AGENT_TEXT, 'agent reply acknowledged');
  });

  await step('customer sees the reply', async () => {
    await waitForExactText(customer, `${tid('chat-message')}[data-from="agent"] ${tid('chat-message-text')}`, AGENT_TEXT, 'reply at the customer');
    await screenshot(agent, 'agent-console.png');
    await screenshot(customer, 'customer-chat.png');
  });

  await step('agent closes; the customer sees the chat closed', async () => {
    await agent.click(tid('close-button'));
    await waitForSelector(agent, tid('conversation-item'), 'conversation removed from the agent list', 'detached');
    await waitForSelector(customer, `${tid('chat-status')}[data-state="closed"]`, 'customer closed state');
    await waitForSelector(customer, tid('chat-new'), '"start a new chat" button');
    await screenshot(customer, 'customer-closed.png');
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
  name: 'console.test.mjs',
  budgetMs: TEST_BUDGET_MS,
  run,
  cleanup,
  log,
  failurePrefix: 'failure-',
  state: () => ({ currentStep, pages, pageErrors, gateway }),
});
