/**
 * The Model step's memory plan from the page's state (src/ui/stores/memory-plan.ts) and the Model store's reading of
 * config.json alone: the limits it plans against, LoRA's module list before a model of that type loaded, the table
 * and current assessment as fitTable gives them, the problems in words of the UI, and config.json read from the
 * chosen files (its errors naming the file, a stale read never winning).
 */
import { beforeEach, describe, expect, it } from 'vitest';
import { assessFit, fitTable } from '../src/engine/memory-fit';
import { DEFAULT_MEMORY_BUDGET, WEBGPU_DEFAULT_LIMITS } from '../src/engine/memory-plan';
import type { AdapterReport } from '../src/gpu/device';
import { planMethodOf } from '../src/methods/plan-method';
import { presetConfigJson, presetModelConfig } from '../src/model/presets';
import { ALL_LINEAR, DEFAULT_LORA_TARGET_MODULES } from '../src/peft/lora-config';
import { memoryPlanView, planLimits, planMethodFor, type MemoryPlanInputs } from '../src/ui/stores/memory-plan';
import { DEFAULT_LORA_FIELDS, defaultOtherOptions, type MethodChoice } from '../src/ui/stores/method';
import { useModel } from '../src/ui/stores/model';

const smol = presetModelConfig('smollm2-135m');
const base = { nameOrPath: 'HuggingFaceTB/SmolLM2-135M', revision: 'main' };
const lora: MethodChoice = { ...DEFAULT_LORA_FIELDS, methodId: 'lora', otherOptions: defaultOtherOptions() };
const loraOnLlama = { ...DEFAULT_LORA_FIELDS, target_modules: [...DEFAULT_LORA_TARGET_MODULES.llama] };

function inputs(over: Partial<MemoryPlanInputs> = {}): MemoryPlanInputs {
  return {
    config: smol,
    base,
    choice: lora,
    storeModelType: null,
    batch: 8,
    seqLen: 256,
    format: 'f32',
    gradientCheckpointing: false,
    limits: WEBGPU_DEFAULT_LIMITS,
    budget: DEFAULT_MEMORY_BUDGET,
    ...over,
  };
}

describe('the plan from the page state', () => {
  it("plans against the worker's GPU, else the page's, else WebGPU's defaults", () => {
    const report = (binding: number) => ({ limits: { maxStorageBufferBindingSize: binding, maxBufferSize: 2 * binding } }) as AdapterReport;
    expect(planLimits([null, null])).toEqual({ limits: WEBGPU_DEFAULT_LIMITS, fromDevice: false });
    expect(planLimits([null, report(5)])).toEqual({ limits: { maxStorageBufferBindingSize: 5, maxBufferSize: 10 }, fromDevice: true });
    expect(planLimits([report(7), report(5)]).limits.maxStorageBufferBindingSize).toBe(7);
  });

  it("plans LoRA on PEFT's default modules for the model type until a model of that type loaded; all-linear stays", () => {
    const expected = planMethodOf('lora', loraOnLlama, smol, base);
    expect(planMethodFor(lora, null, smol, base)).toEqual(expected);
    expect(planMethodFor({ ...lora, target_modules: ['q_proj'] }, 'gpt2', smol, base)).toEqual(expected);
    // Chosen for this model type: the choice as it is.
    expect(planMethodFor({ ...lora, target_modules: ['q_proj'] }, 'llama', smol, base)).toEqual(planMethodOf('lora', { ...loraOnLlama, target_modules: ['q_proj'] }, smol, base));
    expect(planMethodFor({ ...lora, target_modules: ALL_LINEAR }, null, smol, base)).toEqual(planMethodOf('lora', { ...loraOnLlama, target_modules: ALL_LINEAR }, smol, base));
  });

  it("shows fitTable's rows and the current format and checkpointing's assessment", () => {
    const view = memoryPlanView(inputs({ format: 'nf4', gradientCheckpointing: true }));
    if (!view.ok) throw new Error(`no plan: ${view.reason}`);
    const method = planMethodOf('lora', loraOnLlama, smol, base);
    const table = fitTable({ config: smol, batch: 8, seqLen: 256, method, limits: WEBGPU_DEFAULT_LIMITS });
    expect(view.table).toEqual(table);
    expect(view.current).toEqual(table.find((r) => r.format === 'nf4')!.checkpointed);
    expect(memoryPlanView(inputs()).ok && (memoryPlanView(inputs()) as { current: unknown }).current).toEqual(table[0].plain);
  });

  it('says why there is no plan: settings that are not whole numbers, or options the method refuses', () => {
    expect(memoryPlanView(inputs({ batch: Number.NaN }))).toEqual({ ok: false, reason: 'settings' });
    expect(memoryPlanView(inputs({ seqLen: 0 }))).toEqual({ ok: false, reason: 'settings' });
    expect(memoryPlanView(inputs({ budget: 0 }))).toEqual({ ok: false, reason: 'settings' });
    const bad = memoryPlanView(inputs({ choice: { ...lora, target_modules: ['no_such_proj'] }, storeModelType: 'llama' }));
    expect(bad.ok).toBe(false);
    expect(bad.ok === false && bad.reason === 'method' && bad.message).toMatch(/no_such_proj|target/);
  });

  it('gives every problem memory-fit lists as data: a buffer over the binding limit, the peak over the budget', () => {
    const config = presetModelConfig('smollm2-360m');
    const method = planMethodOf('lora', loraOnLlama, config, base);
    const a = assessFit({ config, batch: 8, seqLen: 256, method, format: 'f32', gradientCheckpointing: false, limits: WEBGPU_DEFAULT_LIMITS });
    expect(a.label).toBe('wont-fit');
    expect(a.problems.map((p) => p.kind)).toEqual(['buffer', 'budget']);
    expect(a.problems[0]).toMatchObject({ limitName: 'maxStorageBufferBindingSize', limit: 128 * 2 ** 20, buffer: { kind: 'embedding', shape: [49152, 960], bytes: 4 * 49152 * 960 } });
    expect(a.problems[1]).toEqual({ kind: 'budget', peak: a.plan.peak, budget: DEFAULT_MEMORY_BUDGET });
  });
});

