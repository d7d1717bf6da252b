/**
 * The Model step's memory plan: a Hub repo id is enough — the page reads config.json alone (a HEAD and a GET to the
 * loopback Hub), and shows, before any weight is requested, every weight format's weights, adapter + AdamW,
 * activations and peak without and with gradient checkpointing, as the engine's fitTable computes them, and labels
 * the current settings; gradient checkpointing (its "makes it fit" button, the Method step's checkbox) and the
 * weight format change the label; a missing config.json is named in the plan's error and does not block loading.
 */
import { expect, test, type Page } from '@playwright/test';
import { fitTable } from '../src/engine/memory-fit';
import type { BufferLimits } from '../src/engine/memory-plan';
import { planMethodOf } from '../src/methods/plan-method';
import { parseModelConfig } from '../src/model/config';
import { presetConfigJson } from '../src/model/presets';
import { LORA_DEFAULTS } from '../src/options/lora-fields';
import { DEFAULT_LORA_TARGET_MODULES } from '../src/peft/lora-config';
import { formatBytes } from '../src/ui/format';
import { startHubServer } from '../tests/helpers/hub-server';
import { goStep, openWithDefaultModel } from './studio-helpers';

const REPO = 'HuggingFaceTB/SmolLM2-135M';

/** The engine's own table (memory-fit.ts, GPU-free) for the Method step's defaults: LoRA on PEFT's default targets. */
function expectedTable(input: { configJson: unknown; batch: number; seqLen: number; limits: BufferLimits; budget: number }) {
  const config = parseModelConfig(input.configJson);
  const options = { ...LORA_DEFAULTS, target_modules: [...DEFAULT_LORA_TARGET_MODULES[config.modelType]] };
  const method = planMethodOf('lora', options, config, { nameOrPath: REPO, revision: 'main' });
  const table = fitTable({ config, batch: input.batch, seqLen: input.seqLen, method, limits: input.limits }, input.budget);
  const part = (a: (typeof table)[number]['plain']) => ({ weights: a.plan.weights, adapter: a.plan.adapter, activations: a.plan.activations, peak: a.plan.peak, label: a.label });
  return table.map((r) => ({ format: r.format, plain: part(r.plain), checkpointed: part(r.checkpointed) }));
}

async function expectCurrent(page: Page, label: string, peak: number): Promise<void> {
  await expect(page.getByTestId('memory-fit-label')).toHaveAttribute('data-label', label);
  await expect(page.getByTestId('memory-current-peak')).toHaveAttribute('data-bytes', String(peak));
}

