import { expect, test } from '@playwright/test';

test('studio opens and reports a WebGPU adapter', async ({ page }) => {
  const pageErrors: string[] = [];
  page.on('pageerror', (e) => pageErrors.push(e.message));

  await page.goto('/');
  await expect(page).toHaveTitle('PEFT Studio');
  await expect(page.getByRole('heading', { level: 1, name: 'PEFT Studio' })).toBeVisible();

  // The GPU's details are for developers: they sit in a collapsed "About this device" section below the workflow.
  const about = page.getByTestId('about-device');
  await expect(about).not.toHaveAttribute('open');
  await about.locator('summary').click();
  const status = page.getByTestId('gpu-status');
  await expect(status).not.toHaveAttribute('data-state', 'detecting');
  if ((await status.getAttribute('data-state')) !== 'ready') {
    throw new Error(`No WebGPU adapter in the studio: ${await page.getByTestId('gpu-error').innerText()}`);
  }

  // What this browser reports, asked directly.
  const direct = await page.evaluate(async () => {
    const adapter = await navigator.gpu.requestAdapter();
    if (!adapter) return null;
    const info = adapter.info as GPUAdapterInfo & { isFallbackAdapter?: boolean };
    const fallback = info.isFallbackAdapter ?? (adapter as GPUAdapter & { isFallbackAdapter?: boolean }).isFallbackAdapter ?? false;
    return {
      vendor: info.vendor,
      architecture: info.architecture,
      device: info.device,
      description: info.description,
      isFallbackAdapter: Boolean(fallback),
      features: {
        'shader-f16': adapter.features.has('shader-f16'),
        subgroups: adapter.features.has('subgroups'),
        'timestamp-query': adapter.features.has('timestamp-query'),
      },
      limits: {
        maxStorageBufferBindingSize: adapter.limits.maxStorageBufferBindingSize,
        maxComputeWorkgroupStorageSize: adapter.limits.maxComputeWorkgroupStorageSize,
        maxComputeInvocationsPerWorkgroup: adapter.limits.maxComputeInvocationsPerWorkgroup,
      },
    };
  });
  expect(direct, 'navigator.gpu.requestAdapter() returned null in the page').not.toBeNull();
  if (!direct) return;

  const vendor = (await page.getByTestId('gpu-vendor').innerText()).trim();
  const architecture = (await page.getByTestId('gpu-architecture').innerText()).trim();
  expect(vendor).not.toBe('');
  expect(architecture).not.toBe('');
  expect(vendor).toBe(direct.vendor || 'unknown');
  expect(architecture).toBe(direct.architecture || 'unknown');
  // A field the browser keeps empty is not an empty row: the card says it is not reported.
  if (direct.device) await expect(page.getByTestId('gpu-device')).toHaveText(direct.device);
  if (direct.description) await expect(page.getByTestId('gpu-description')).toHaveText(direct.description);
  if (!direct.device || !direct.description) await expect(page.getByTestId('gpu-unreported')).toContainText('this browser keeps them private');
  else await expect(page.getByTestId('gpu-unreported')).toHaveCount(0);

  const yn = (v: boolean) => (v ? 'yes' : 'no');
  await expect(page.getByTestId('gpu-fallback')).toHaveText(yn(direct.isFallbackAdapter));
  for (const [feature, has] of Object.entries(direct.features)) {
    await expect(page.getByTestId(`feature-${feature}`)).toHaveText(yn(has));
  }
  for (const [limit, value] of Object.entries(direct.limits)) {
    await expect(page.getByTestId(`limit-${limit}`)).toHaveAttribute('data-value', String(value));
  }

  // The kernel worker gets WebGPU too, on the same kind of adapter.
  await expect(page.getByTestId('worker-gpu')).toHaveAttribute('data-state', 'ready');
  await expect(page.getByTestId('worker-gpu')).toContainText(`${vendor} / ${architecture}`);

  // One step of the workflow at a time, each reached by its tab.
  for (const [step, panel] of [['model', 'model'], ['data', 'data'], ['method', 'method'], ['train', 'training'], ['compare', 'compare'], ['export', 'export']]) {
    await page.getByTestId(`step-${step}`).click();
    await expect(page.getByTestId(`panel-${panel}`)).toBeVisible();
    await expect(page.getByTestId('panel-model')).toBeVisible({ visible: step === 'model' });
  }
  expect(pageErrors).toEqual([]);
});
