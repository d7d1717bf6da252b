/**
 * A prompt-learning method through the studio, in headless Chromium on SwiftShader WebGPU: prompt tuning chosen in
 * the Method panel (TEXT init from a hard prompt), trained on the embedded model and the pirate sample, compared,
 * downloaded in PEFT's format (adapter_config.json's PROMPT_TUNING fields, adapter_model.safetensors' single
 * prompt_embeddings tensor) and imported again.
 */
import { expect, test } from '@playwright/test';
import { parseSafetensors } from '../src/model-io/safetensors';
import { compareOnce, downloadAdapterZip, expectRunDone, firstAndLastLoss, goStep, importAdapter, openWithDefaultModel, screenshotSteps } from './studio-helpers';

const HARD_PROMPT = 'Answer like a pirate:';
const VIRTUAL_TOKENS = 6;
/** austen-2m's hidden size: prompt tuning's token_dim. */
const HIDDEN = 192;

test.describe.configure({ timeout: 300_000 });

test('prompt tuning from a hard prompt trains in the page, compares, downloads in PEFT format and imports again', async ({ page }, testInfo) => {
  const pageErrors: string[] = [];
  page.on('pageerror', (e) => pageErrors.push(e.message));
  await openWithDefaultModel(page);

  // The method: prompt tuning, its fields rendered from the schema, the hard prompt only with TEXT init.
  await goStep(page, 'method');
  const kind = page.getByTestId('method-kind');
  await expect(kind.locator('option:not([disabled])')).toHaveText(['LoRA', 'Prompt tuning', 'P-tuning', 'Prefix tuning', 'IA³', 'Bottleneck adapters']);
  await kind.selectOption('prompt-tuning');
  await expect(page.getByTestId('method-status')).toHaveText('Prompt tuning');
  const text = page.getByTestId('method-prompt-init-text');
  await expect(text).toBeDisabled();
  await page.getByTestId('method-prompt-init').selectOption('TEXT');
  await expect(text).toBeEnabled();
  await expect(page.getByTestId('method-error')).toContainText('prompt_tuning_init_text');
  await text.fill(HARD_PROMPT);
  await page.getByTestId('method-virtual-tokens').fill(String(VIRTUAL_TOKENS));
  // Only the virtual tokens train: 6 × 192.
  await expect(page.getByTestId('method-trainable-line')).toContainText(`trainable params: ${(VIRTUAL_TOKENS * HIDDEN).toLocaleString('en-US')} ||`);
  await expect(page.getByTestId('method-error')).toHaveCount(0);

  // A short run: the loss starts where the hard prompt leaves it, and falls.
  await page.getByTestId('method-steps').fill('4');
  await page.getByTestId('method-batch').fill('4');
  await page.getByTestId('method-lr').fill('0.05');
  await page.getByTestId('method-schedule').selectOption('constant');
  await page.getByTestId('method-val-split').fill('0');
  await page.getByTestId('method-save-every').fill('0');
  await page.getByTestId('method-seq').fill('48');
  await goStep(page, 'train');
  await page.getByTestId('train-start').click();
  await expectRunDone(page);
  await expect(page.getByTestId('train-step')).toHaveText(/4 \/ 4/);
  const { first, last } = await firstAndLastLoss(page);
  expect(first).toBeGreaterThan(3);
  expect(last, `loss ${first} → ${last}`).toBeLessThan(0.9 * first);
  await expect(page.getByTestId('adapter-method')).toHaveText('Prompt tuning');

  // Compare: the soft prompt changes what the model writes.
  await goStep(page, 'compare');
  await page.getByTestId('compare-seed').fill('2');
  await page.getByTestId('compare-max-new-tokens').fill('16');
  const compared = await compareOnce(page);
  expect(compared.adapted.length).toBeGreaterThan(0);
  expect(compared.adapted).not.toBe(compared.base);
  await screenshotSteps(page, testInfo, 'prompt-tuning');

  // The download, as PEFT reads it.
  const { fileName, path: zipPath, files } = await downloadAdapterZip(page, testInfo);
  expect(fileName).toBe('austen-2m-prompt-tuning-adapter.zip');
  expect(Object.keys(files).sort()).toEqual(['README.md', 'adapter_config.json', 'adapter_model.safetensors']);
  const config = JSON.parse(new TextDecoder().decode(files['adapter_config.json']));
  expect(config).toMatchObject({
    peft_type: 'PROMPT_TUNING',
    task_type: 'CAUSAL_LM',
    num_virtual_tokens: VIRTUAL_TOKENS,
    token_dim: HIDDEN,
    num_transformer_submodules: 1,
    num_layers: 4,
    prompt_tuning_init: 'TEXT',
    prompt_tuning_init_text: HARD_PROMPT,
    base_model_name_or_path: 'austen-2m',
  });
  const st = parseSafetensors(files['adapter_model.safetensors'], 'adapter_model.safetensors');
  expect([...st.tensors].map(([name, t]) => [name, t.dtype, t.shape])).toEqual([['prompt_embeddings', 'F32', [VIRTUAL_TOKENS, HIDDEN]]]);

  // Imported again, it is the same adapter: the same facts and the same generation.
  const trainedFacts = await page.getByTestId('adapter-info').innerText();
  await importAdapter(page, zipPath);
  await expect(page.getByTestId('adapter-method')).toHaveText('Prompt tuning');
  await expect(page.getByTestId('adapter-fact-num_virtual_tokens')).toHaveText(String(VIRTUAL_TOKENS));
  expect((await page.getByTestId('adapter-info').innerText()).replace('imported', 'trained in this session')).toBe(trainedFacts);
  expect(await compareOnce(page)).toEqual(compared);
  expect(pageErrors).toEqual([]);
});
