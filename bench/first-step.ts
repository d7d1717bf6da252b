/**
 * `npm run bench:first-step [-- --adapter core|compat] [--steps N] [--json]`
 *
 * The studio's quick demo in headless Chromium, timed as a person sees it (a benchmark, not a test): the
 * production build is served on 127.0.0.1, the page opens on the embedded default model and the first sample
 * dataset, the Method step's "Quick demo for the embedded model" is chosen (LoRA r=8 on all linear layers, 30
 * steps of 8 × 64 tokens), and Start is pressed. Reports the seconds from pressing Start to the end of the first
 * step (the shader compiles, the worker's dry run and the step itself), and the median time of the next steps up
 * to step N (default 6). `--adapter compat` runs Chromium on its GL compatibility adapter.
 */
import { parseArgs } from 'node:util';
import type { Page } from '@playwright/test';
import { launchChromium, parseAdapter, serveBuild } from './chromium';

const { values: opts } = parseArgs({
  options: {
    adapter: { type: 'string', default: 'core' },
    steps: { type: 'string', default: '6' },
    json: { type: 'boolean', default: false },
  },
});
const adapter = parseAdapter(opts.adapter);
const lastStep = Number(opts.steps);
if (!Number.isInteger(lastStep) || lastStep < 2 || lastStep > 30) throw new Error(`--steps must be an integer from 2 to 30 (the demo has 30), got ${opts.steps}`);
const progress = (line: string) => process.stderr.write(`${line}\n`);

/** Waits for an element's attribute to satisfy `test`, polling every 20 ms; returns the time it did, in ms. */
async function when(page: Page, testId: string, attribute: string, test: string, timeoutMs: number): Promise<number> {
  await page.waitForFunction(
    ([id, attr, body]) => new Function('v', `return ${body}`)(document.querySelector(`[data-testid="${id}"]`)?.getAttribute(attr) ?? null),
    [testId, attribute, test] as const,
    { polling: 20, timeout: timeoutMs },
  );
  return performance.now();
}

progress('building the studio (vite.config.ts, into dist/)');
const server = await serveBuild();
let exitCode = 0;
try {
  const browser = await launchChromium(adapter);
  try {
    const page = await browser.newPage();
    page.on('pageerror', (err) => progress(`[page error] ${err.message}`));
    await page.goto(server.base);
    await when(page, 'model-status', 'data-state', "v === 'ready'", 300_000);
    await when(page, 'data-status', 'data-state', "v === 'ready'", 300_000);
    const gpu = await page.getByTestId('gpu-description').or(page.getByTestId('gpu-vendor')).first().innerText().catch(() => 'unknown');
    await page.getByTestId('step-method').click();
    await page.getByTestId('method-preset-demo').click();
    await page.getByTestId('step-train').click();
    progress(`pressing Start (${adapter} adapter: ${gpu})`);
    const start = performance.now();
    await page.getByTestId('train-start').click();
    const stepAt = [start];
    for (let step = 1; step <= lastStep; step++) {
      stepAt.push(await when(page, 'train-step', 'data-step', `Number(v) >= ${step}`, 600_000));
      progress(`step ${step}: ${((stepAt[step] - start) / 1000).toFixed(1)} s after Start`);
    }
    const later = stepAt.slice(2).map((t, i) => t - stepAt[i + 1]).sort((a, b) => a - b);
    const result = {
      adapter,
      gpu,
      first_step_s: Math.round((stepAt[1] - start) / 100) / 10,
      ms_per_step: Math.round(later[Math.floor(later.length / 2)]),
      steps_timed: later.length,
    };
    if (opts.json) console.log(JSON.stringify(result));
    else console.log(`quick demo (${adapter} adapter, ${gpu}): first step ${result.first_step_s} s after Start; then ${result.ms_per_step} ms per step (median of steps 2–${lastStep})`);
    await page.getByTestId('train-stop').click().catch(() => {});
  } finally {
    await browser.close();
  }
} catch (e) {
  progress(`bench:first-step: ${(e as Error).stack ?? String(e)}`);
  exitCode = 1;
} finally {
  await server.close();
}
process.exit(exitCode);
