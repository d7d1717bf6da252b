/**
 * The studio as a workbench, photographed for a reviewer: the newcomer's path (default model, sample data, quick
 * demo, train, compare, export) at 1280×800 in English and in 中文, one step at a time with the steps and the run's
 * status always in view; the same steps at 768 px without horizontal scrolling; and the run list: two runs kept,
 * overlaid with the settings that differ, one renamed, one deleted, the other still there after a reload.
 */
import { expect, test, type Page, type TestInfo } from '@playwright/test';
import { expectRunDone, goStep, openWithDefaultModel, STEPS, type Step } from './studio-helpers';

test.describe.configure({ timeout: 480_000 });

/** A page that does not scroll sideways, and whose steps and run status stay in view at the bottom of the page. */
async function expectWorkbenchLayout(page: Page, step: Step): Promise<void> {
  const [scrollWidth, innerWidth] = await page.evaluate(() => [document.documentElement.scrollWidth, window.innerWidth]);
  expect(scrollWidth, `${step}: the page scrolls sideways`).toBeLessThanOrEqual(innerWidth);
  await page.evaluate(() => window.scrollTo(0, document.documentElement.scrollHeight));
  await expect(page.getByTestId('workbench-bar')).toBeInViewport();
  const next = STEPS[STEPS.indexOf(step) + 1];
  if (next) await expect(page.getByTestId(`step-${next}`)).toBeInViewport();
  await page.evaluate(() => window.scrollTo(0, 0));
}

/** The Method step's quick demo, cut to a few short steps of batch 4 without a validation split. */
async function shortDemo(page: Page, o: { steps: number; seq: number; lr?: string }): Promise<void> {
  await goStep(page, 'method');
  await page.getByTestId('method-preset-demo').click();
  await page.getByTestId('method-steps').fill(String(o.steps));
  await page.getByTestId('method-batch').fill('4');
  await page.getByTestId('method-seq').fill(String(o.seq));
  await page.getByTestId('method-val-split').fill('0');
  if (o.lr) await page.getByTestId('method-lr').fill(o.lr);
}

/** Photographs the current view in English, then in 中文 (and switches back). */
async function photograph(page: Page, testInfo: TestInfo, name: string): Promise<void> {
  for (const lang of ['en', 'zh'] as const) {
    await page.getByTestId(`lang-${lang}`).click();
    await expect(page.locator('html')).toHaveAttribute('lang', lang === 'zh' ? 'zh-CN' : 'en');
    const path = testInfo.outputPath(`walk-${name}-${lang}.png`);
    await page.screenshot({ path });
    await testInfo.attach(`walk-${name}-${lang}`, { path, contentType: 'image/png' });
  }
  await page.getByTestId('lang-en').click();
}

