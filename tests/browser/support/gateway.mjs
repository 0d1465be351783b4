// Test support for the browser tests: runs the real chatdesk gateway on a free loopback port with a
// temporary config, and launches Debian's headless Chromium through playwright-core.
//
// Environment (set by tests/CMakeLists.txt; the defaults help when running a test by hand):
//   CHATDESK_GATEWAY_BIN  the gateway binary            (default <source>/build/gateway/chatdesk-gateway)
//   CHATDESK_SOURCE_DIR   the repository root           (default: two levels above tests/browser)
//   CHATDESK_ARTIFACTS    where screenshots are written (default <source>/test-artifacts)
//   CHATDESK_CHROMIUM     the Chromium binary           (default /usr/bin/chromium)

import { spawn } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const here = path.dirname(fileURLToPath(import.meta.url));

export const sourceDir = path.resolve(process.env.CHATDESK_SOURCE_DIR || path.join(here, '..', '..', '..'));
export const gatewayBin = process.env.CHATDESK_GATEWAY_BIN || path.join(sourceDir, 'build', 'gateway', 'chatdesk-gateway');
export const chromiumPath = process.env.CHATDESK_CHROMIUM || '/usr/bin/chromium';

// The folder for screenshots, created if missing.
export function artifactsDir() {
  const dir = path.resolve(process.env.CHATDESK_ARTIFACTS || path.join(sourceDir, 'test-artifacts'));
  fs.mkdirSync(dir, { recursive: true });
  return dir;
}

// A loopback port that was free a moment ago: listen on port 0, read the port, close.
export function freePort() {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

function httpStatus(url, timeoutMs) {
  return new Promise((resolve) => {
    const req = http.get(url, { timeout: timeoutMs }, (res) => {
      res.resume();
      resolve(res.statusCode);
    });
    req.on('timeout', () => { req.destroy(); resolve(0); });
    req.on('error', () => resolve(0));
  });
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// Gateways still running, killed if the test process exits without stopping them.
const running = new Set();
process.on('exit', () => {
  for (const child of running) {
    try { child.kill('SIGKILL'); } catch { /* already gone */ }
  }
});

// Starts the gateway with one shop `demo` ("Demo shop", Asia/Shanghai), Redis off, serving
// gateway/web from the source tree. Resolves once GET /healthz answers 200 (at most 10 s).
// `extraShops`: more shops, each one YAML flow mapping written as an item of `shops:`, e.g.
// '{id: fast, name: "Fast shop", sla: {greeting_target: 1s, greeting_limit: 2s}}'.
// Returns { url, port, stop(), log() }.
export async function startGateway({ healthTimeoutMs = 10000, extraShops = [] } = {}) {
  if (!fs.existsSync(gatewayBin)) {
    throw new Error(`gateway binary not found: ${gatewayBin} (build chatdesk-gateway, or set CHATDESK_GATEWAY_BIN)`);
  }
  const port = await freePort();
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'chatdesk-browser-'));
  const configPath = path.join(tmp, 'gateway.yaml');
  const webRoot = path.join(sourceDir, 'gateway', 'web');
  fs.writeFileSync(configPath, [
    '# written by tests/browser/support/gateway.mjs',
    'listen: {address: 127.0.0.1, port: ' + port + '}',
    'web_root: ' + JSON.stringify(webRoot),
    'redis: {enabled: false}',
    'shops:',
    '  - {id: demo, name: "Demo shop", timezone: Asia/Shanghai}',
    ...extraShops.map((shop) => `  - ${shop}`),
    '',
  ].join('\n'));

  const lines = [];
  const keep = (chunk) => {
    for (const line of chunk.toString().split('\n')) if (line) lines.push(line);
    if (lines.length > 400) lines.splice(0, lines.length - 400);
  };
  const child = spawn(gatewayBin, ['--config', configPath], { stdio: ['ignore', 'pipe', 'pipe'] });
  running.add(child);
  child.stdout.on('data', keep);
  child.stderr.on('data', keep);
  let exited = null;
  const exitPromise = new Promise((resolve) => {
    child.on('exit', (code, signal) => {
      exited = { code, signal };
      running.delete(child);
      resolve(exited);
    });
    child.on('error', (err) => {
      exited = { code: null, signal: null, error: err };
      running.delete(child);
      resolve(exited);
    });
  });

  const log = () => lines.join('\n');
  const stop = async () => {
    if (!exited) {
      child.kill('SIGTERM');
      const done = await Promise.race([exitPromise, sleep(3000).then(() => null)]);
      if (!done) {
        child.kill('SIGKILL');
        await Promise.race([exitPromise, sleep(2000)]);
      }
    }
    fs.rmSync(tmp, { recursive: true, force: true });
  };

  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + healthTimeoutMs;
  for (;;) {
    if (exited) {
      await stop();
      const why = exited.error ? exited.error.message : `exit code ${exited.code}, signal ${exited.signal}`;
      throw new Error(`gateway exited before it was healthy (${why}); its output:\n${log()}`);
    }
    if (await httpStatus(`${url}/healthz`, 500) === 200) break;
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`gateway did not answer GET /healthz with 200 within ${healthTimeoutMs} ms; its output:\n${log()}`);
    }
    await sleep(100);
  }
  return { url, port, stop, log };
}

export async function launchBrowser() {
  if (!fs.existsSync(chromiumPath)) throw new Error(`Chromium not found at ${chromiumPath} (apt-get install chromium)`);
  return chromium.launch({
    executablePath: chromiumPath,
    timeout: 20000,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
      '--disable-component-update', '--disable-sync', '--no-first-run'],
  });
}