test('the memory plan of a Hub model shows from config.json alone, before any weight is requested', async ({ page }, testInfo) => {
  const configJson = presetConfigJson('smollm2-135m');
  // A weight file the page must not ask for: the plan needs config.json only.
  const files = new Map<string, Uint8Array>([
    ['config.json', new TextEncoder().encode(JSON.stringify(configJson, null, 2))],
    ['model.safetensors', new Uint8Array(64)],
  ]);
  const hub = await startHubServer({ [REPO]: { files } });
  try {
    await openWithDefaultModel(page);
    await goStep(page, 'model');
    const plan = page.getByTestId('memory-plan');
    // The embedded default has its plan too.
    await expect(plan).toHaveAttribute('data-state', 'ready');
    await expect(page.getByTestId('memory-row-f32')).toBeVisible();

    const requested: string[] = [];
    page.on('request', (r) => requested.push(r.url()));
    await page.getByTestId('model-source-hub').check();
    await page.getByTestId('hub-endpoint').fill(hub.endpoint);
    await page.getByTestId('hub-repo').fill(REPO);
    await expect(plan).toHaveAttribute('data-state', 'ready');
    await expect(page.getByTestId('memory-fit-label')).toBeVisible();
    // One request, for config.json; no weight file.
    // config.json and nothing else: whether it is there (HEAD), then the file (GET), as the loader reads it.
    expect(hub.requests.map((r) => `${r.method} ${r.path}`)).toEqual([`HEAD /${REPO}/resolve/main/config.json`, `GET /${REPO}/resolve/main/config.json`]);
    expect(requested.filter((u) => u.endsWith('.safetensors'))).toEqual([]);
    await expect(page.getByTestId('model-status')).toHaveAttribute('data-state', 'ready'); // still the embedded model

    // The numbers are fitTable's, at the Method step's batch size and sequence length, on the limits the page shows.
    const limitsNote = page.getByTestId('memory-limits');
    await expect(limitsNote).toHaveAttribute('data-source', 'device');
    const limits = {
      maxStorageBufferBindingSize: Number(await limitsNote.getAttribute('data-max-binding')),
      maxBufferSize: Number(await limitsNote.getAttribute('data-max-buffer')),
    };
    const batch = Number(await page.getByTestId('method-batch').inputValue());
    const seqLen = Number(await page.getByTestId('method-seq').inputValue());
    expect([batch, seqLen]).toEqual([8, 256]);
    const rows = expectedTable({ configJson, batch, seqLen, limits, budget: 2 * 2 ** 30 });
    expect(rows.map((r) => r.format)).toEqual(['f32', 'q8', 'q4', 'nf4']);
    for (const { format, plain, checkpointed } of rows) {
      // Weights and the adapter do not depend on checkpointing: one cell each.
      expect([checkpointed.weights, checkpointed.adapter]).toEqual([plain.weights, plain.adapter]);
      await expect(page.getByTestId(`memory-weights-${format}`)).toHaveText(formatBytes(plain.weights));
      await expect(page.getByTestId(`memory-adapter-${format}`)).toHaveText(formatBytes(plain.adapter));
      for (const [which, part] of [['plain', plain], ['checkpointed', checkpointed]] as const) {
        await expect(page.getByTestId(`memory-activations-${format}-${which}`)).toHaveText(formatBytes(part.activations));
        const peak = page.getByTestId(`memory-peak-${format}-${which}`);
        await expect(peak).toContainText(formatBytes(part.peak));
        await expect(peak).toHaveAttribute('data-bytes', String(part.peak));
        await expect(peak).toHaveAttribute('data-label', part.label);
      }
    }

    // f32 (the default) without checkpointing is tight on a 2 GiB budget; checkpointing makes it fit.
    const f32 = rows.find((r) => r.format === 'f32')!;
    const nf4 = rows.find((r) => r.format === 'nf4')!;
    expect([f32.plain.label, f32.checkpointed.label]).toEqual(['tight', 'fits']);
    await expectCurrent(page, 'tight', f32.plain.peak);
    await expect(page.getByTestId('memory-row-f32')).toHaveAttribute('data-current', 'true');
    for (const lang of ['zh', 'en'] as const) {
      await page.getByTestId(`lang-${lang}`).click();
      await page.getByTestId('panel-model').screenshot({ path: testInfo.outputPath(`memory-plan-${lang}.png`) });
    }
    await page.getByTestId('memory-change-gradient-checkpointing-true').click();
    await expectCurrent(page, 'fits', f32.checkpointed.peak);
    await expect(page.getByTestId('memory-changes')).toHaveCount(0);
    // The button ticked the Method step's checkbox; unticking it there takes the plan back.
    await goStep(page, 'method');
    const checkbox = page.getByTestId('method-gradient-checkpointing');
    await expect(checkbox).toBeChecked();
    await checkbox.uncheck();
    await goStep(page, 'model');
    await expectCurrent(page, 'tight', f32.plain.peak);
    // nf4 weights: the nf4 row is the current one.
    await page.getByTestId('model-format').selectOption('nf4');
    await expectCurrent(page, nf4.plain.label, nf4.plain.peak);
    await expect(page.getByTestId('memory-row-nf4')).toHaveAttribute('data-current', 'true');
    // A budget below the peak: won't fit, and the problem says why.
    await page.getByTestId('memory-budget').fill('0.25');
    await expect(page.getByTestId('memory-fit-label')).toHaveAttribute('data-label', 'wont-fit');
    await expect(page.getByTestId('memory-problems')).toContainText(`the peak, ${formatBytes(nf4.plain.peak)}, is over the memory budget of 256 MiB`);
    await page.getByTestId('memory-budget').fill('2');
    await expectCurrent(page, nf4.plain.label, nf4.plain.peak);

    // Still no weight requested: everything above came from config.json.
    expect([...new Set(hub.requests.map((r) => r.path))]).toEqual([`/${REPO}/resolve/main/config.json`]);
    expect(requested.filter((u) => u.endsWith('.safetensors'))).toEqual([]);

    // A repo without config.json: the plan says which file, and loading is not blocked.
    await page.getByTestId('hub-repo').fill('peft-studio/no-such-model');
    await expect(plan).toHaveAttribute('data-state', 'error');
    await expect(page.getByTestId('memory-plan-error')).toContainText('config.json not found');
    await expect(page.getByTestId('model-load')).toBeEnabled();
  } finally {
    await hub.close();
  }
});
