/**
 * The studio as a person uses it, in headless Chromium on SwiftShader WebGPU: the newcomer's path on the embedded
 * model (load, sample data, train, compare, download the adapter, the merged model and the recipe, re-import), a
 * model from a loopback Hub, bad input, and a reload in the middle of training. Every panel is photographed as a test
 * artifact.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect, test, type Page } from '@playwright/test';
import { parseSafetensors, tensorToFloat32 } from '../src/model-io/safetensors';
import { makeTinyModel } from '../tests/fixtures/tiny-models';
import { startHubServer } from '../tests/helpers/hub-server';
import { compareOnce, downloadAdapterZip, downloadMergedZip, downloadOnnxZip, downloadRecipeZip, expectRunDone, firstAndLastLoss, goStep, importAdapter, openWithDefaultModel, screenshotSteps } from './studio-helpers';

/** A short run that SwiftShader finishes in about a minute (about 9 s a step). */
async function setShortRun(page: Page, steps: number, checkpointEvery: number): Promise<void> {
  await goStep(page, 'method');
  await page.getByTestId('method-preset-demo').click();
  await page.getByTestId('method-steps').fill(String(steps));
  await page.getByTestId('method-batch').fill('4');
  await page.getByTestId('method-lr').fill('0.015');
  await page.getByTestId('method-val-split').fill('0');
  await page.getByTestId('method-save-every').fill(String(checkpointEvery));
  await page.getByTestId('method-seq').fill('48');
  await expect(page.getByTestId('method-trainable-line')).toContainText('trainable params:');
}

const PEFT_MODULES = ['self_attn.q_proj', 'self_attn.k_proj', 'self_attn.v_proj', 'self_attn.o_proj', 'mlp.gate_proj', 'mlp.up_proj', 'mlp.down_proj'];

test.describe.configure({ timeout: 480_000 });

