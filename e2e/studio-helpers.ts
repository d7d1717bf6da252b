/**
 * Steps of the studio's e2e specs that drive the page as a person does: open it on the embedded model, wait for a
 * run, generate in the Compare panel, download the adapter's zip (and the merged model's, the ONNX folder's, the
 * recipe's) and re-import it, photograph the panels.
 */
import { readFileSync } from 'node:fs';
import { expect, type Page, type TestInfo } from '@playwright/test';
import { unzipSync } from 'fflate';

export const STEPS = ['model', 'data', 'method', 'train', 'compare', 'export'] as const;
export type Step = (typeof STEPS)[number];

/** Opens a step of the workflow by its tab, as a person does; the other steps' panels are hidden. */
export async function goStep(page: Page, step: Step): Promise<void> {
  await page.getByTestId(`step-${step}`).click();
  await expect(page.getByTestId(`step-${step}`)).toHaveAttribute('aria-selected', 'true');
}

/** Photographs every step of the workflow as the page shows it (the viewport, so the bar at the top is in each). */
export async function screenshotSteps(page: Page, testInfo: TestInfo, prefix: string, fullPage = false): Promise<void> {
  for (const step of STEPS) {
    await goStep(page, step);
    const path = testInfo.outputPath(`${prefix}-${step}.png`);
    await page.screenshot({ path, fullPage });
    await testInfo.attach(`${prefix}-${step}`, { path, contentType: 'image/png' });
  }
}

/** Waits until the run ends, failing at once (with the panel's error) when it ends in an error. */
export async function expectRunDone(page: Page): Promise<void> {
  const status = page.getByTestId('train-status');
  await expect(status).toHaveAttribute('data-state', /^(done|error)$/, { timeout: 300_000 });
  if ((await status.getAttribute('data-state')) === 'error') throw new Error(`training failed: ${await page.getByTestId('train-error').innerText()}`);
}

export async function openWithDefaultModel(page: Page): Promise<void> {
  await page.goto('/');
  await expect(page.getByTestId('model-status')).toHaveAttribute('data-state', 'ready');
  await expect(page.getByTestId('data-status')).toHaveAttribute('data-state', 'ready');
}

/** The first and the latest training loss the Training panel shows. */
export async function firstAndLastLoss(page: Page): Promise<{ first: number; last: number }> {
  const first = Number(await page.getByTestId('train-loss-first').getAttribute('data-value'));
  const last = Number(await page.getByTestId('train-loss-last').getAttribute('data-value'));
  return { first, last };
}

/** Runs the Compare panel's generation (its current prompt and settings) and returns both sides. */
export async function compareOnce(page: Page): Promise<{ base: string; adapted: string; deployed: string }> {
  await goStep(page, 'compare');
  const status = page.getByTestId('compare-status');
  await page.getByTestId('compare-run').click();
  // This run's end, not the last one's: generating takes seconds on SwiftShader.
  await expect(status).toHaveAttribute('data-state', 'running');
  await expect(status).toHaveAttribute('data-state', 'done', { timeout: 180_000 });
  return {
    base: await page.getByTestId('compare-base').innerText(),
    adapted: await page.getByTestId('compare-adapted').innerText(),
    deployed: await page.getByTestId('compare-deployed').innerText(),
  };
}

/** Downloads the ONNX folder's zip from the Export panel (variants as chosen there) and unpacks it. */
export async function downloadOnnxZip(page: Page, testInfo: TestInfo): Promise<{ fileName: string; files: Record<string, Uint8Array> }> {
  return downloadExportZip(page, testInfo, 'export-onnx', 'onnx.zip', 120_000);
}

/**
 * Clicks an Export panel button that downloads a zip (`testId`), saves the download as `saveAs` among the test's
 * outputs, and unpacks it: its suggested file name, where it was saved, and its files by path.
 */
async function downloadExportZip(
  page: Page,
  testInfo: TestInfo,
  testId: string,
  saveAs: string,
  timeout?: number,
): Promise<{ fileName: string; path: string; files: Record<string, Uint8Array> }> {
  await goStep(page, 'export');
  const [download] = await Promise.all([page.waitForEvent('download', timeout === undefined ? {} : { timeout }), page.getByTestId(testId).click()]);
  const path = testInfo.outputPath(saveAs);
  await download.saveAs(path);
  return { fileName: download.suggestedFilename(), path, files: unzipSync(new Uint8Array(readFileSync(path))) };
}

/** Downloads the adapter as the Export panel's zip: its file name, where it was saved, and its files. */
export async function downloadAdapterZip(page: Page, testInfo: TestInfo): Promise<{ fileName: string; path: string; files: Record<string, Uint8Array> }> {
  return downloadExportZip(page, testInfo, 'export-zip', 'adapter.zip');
}

/** Downloads the merged model's zip from the Export panel (dtype as chosen there) and unpacks it. */
export async function downloadMergedZip(page: Page, testInfo: TestInfo): Promise<{ fileName: string; files: Record<string, Uint8Array> }> {
  return downloadExportZip(page, testInfo, 'export-merged', 'merged.zip');
}

/** Downloads the "Train at scale" recipe's zip from the Export panel and unpacks it (paths such as accelerate/…). */
export async function downloadRecipeZip(page: Page, testInfo: TestInfo): Promise<{ fileName: string; files: Record<string, Uint8Array> }> {
  return downloadExportZip(page, testInfo, 'export-recipe', 'recipe.zip');
}

/** Imports adapter files (or their zip) in the Export panel and waits until the adapter is the imported one. */
export async function importAdapter(page: Page, paths: string | string[]): Promise<void> {
  await goStep(page, 'export');
  await page.getByTestId('import-files').setInputFiles(paths);
  await expect(page.getByTestId('import-status')).toBeVisible();
  await expect(page.getByTestId('adapter-origin')).toContainText('imported');
}
