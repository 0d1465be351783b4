// The end of every browser test: a watchdog for the whole test, failure screenshots of every open
// page and the gateway's last lines, cleanup, and the closing "N passed, N failed" line that CI
// reads. Each test keeps its own state and passes it in through `state()`.

import path from 'node:path';
import { artifactsDir } from './gateway.mjs';

// Runs `run`, then `cleanup`, and exits the process with the result.
// state(): { currentStep, pages: {name: Page}, pageErrors: [string], gateway }.
export async function runBrowserTest({ name, budgetMs, run, cleanup, state, log, failurePrefix }) {
  const watchdog = setTimeout(async () => {
    console.error(`FAIL: the test took longer than ${budgetMs / 1000} s (stuck at: ${state().currentStep})`);
    console.log('0 passed, 1 failed');
    const hardStop = setTimeout(() => process.exit(1), 5000);
    await cleanup();
    clearTimeout(hardStop);
    process.exit(1);
  }, budgetMs);

  let failed = false;
  try {
    await run();
    log(`PASS ${name}`);
  } catch (err) {
    failed = true;
    const { currentStep, pages, pageErrors, gateway } = state();
    console.error(`FAIL at step "${currentStep}": ${err.message}`);
    for (const [page_name, page] of Object.entries(pages)) {
      await page.screenshot({ path: path.join(artifactsDir(), `${failurePrefix}${page_name}.png`), timeout: 5000 }).catch(() => {});
    }
    if (pageErrors.length) console.error(`page errors:\n  ${pageErrors.join('\n  ')}`);
    if (gateway) console.error(`gateway output (last lines):\n${gateway.log().split('\n').slice(-40).join('\n')}`);
  } finally {
    await cleanup();
    clearTimeout(watchdog);
  }
  console.log(failed ? '0 passed, 1 failed' : '1 passed, 0 failed');
  process.exit(failed ? 1 : 0);
}