test('a newcomer trains the embedded model on a sample, compares, downloads and re-imports the adapter', async ({ page }, testInfo) => {
  const pageErrors: string[] = [];
  page.on('pageerror', (e) => pageErrors.push(e.message));
  await openWithDefaultModel(page);
  await expect(page.getByTestId('data-records')).toHaveText('320');
  await setShortRun(page, 8, 0);

  await goStep(page, 'train');
  await page.getByTestId('train-start').click();
  await expectRunDone(page);
  await expect(page.getByTestId('train-step')).toHaveText(/8 \/ 8/);
  const { first, last } = await firstAndLastLoss(page);
  expect(first).toBeGreaterThan(4);
  expect(last, `loss ${first} → ${last}`).toBeLessThan(0.75 * first);
  // With the pointer away from the chart, its legend shows the latest train loss, not "—".
  await expect(page.getByTestId('train-chart').locator('.u-legend')).toContainText(last.toFixed(4));

  // Compare: the same prompt, settings and seed on both sides.
  await goStep(page, 'compare');
  await expect(page.getByTestId('compare-prompt')).toHaveValue('Sir Thomas Bertram said, "');
  await page.getByTestId('compare-seed').fill('2');
  await page.getByTestId('compare-max-new-tokens').fill('24');
  const { base, adapted, deployed } = await compareOnce(page);
  expect(adapted.length).toBeGreaterThan(0);
  expect(adapted).not.toBe(base);
  // The third column: the adapter merged, exported as ONNX and run by onnxruntime-web, with the same seed.
  expect(deployed).toBe(adapted);
  await expect(page.getByTestId('compare-deployed-stop')).toContainText(/onnxruntime-web 1\.30\.\d+ \((webgpu|wasm)\)/);
  await screenshotSteps(page, testInfo, 'trained');

  // Download the adapter as one zip and check it as PEFT would read it.
  const { fileName, path: zipPath, files } = await downloadAdapterZip(page, testInfo);
  expect(fileName).toBe('austen-2m-lora-adapter.zip');
  expect(Object.keys(files).sort()).toEqual(['README.md', 'adapter_config.json', 'adapter_model.safetensors']);
  const config = JSON.parse(new TextDecoder().decode(files['adapter_config.json']));
  expect(config).toMatchObject({ peft_type: 'LORA', task_type: 'CAUSAL_LM', r: 8, lora_alpha: 16, base_model_name_or_path: 'austen-2m' });
  // The model card is the run's: PEFT's metadata, then what was trained on what.
  const card = new TextDecoder().decode(files['README.md']);
  expect(card).toMatch(/^---\nbase_model: austen-2m\nlibrary_name: peft\n/);
  expect(card).toContain('# LoRA adapter for austen-2m\n');
  expect(card).toMatch(/\| training \| 8 steps of batch 4, learning rate 0\.015 \(constant\), AdamW; W0 in \w+ \|/);
  expect(card).toContain(`| final loss | training ${last.toFixed(4)}, validation none |`);
  const st = parseSafetensors(files['adapter_model.safetensors'], 'adapter_model.safetensors');
  const shapes = new Map([...st.tensors].map(([k, t]) => [k, t.shape]));
  const sizes: Record<string, [number, number]> = {
    q_proj: [192, 192], k_proj: [192, 64], v_proj: [192, 64], o_proj: [192, 192], gate_proj: [192, 512], up_proj: [192, 512], down_proj: [512, 192],
  };
  const expected = new Map<string, number[]>();
  for (let layer = 0; layer < 4; layer++) {
    for (const m of PEFT_MODULES) {
      const [inF, outF] = sizes[m.split('.')[1]];
      expected.set(`base_model.model.model.layers.${layer}.${m}.lora_A.weight`, [8, inF]);
      expected.set(`base_model.model.model.layers.${layer}.${m}.lora_B.weight`, [outF, 8]);
    }
  }
  expect(shapes).toEqual(expected);

  // The run as a recipe for GPU machines: the method, options and settings it trained with, and the files to run it.
  const recipe = await downloadRecipeZip(page, testInfo);
  expect(recipe.fileName).toBe('austen-2m-lora-recipe.zip');
  expect(JSON.parse(new TextDecoder().decode(recipe.files['recipe.json']))).toMatchObject({
    method: 'lora',
    adapter_config: { peft_type: 'LORA', r: 8, lora_alpha: 16 },
    training: { learning_rate: 0.015, max_steps: 8, per_device_train_batch_size: 4, max_length: 48 },
  });
  for (const f of ['train.py', 'requirements.txt', 'README.md']) expect(recipe.files[f], f).toBeDefined();
  expect(Object.keys(recipe.files).filter((f) => /^accelerate\/[\w.-]+\.yaml$/.test(f))).toContain('accelerate/single_gpu.yaml');

  // The merged model: the base weights, read again from the embedded model's files, plus (alpha/r)·B·A.
  const merged = await downloadMergedZip(page, testInfo);
  expect(merged.fileName).toBe('austen-2m-lora-merged-f32.zip');
  expect(Object.keys(merged.files).sort()).toEqual(['config.json', 'generation_config.json', 'model.safetensors', 'tokenizer.json', 'tokenizer_config.json']);
  expect(JSON.parse(new TextDecoder().decode(merged.files['config.json']))).toMatchObject({ model_type: 'llama', hidden_size: 192, torch_dtype: 'float32' });
  const mergedSt = parseSafetensors(merged.files['model.safetensors'], 'model.safetensors');
  const baseSt = parseSafetensors(new Uint8Array(readFileSync(join(testInfo.config.rootDir, '..', 'public', 'models', 'austen-2m', 'model.safetensors'))), 'base');
  expect([...mergedSt.tensors.keys()].sort()).toEqual([...baseSt.tensors.keys()].sort());
  const q = 'model.layers.2.self_attn.q_proj';
  const [W0, W, A, B] = [tensorToFloat32(baseSt, `${q}.weight`), tensorToFloat32(mergedSt, `${q}.weight`), tensorToFloat32(st, `base_model.model.${q}.lora_A.weight`), tensorToFloat32(st, `base_model.model.${q}.lora_B.weight`)];
  let worst = 0;
  let moved = 0;
  for (let o = 0; o < 192; o++) {
    for (let i = 0; i < 192; i++) {
      let d = 0;
      for (let k = 0; k < 8; k++) d += B[o * 8 + k] * A[k * 192 + i];
      worst = Math.max(worst, Math.abs(W[o * 192 + i] - (W0[o * 192 + i] + 2 * d)));
      moved = Math.max(moved, Math.abs(2 * d));
    }
  }
  expect(worst, `largest |W − (W0 + 2·B·A)| in ${q}`).toBeLessThan(1e-6);
  expect(moved).toBeGreaterThan(1e-3);

  // The ONNX folder for transformers.js, with its q8 variant; then @xenova/transformers itself loads it in the page
  // and writes, greedily, what the deployed column writes greedily.
  await goStep(page, 'export');
  await page.getByTestId('export-onnx-q8').check();
  const onnx = await downloadOnnxZip(page, testInfo);
  expect(onnx.fileName).toBe('austen-2m-lora-onnx.zip');
  expect(Object.keys(onnx.files).sort()).toEqual([
    'config.json',
    'generation_config.json',
    'onnx/decoder_model_merged.onnx',
    'onnx/decoder_model_merged_quantized.onnx',
    'onnx/model.onnx',
    'onnx/model_quantized.onnx',
    'tokenizer.json',
    'tokenizer_config.json',
  ]);
  await goStep(page, 'compare');
  await page.getByTestId('compare-do-sample').uncheck();
  const greedy = await compareOnce(page);
  expect(greedy.deployed).toBe(greedy.adapted);
  await goStep(page, 'export');
  await page.getByTestId('export-transformers-js').click();
  await expect(page.getByTestId('export-transformers-js-text')).toHaveText(`Sir Thomas Bertram said, "${greedy.deployed}`, { timeout: 120_000 });
  await goStep(page, 'compare');
  await page.getByTestId('compare-do-sample').check();

  // Push the adapter to the (loopback) Hub: the repo is created, the files arrive, the panel links to the repo.
  const hub = await startHubServer({}, { writeToken: 'hf_write' });
  try {
    await goStep(page, 'export');
    await page.getByTestId('push-endpoint').fill(hub.endpoint);
    await page.getByTestId('push-repo').fill('me/austen-pirate-lora');
    await page.getByTestId('push-token').fill('hf_write');
    await page.getByTestId('push-start').click();
    await expect(page.getByTestId('push-url')).toHaveAttribute('href', `${hub.endpoint}/me/austen-pirate-lora`);
    expect(hub.commits).toHaveLength(1);
    expect(Object.fromEntries(hub.commits[0].files)).toEqual(files);
    // A token the Hub refuses: the error names the repo and the status.
    await page.getByTestId('push-token').fill('hf_read');
    await page.getByTestId('push-start').click();
    await expect(page.getByTestId('push-error')).toContainText('pushing to me/austen-pirate-lora: creating the repo failed with HTTP 403: the Hub refused the token');
    // The ONNX folder goes up as one commit too, onnx/ and all.
    await page.getByTestId('push-token').fill('hf_write');
    await page.getByTestId('push-repo').fill('me/austen-pirate-onnx');
    await page.getByTestId('push-what').selectOption('onnx');
    await page.getByTestId('push-start').click();
    await expect(page.getByTestId('push-url')).toHaveAttribute('href', `${hub.endpoint}/me/austen-pirate-onnx`, { timeout: 60_000 });
    expect(hub.commits).toHaveLength(2);
    expect(Object.fromEntries(hub.commits[1].files)).toEqual(onnx.files);
  } finally {
    await hub.close();
  }

  // Re-import the downloaded zip: the adapted output is the same.
  await importAdapter(page, zipPath);
  expect(await compareOnce(page)).toEqual({ base, adapted, deployed });
  expect(pageErrors).toEqual([]);
});