describe("the Model store's config.json", () => {
  const initial = useModel.getState();
  beforeEach(() => useModel.setState(initial, true));

  const settled = async () => {
    for (let i = 0; i < 100 && useModel.getState().planConfig.state === 'reading'; i++) await new Promise((r) => setTimeout(r, 5));
    return useModel.getState().planConfig;
  };
  const file = (name: string, text: string) => new File([text], name);

  it('reads config.json alone from the chosen files', async () => {
    const s = useModel.getState();
    s.setSourceKind('files');
    s.readPlanConfig();
    expect(useModel.getState().planConfig).toEqual({ state: 'none' });
    s.setFiles([file('config.json', JSON.stringify(presetConfigJson('smollm2-135m'))), file('model.safetensors', 'not read')]);
    s.readPlanConfig();
    const read = await settled();
    expect(read.state === 'ready' && read.config).toEqual(smol);
    expect(read.state === 'ready' && read.base).toEqual({ nameOrPath: 'local-model', revision: null });
  });

  it('names the file when config.json is missing or broken', async () => {
    const s = useModel.getState();
    s.setSourceKind('files');
    s.setFiles([file('model.safetensors', '')]);
    s.readPlanConfig();
    const missing = await settled();
    expect(missing.state === 'error' && missing.message).toMatch(/config\.json not found/);
    s.setFiles([file('config.json', '{"model_type": ')]);
    s.readPlanConfig();
    const broken = await settled();
    expect(broken.state === 'error' && broken.message).toMatch(/config\.json is not valid JSON/);
    s.setFiles([file('config.json', '{"model_type": "bert"}')]);
    s.readPlanConfig();
    const unsupported = await settled();
    expect(unsupported.state === 'error' && unsupported.message).toMatch(/config\.json: model_type "bert" is not supported/);
  });

  it('keeps the latest choice: a slower read of an earlier one does not replace it', async () => {
    const s = useModel.getState();
    s.setSourceKind('files');
    s.setFiles([file('config.json', JSON.stringify(presetConfigJson('smollm2-135m')))]);
    s.readPlanConfig();
    s.setFiles([file('config.json', JSON.stringify(presetConfigJson('smollm2-360m')))]);
    s.readPlanConfig();
    const read = await settled();
    expect(read.state === 'ready' && read.config.hiddenSize).toBe(960);
    await new Promise((r) => setTimeout(r, 20));
    const later = useModel.getState().planConfig;
    expect(later.state === 'ready' && later.config.hiddenSize).toBe(960);
  });

  it('remembers the memory budget', () => {
    expect(useModel.getState().memoryBudget).toBe(DEFAULT_MEMORY_BUDGET);
    useModel.getState().setMemoryBudget(0);
    expect(useModel.getState().memoryBudget).toBe(DEFAULT_MEMORY_BUDGET);
    useModel.getState().setMemoryBudget(3 * 2 ** 30);
    expect(useModel.getState().memoryBudget).toBe(3 * 2 ** 30);
  });
});
