import { expect, test, type Page } from '@playwright/test';
import { dequantizeWeight, packWeight } from '../src/kernels/quantize';
import { loraLinearForwardRef } from '../src/kernels/reference/lora-linear';
import { checkTolerance, describeViolation } from '../src/kernels/reference/tolerance';
import type { LoraSelfTestResult } from '../src/worker/protocol';

const ATOL = 1e-4;
const RTOL = 1e-4;

const TOL = { atol: ATOL, rtol: RTOL };

function mismatches(name: string, got: ArrayLike<number>, want: ArrayLike<number>): string[] {
  const report = checkTolerance(got, want, TOL);
  return report.pass ? [] : [describeViolation(name, report, TOL)];
}

async function runSelfTest(page: Page, format: string): Promise<LoraSelfTestResult> {
  await page.getByTestId('selftest-format').selectOption(format);
  const previous = await page.evaluate(() => window.__peftSelfTest ?? null);
  await page.getByTestId('selftest-run').click();
  const status = page.getByTestId('selftest-status');
  await expect(status).toHaveAttribute('data-state', /^(done|error)$/, { timeout: 110_000 });
  if ((await status.getAttribute('data-state')) === 'error') {
    throw new Error(`Self-test failed in the worker: ${await page.getByTestId('selftest-error').innerText()}`);
  }
  const result = await page.evaluate(() => window.__peftSelfTest ?? null);
  expect(result, 'window.__peftSelfTest was not set').not.toBeNull();
  expect(result).not.toEqual(previous);
  return result as LoraSelfTestResult;
}

function checkAgainstReference(result: LoraSelfTestResult): void {
  const { M, K, N, r } = result;
  expect(result.x).toHaveLength(M * K);
  expect(result.w0).toHaveLength(N * K);
  expect(result.a).toHaveLength(r * K);
  expect(result.b).toHaveLength(N * r);
  expect(result.y).toHaveLength(M * N);
  expect(result.xa).toHaveLength(M * r);

  const w = dequantizeWeight(packWeight(Float32Array.from(result.w0), N, K, result.format, result.layout));
  const ref = loraLinearForwardRef({
    x: Float32Array.from(result.x),
    M,
    K,
    N,
    w,
    bias: result.bias ? Float32Array.from(result.bias) : null,
    a: Float32Array.from(result.a),
    b: Float32Array.from(result.b),
    r,
    scale: result.scale,
    dropoutP: result.dropoutP,
    seed: result.seed,
  });
  const bad = [...mismatches('y', result.y, ref.y), ...mismatches('xa', result.xa, ref.xa)];
  expect(bad).toEqual([]);
  // The worker's own comparison must agree.
  expect(result.check.pass).toBe(true);
}

test('the self-test runs one fused LoRA forward in the Web Worker and matches the CPU reference', async ({ page }) => {
  await page.goto('/');
  await page.getByTestId('about-device').locator('summary').click();
  await expect(page.getByTestId('gpu-status')).toHaveAttribute('data-state', 'ready');
  await expect(page.getByTestId('selftest-run')).toBeEnabled();

  for (const format of ['nf4', 'q4']) {
    const result = await runSelfTest(page, format);
    expect(result.format).toBe(format);
    expect(result.layout).toBe('linear');
    expect(result.dropoutP).toBeGreaterThan(0);
    expect(result.bias).not.toBeNull();
    checkAgainstReference(result);
    await expect(page.getByTestId('selftest-status')).toHaveText('passed');
    await expect(page.getByTestId('selftest-max-error-y')).not.toBeEmpty();
  }
});