test('a model from a loopback Hub loads through the Model panel, with progress per file', async ({ page }, testInfo) => {
  const hub = await startHubServer({ 'peft-studio/tiny-llama': { files: makeTinyModel('llama') } });
  try {
    await openWithDefaultModel(page);
    await goStep(page, 'model');
    await page.getByTestId('model-source-hub').check();
    await page.getByTestId('hub-repo').fill('peft-studio/tiny-llama');
    await page.getByTestId('hub-endpoint').fill(hub.endpoint);
    await page.getByTestId('model-format').selectOption('nf4');
    await page.getByTestId('model-load').click();
    await expect(page.getByTestId('model-status')).toHaveAttribute('data-state', 'ready');
    await expect(page.getByTestId('model-name')).toHaveText('peft-studio/tiny-llama');
    await expect(page.getByTestId('model-memory')).toContainText('nf4');
    const paths = hub.requests.filter((r) => r.method === 'GET').map((r) => r.path);
    expect(paths).toContain('/peft-studio/tiny-llama/resolve/main/model.safetensors');
    await page.getByTestId('panel-model').screenshot({ path: testInfo.outputPath('hub-model.png') });
  } finally {
    await hub.close();
  }
});

test('a bad dataset and a corrupted checkpoint each show their error, and the studio keeps working', async ({ page }, testInfo) => {
  await openWithDefaultModel(page);
  // A dataset with a broken third line.
  await goStep(page, 'data');
  await page.getByTestId('data-source-file').check();
  await page.getByTestId('data-file').setInputFiles({
    name: 'broken.jsonl',
    mimeType: 'application/json',
    buffer: Buffer.from('{"text": "one"}\n{"text": "two"}\n{"text": oops}\n{"text": "four"}\n'),
  });
  await expect(page.getByTestId('data-problems')).toContainText('line 3: invalid JSON at column 10');
  await expect(page.getByTestId('data-records')).toHaveText('3');
  // The length histogram has a y axis, topped by the tallest bar's count: the three records have three lengths.
  await expect(page.getByTestId('data-histogram-top')).toHaveText('1');
  // Start waits for a choice, says why, and the choice is next to the list, in the option's one wording.
  await expect(page.getByTestId('train-start')).toBeDisabled();
  await expect(page.getByTestId('train-start-why')).toHaveText('The data has 1 bad record: fix it, or tick "Skip bad records" in the Data step.');
  // The Data tab says it needs attention; the bar above every step counts the bad record.
  await expect(page.getByTestId('step-data')).toHaveAttribute('data-mark', 'attention');
  await expect(page.getByTestId('bar-data')).toContainText('broken.jsonl · 3 records · 1 bad');
  await expect(page.getByTestId('data-problems').getByLabel('Skip bad records')).not.toBeChecked();
  await page.getByTestId('panel-data').screenshot({ path: testInfo.outputPath('bad-data.png') });
  await page.getByTestId('data-skip-bad').check();
  await expect(page.getByTestId('train-start')).toBeEnabled();
  await expect(page.getByTestId('train-start-why')).toHaveCount(0);

  // A model whose safetensors file is cut short.
  await goStep(page, 'model');
  const tiny = makeTinyModel('gpt2');
  const weights = tiny.get('model.safetensors')!;
  const modelFiles = [...tiny].map(([name, bytes]) => ({
    name,
    mimeType: 'application/octet-stream',
    buffer: Buffer.from(name === 'model.safetensors' ? weights.subarray(0, weights.byteLength - 100) : bytes),
  }));
  await page.getByTestId('model-source-files').check();
  await page.getByTestId('model-files').setInputFiles(modelFiles);
  await page.getByTestId('model-load').click();
  await expect(page.getByTestId('model-status')).toHaveAttribute('data-state', 'error');
  await expect(page.getByTestId('model-error')).toContainText('model.safetensors');
  await page.getByTestId('panel-model').screenshot({ path: testInfo.outputPath('bad-model.png') });

  // Still working: the embedded model loads again and a sample dataset tokenizes.
  await page.getByTestId('model-source-default').check();
  await page.getByTestId('model-load').click();
  await expect(page.getByTestId('model-status')).toHaveAttribute('data-state', 'ready');
  await goStep(page, 'data');
  await page.getByTestId('data-source-sample').check();
  await page.getByTestId('sample-butler').check();
  await expect(page.getByTestId('data-status')).toHaveAttribute('data-state', 'ready');
  await expect(page.getByTestId('data-records')).toHaveText('160');
});