test("the newcomer's path at 1280×800, every step in English and 中文, and at 768 px", async ({ page }, testInfo) => {
  const pageErrors: string[] = [];
  page.on('pageerror', (e) => pageErrors.push(e.message));
  await page.setViewportSize({ width: 1280, height: 800 });
  await openWithDefaultModel(page);

  // Model: the embedded default is loaded; the summary above every step says so.
  await goStep(page, 'model');
  await expect(page.getByTestId('bar-model')).toContainText('austen-2m');
  await expectWorkbenchLayout(page, 'model');
  await photograph(page, testInfo, '1-model');

  // Data: the first sample is chosen and tokenized.
  await goStep(page, 'data');
  await expect(page.getByTestId('bar-data')).toContainText('320 records');
  await expectWorkbenchLayout(page, 'data');
  await photograph(page, testInfo, '2-data');

  // Method: the quick demo, kept short for CI.
  await shortDemo(page, { steps: 3, seq: 48 });
  await expectWorkbenchLayout(page, 'method');
  await photograph(page, testInfo, '3-method');

  // Train: the first step says that shaders compile, and counts them.
  await goStep(page, 'train');
  await page.getByTestId('train-start').click();
  const compiling = page.getByTestId('train-compiling');
  await expect(compiling).toBeVisible({ timeout: 120_000 });
  await expect(compiling).toContainText(/Compiling shaders for the first step: \d+/);
  await photograph(page, testInfo, '4-train-compiling');
  // The other steps show it in the bar above them, with the run's controls; the Train step has one set, in its panel.
  await expect(page.getByTestId('bar-stop')).toHaveCount(0);
  await goStep(page, 'data');
  await expect(page.getByTestId('bar-compiling').or(page.getByTestId('bar-step')).first()).toBeVisible();
  await expect(page.getByTestId('bar-stop')).toBeVisible();
  await goStep(page, 'train');
  // From the first timed step: tokens/s and the time left.
  await expect(page.getByTestId('train-step')).toHaveAttribute('data-step', /^[1-3]$/, { timeout: 200_000 });
  await expect(page.getByTestId('train-tokens-per-s')).toHaveAttribute('data-value', /^\d/);
  await expect(page.getByTestId('train-eta')).toHaveText(/^\d+ (s|min)/);
  await expectRunDone(page);
  await expect(compiling).toHaveCount(0);
  // The run's status is in the bar, from every step.
  await expect(page.getByTestId('bar-step')).toHaveText('step 3 / 3');
  await expect(page.getByTestId('runs-count')).toHaveAttribute('data-count', '1');
  await expectWorkbenchLayout(page, 'train');
  await photograph(page, testInfo, '5-train-done');

  // Compare.
  await goStep(page, 'compare');
  await expect(page.getByTestId('bar-status')).toHaveAttribute('data-state', 'done');
  await page.getByTestId('compare-deployed-on').uncheck();
  await page.getByTestId('compare-max-new-tokens').fill('12');
  await page.getByTestId('compare-run').click();
  await expect(page.getByTestId('compare-status')).toHaveAttribute('data-state', 'done', { timeout: 180_000 });
  await expectWorkbenchLayout(page, 'compare');
  await photograph(page, testInfo, '6-compare');

  // Export.
  await goStep(page, 'export');
  await expect(page.getByTestId('export-zip')).toBeEnabled();
  await expectWorkbenchLayout(page, 'export');
  await photograph(page, testInfo, '7-export');

  // About this device, opened.
  await page.getByTestId('about-device').locator('summary').click();
  await page.getByTestId('about-device').scrollIntoViewIfNeeded();
  await photograph(page, testInfo, '8-about-device');

  // A 768 px window: no step scrolls sideways.
  await page.setViewportSize({ width: 768, height: 1000 });
  for (const step of STEPS) {
    await goStep(page, step);
    await expectWorkbenchLayout(page, step);
    const path = testInfo.outputPath(`walk-768-${step}.png`);
    await page.screenshot({ path });
    await testInfo.attach(`walk-768-${step}`, { path, contentType: 'image/png' });
  }

  // The language is remembered across a reload.
  await page.getByTestId('lang-zh').click();
  await page.reload();
  await expect(page.locator('html')).toHaveAttribute('lang', 'zh-CN');
  await expect(page.getByTestId('step-model')).toContainText('模型');
  await expect(page.getByTestId('step-train')).toContainText('训练');
  await page.getByTestId('lang-en').click();
  await expect(page.getByTestId('step-train')).toContainText('Train');
  expect(pageErrors).toEqual([]);
});

/** Trains a two-step run of the quick demo with a learning rate; waits for it to end. */
async function shortRun(page: Page, lr: string): Promise<void> {
  await shortDemo(page, { steps: 2, seq: 32, lr });
  await goStep(page, 'train');
  await page.getByTestId('train-start').click();
  await expect(page.getByTestId('train-status')).toHaveAttribute('data-state', 'running', { timeout: 60_000 });
  await expectRunDone(page);
}

test('runs are kept: two runs overlaid with their differing settings, one deleted, the other still there after a reload', async ({ page }, testInfo) => {
  const pageErrors: string[] = [];
  page.on('pageerror', (e) => pageErrors.push(e.message));
  await openWithDefaultModel(page);
  await shortRun(page, '0.015');
  await shortRun(page, '0.005');

  // Both are kept: a new run deleted nothing.
  const rows = page.getByTestId('run-row');
  await expect(rows).toHaveCount(2);
  await expect(rows.getByTestId('run-status')).toHaveText(['completed', 'completed']);
  const [newer, older] = [rows.nth(0), rows.nth(1)];
  const newerId = await newer.getAttribute('data-run-id');
  const olderId = await older.getAttribute('data-run-id');
  expect(newerId).not.toBe(olderId);
  await expect(newer.getByTestId('run-name')).toHaveValue(/^austen-2m · lora · \d{4}-\d\d-\d\d \d\d:\d\d:\d\d$/);

  // Overlaid: two train-loss curves, and the learning rate is the setting that differs.
  await newer.getByTestId('run-overlay').check();
  await older.getByTestId('run-overlay').check();
  await expect(page.getByTestId('runs-chart')).toHaveAttribute('data-series', '2');
  await expect(page.getByTestId('runs-diff-row')).toHaveCount(1);
  await expect(page.getByTestId('runs-diff-row')).toHaveAttribute('data-key', 'lr');
  await expect(page.getByTestId('runs-diff-row')).toContainText('0.015');
  await expect(page.getByTestId('runs-diff-row')).toContainText('0.005');
  // The legend shows the latest losses without the pointer on the chart.
  await expect(page.getByTestId('runs-chart').locator('.u-legend')).not.toContainText('train: —');
  await page.getByTestId('runs-axis-epoch').check();
  await expect(page.getByTestId('runs-chart')).toHaveAttribute('data-series', '2');

  // The newer one gets a name of its own.
  await newer.getByTestId('run-name').fill('pirate, lr 0.005');
  await newer.getByTestId('run-name').press('Enter');
  await page.getByTestId('panel-runs').screenshot({ path: testInfo.outputPath('runs-two.png') });

  // Deleting the older one asks first, saying what is lost.
  await older.getByTestId('run-delete').click();
  await expect(page.getByTestId('run-delete-what')).toContainText('checkpoints');
  await expect(page.getByTestId('run-delete-what')).toContainText('adapter files');
  await page.getByTestId('run-delete-cancel').click();
  await expect(rows).toHaveCount(2);
  await older.getByTestId('run-delete').click();
  await page.getByTestId('run-delete-confirm').click();
  await expect(rows).toHaveCount(1);
  await expect(page.getByTestId('runs-chart')).toHaveAttribute('data-series', '1');

  // After a reload the other run is still there, with its name, its status and its curve.
  await page.reload();
  await goStep(page, 'train');
  await expect(rows).toHaveCount(1);
  await expect(rows.first()).toHaveAttribute('data-run-id', newerId!);
  await expect(rows.first().getByTestId('run-name')).toHaveValue('pirate, lr 0.005');
  await expect(rows.first().getByTestId('run-status')).toHaveText('completed');
  await rows.first().getByTestId('run-overlay').check();
  await expect(page.getByTestId('runs-chart')).toHaveAttribute('data-series', '1');

  // Reopened, its adapter is the current one, ready to compare and export.
  await expect(page.getByTestId('model-status')).toHaveAttribute('data-state', 'ready');
  await rows.first().getByTestId('run-open').click();
  await expect(page.getByTestId('run-opened-note')).toBeVisible();
  await goStep(page, 'export');
  await expect(page.getByTestId('adapter-origin')).toContainText('imported');
  await expect(page.getByTestId('export-zip')).toBeEnabled();
  expect(pageErrors).toEqual([]);
});

