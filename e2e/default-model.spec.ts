import { expect, test } from '@playwright/test';

test('the studio opens with the embedded default model loaded and the sample datasets offered', async ({ page }) => {
  const pageErrors: string[] = [];
  page.on('pageerror', (e) => pageErrors.push(e.message));
  await page.goto('/');

  // No click needed: the embedded model loads on its own, from the studio's own origin.
  await expect(page.getByTestId('model-status')).toHaveAttribute('data-state', 'ready');
  await expect(page.getByTestId('model-name')).toHaveText('austen-2m');
  await expect(page.getByTestId('model-arch')).toHaveText('llama');
  await expect(page.getByTestId('model-layers')).toHaveText('4');
  await expect(page.getByTestId('model-hidden')).toHaveText('192');
  await expect(page.getByTestId('model-vocab')).toHaveText('2,048');

  // The first sample dataset is picked and tokenized with the model's tokenizer.
  await page.getByTestId('step-data').click();
  await expect(page.getByTestId('data-status')).toHaveAttribute('data-state', 'ready');
  await expect(page.getByTestId('data-records')).toHaveText('320');
  await expect(page.getByTestId('data-preview').locator('li').first()).toContainText('"');
  for (const [name, records] of [['invitations', '160'], ['butler', '160']] as const) {
    await page.getByTestId(`sample-${name}`).check();
    await expect(page.getByTestId('data-status')).toHaveAttribute('data-state', 'ready');
    await expect(page.getByTestId('data-records')).toHaveText(records);
    // Prompts are context, completions are trained: both kinds of token are shown.
    await expect(page.getByTestId('data-preview').locator('mark.tok-trained').first()).toBeVisible();
    await expect(page.getByTestId('data-preview').locator('.tok-context').first()).toBeVisible();
  }
  expect(pageErrors).toEqual([]);
});