test('a reload in the middle of training resumes from the checkpoint', async ({ page }) => {
  await openWithDefaultModel(page);
  await setShortRun(page, 5, 2);
  await goStep(page, 'train');
  await page.getByTestId('train-start').click();
  // Wait for the checkpoint of step 2, then a step beyond it, and reload.
  await expect(page.getByTestId('train-log')).toContainText('checkpoint', { timeout: 200_000 });
  await expect(page.getByTestId('train-step')).toHaveText(/^3 \/ 5/, { timeout: 200_000 });
  await page.reload();

  await expect(page.getByTestId('train-resume-offer')).toBeVisible();
  // One way to resume (the offer), and the chart keeps the run's history up to its checkpoint.
  await expect(page.getByTestId('train-resume')).toHaveCount(0);
  await expect(page.getByTestId('train-chart')).toHaveAttribute('data-points', '2');
  await expect(page.getByTestId('train-chart')).toContainText('at step 2');
  await expect(page.getByTestId('model-status')).toHaveAttribute('data-state', 'ready');
  await page.getByTestId('train-resume-last').click();
  await expect(page.getByTestId('train-log')).toContainText('resuming from step 2', { timeout: 200_000 });
  await expectRunDone(page);
  await expect(page.getByTestId('train-step')).toHaveText(/5 \/ 5/);
});