test('methods side by side: LoRA and IA³ trained in turn, one table, one chart, one prompt continued by each', async ({ page }, testInfo) => {
  const pageErrors: string[] = [];
  page.on('pageerror', (e) => pageErrors.push(e.message));
  await openWithDefaultModel(page);
  await shortDemo(page, { steps: 2, seq: 32 });

  // IA³'s module lists: PEFT's default for the model (k_proj, v_proj and down_proj, whose input is scaled), or the
  // names ticked. A feed-forward module outside the targets is refused, as PEFT refuses it.
  await page.getByTestId('method-kind').selectOption('ia3');
  const trainableLine = page.getByTestId('method-trainable-line');
  await expect(trainableLine).toContainText('trainable params: 2,560 ||'); // 4 layers × (64 + 64 + 512)
  await expect(page.getByTestId('method-ia3-target')).toContainText('k_proj, v_proj, down_proj');
  await page.getByTestId('method-ia3-target-default').uncheck();
  await page.getByTestId('method-ia3-target-down_proj').uncheck();
  await expect(page.getByTestId('method-error')).toContainText('feedforward_modules');
  await page.getByTestId('method-feedforward-modules-default').uncheck();
  await page.getByTestId('method-feedforward-modules-down_proj').uncheck();
  await expect(page.getByTestId('method-error')).toHaveCount(0);
  await expect(trainableLine).toContainText('trainable params: 512 ||'); // 4 layers × (64 + 64)
  await page.getByTestId('method-kind').selectOption('lora');

  await goStep(page, 'compare');
  await page.getByTestId('compare-max-new-tokens').fill('8');
  const panel = page.getByTestId('panel-side-by-side');
  await expect(panel.getByTestId('sbs-method-lora')).toBeChecked();
  await expect(panel.getByTestId('sbs-method-ia3')).toBeChecked();
  await panel.getByTestId('sbs-run').click();
  await expect(panel.getByTestId('sbs-progress')).toContainText('Training 1 of 2: LoRA');
  await expect(panel.getByTestId('sbs-state')).toHaveAttribute('data-state', 'done', { timeout: 400_000 });
  await expect(panel.getByTestId('sbs-error')).toHaveCount(0);

  // One row per method, from the worker's comparison rows: IA³ trains far fewer parameters than LoRA.
  const rows = panel.getByTestId('sbs-row');
  await expect(rows).toHaveCount(2);
  await expect(rows.nth(0)).toHaveAttribute('data-method', 'lora');
  await expect(rows.nth(1)).toHaveAttribute('data-method', 'ia3');
  const trainable = async (i: number) => Number((await rows.nth(i).locator('td').nth(1).innerText()).replaceAll(',', ''));
  expect(await trainable(1)).toBe(512); // IA³ with the targets picked above
  expect(await trainable(1)).toBeLessThan(await trainable(0));
  await expect(panel.getByTestId('runs-chart')).toHaveAttribute('data-series', '2');
  // The same prompt, continued by the base model and by each adapter.
  for (const side of ['base', 'lora', 'ia3']) await expect(panel.getByTestId(`sbs-output-${side}`)).not.toHaveText('…');
  await panel.screenshot({ path: testInfo.outputPath('side-by-side.png') });

  // Both are kept as runs.
  await goStep(page, 'train');
  await expect(page.getByTestId('run-row')).toHaveCount(2);
  expect(pageErrors).toEqual([]);
});
