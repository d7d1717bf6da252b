/**
 * Training end to end on tiny models of each architecture, on a small synthetic task (short prompts mapped to
 * fixed completions): the loss falls, the adapted model generates the trained completions where the base model
 * does not, the exported adapter has PEFT's names and shapes and re-imports to identical logits, and a run
 * resumed from a checkpoint repeats the losses of an uninterrupted run.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { generate } from '../src/engine/generate';
import { GpuModel } from '../src/engine/gpu-model';
import { GpuLoraSet, loraModuleInits } from '../src/methods/lora/gpu';
import { forwardLogits } from '../src/engine/training-pass';
import { tokenizeRecords } from '../src/data/tokenize';
import type { DataRecord } from '../src/data/records';
import { loadModel, type LoadedModel } from '../src/model-io/load-model';
import { BrowserFilesSource } from '../src/model-io/model-source';
import { parseSafetensors } from '../src/model-io/safetensors';
import { makeTinyModel } from './fixtures/tiny-models';
import { loadTokenizer, type TextTokenizer } from '../src/model-io/tokenizer';
import { exportLoraAdapter, importLoraAdapter } from '../src/peft/adapter-files';
import { initLoraWeights } from '../src/peft/lora-init';
import { makeLoraConfig, type LoraConfig } from '../src/peft/lora-config';
import { resolveLoraTargets, type ResolvedTarget } from '../src/peft/lora-targets';
import type { CheckpointStore } from '../src/trainer/checkpoint';
import { appliesWeightDecay, DEFAULT_TRAINING, loraplusGroupB, Trainer, type TrainerEvent, type TrainingSettings } from '../src/trainer/trainer';
import { PipelineCache } from '../src/gpu/pipeline-cache';
import { expectClose } from './helpers/compare';
import { useGpu } from './helpers/gpu';
import { MemoryCheckpointStore } from './helpers/memory-checkpoint-store';

const ctx = useGpu();
/** 40 training steps of a tiny model take about 100 s on SwiftShader while other test files share the two cores. */
const HEAVY_TIMEOUT_MS = 300_000;

const TASK: [string, string][] = [
  ['cat says', ' meow'],
  ['dog says', ' woof'],
  ['cow says', ' moo'],
  ['owl says', ' hoot'],
  ['duck says', ' quack'],
  ['bee says', ' buzz'],
];
const records: DataRecord[] = TASK.map(([prompt, completion], i) => ({ kind: 'prompt-completion', prompt, completion, line: i + 1 }));


interface Setup {
  loaded: LoadedModel;
  tokenizer: TextTokenizer;
  config: LoraConfig;
  targets: ResolvedTarget[];
}

const setups = new Map<string, Setup>();
const KINDS = ['gpt2', 'llama', 'qwen2'] as const;

beforeAll(async () => {
  for (const kind of KINDS) {
    const files = [...makeTinyModel(kind)].map(([name, bytes]) => new File([bytes as Uint8Array<ArrayBuffer>], name));
    const loaded = await loadModel(new BrowserFilesSource(files));
    const tokenizer = loadTokenizer(loaded.tokenizerJson, loaded.tokenizerConfig);
    const config = makeLoraConfig({ r: 8, lora_alpha: 16, target_modules: 'all-linear' }, loaded.config, { nameOrPath: `tiny-${kind}` });
    setups.set(kind, { loaded, tokenizer, config, targets: resolveLoraTargets(config, loaded.config) });
  }
});

const SETTINGS: TrainingSettings = { ...DEFAULT_TRAINING, lr: 1e-2, schedule: 'constant', maxSteps: 40, batchSize: 6, seed: 7 };

function newLora(s: Setup, model: GpuModel, seed: number): GpuLoraSet {
  const init = initLoraWeights(s.targets, s.config.init_lora_weights, seed);
  return GpuLoraSet.create(ctx.gpu, model, loraModuleInits(s.config, s.targets, init, s.loaded.weights));
}

async function greedy(s: Setup, model: GpuModel, lora: GpuLoraSet | null, prompt: string, adapterScale = 1): Promise<string> {
  const r = await generate(ctx.gpu, model, lora, s.tokenizer.encode(prompt), { maxNewTokens: 8, adapterScale });
  return s.tokenizer.decode(r.tokens, { skipSpecialTokens: true });
}

describe.each(KINDS)('%s', (kind) => {
  it('learns the task: loss falls by half, generations change to the trained completions, export → import is exact', async () => {
    const s = setups.get(kind)!;
    const { examples } = tokenizeRecords(records, s.tokenizer, { maxLength: 32 });
    const model = GpuModel.upload(ctx.gpu, s.loaded.config, s.loaded.weights, 'q8');
    const lora = newLora(s, model, 1);
    const trainer = new Trainer(ctx.gpu, model, lora, examples, [], SETTINGS, s.tokenizer.padTokenId ?? 0);
    try {
      const log = await trainer.run();
      expect(log).toHaveLength(SETTINGS.maxSteps);
      const first = log[0].loss;
      const last = log.at(-1)!.loss;
      expect(last).toBeLessThan(0.5 * first);

      for (const [prompt, completion] of TASK) {
        const adapted = await greedy(s, model, lora, prompt);
        expect(adapted.startsWith(completion), `${kind}: "${prompt}" → "${adapted}"`).toBe(true);
      }
      const baseRight = (await Promise.all(TASK.map(async ([p, c]) => (await greedy(s, model, lora, p, 0)).startsWith(c)))).filter(Boolean);
      expect(baseRight.length).toBe(0);

      // Export, check PEFT's names and shapes, re-import, compare logits.
      const files = exportLoraAdapter({ config: s.config, weights: await lora.readWeights(), model: s.loaded.config, targets: s.targets });
      const st = parseSafetensors(files.get('adapter_model.safetensors')!, 'adapter_model.safetensors');
      const expected = new Map<string, number[]>();
      const c = s.loaded.config;
      for (let i = 0; i < c.numLayers; i++) {
        const mods: [string, number, number][] =
          kind === 'gpt2'
            ? [[`transformer.h.${i}.attn.c_attn`, c.hiddenSize, 3 * c.hiddenSize], [`transformer.h.${i}.attn.c_proj`, c.hiddenSize, c.hiddenSize],
               [`transformer.h.${i}.mlp.c_fc`, c.hiddenSize, c.intermediateSize], [`transformer.h.${i}.mlp.c_proj`, c.intermediateSize, c.hiddenSize]]
            : [[`model.layers.${i}.self_attn.q_proj`, c.hiddenSize, c.numHeads * c.headDim], [`model.layers.${i}.self_attn.k_proj`, c.hiddenSize, c.numKvHeads * c.headDim],
               [`model.layers.${i}.self_attn.v_proj`, c.hiddenSize, c.numKvHeads * c.headDim], [`model.layers.${i}.self_attn.o_proj`, c.numHeads * c.headDim, c.hiddenSize],
               [`model.layers.${i}.mlp.gate_proj`, c.hiddenSize, c.intermediateSize], [`model.layers.${i}.mlp.up_proj`, c.hiddenSize, c.intermediateSize],
               [`model.layers.${i}.mlp.down_proj`, c.intermediateSize, c.hiddenSize]];
        for (const [path, inF, outF] of mods) {
          expected.set(`base_model.model.${path}.lora_A.weight`, [8, inF]);
          expected.set(`base_model.model.${path}.lora_B.weight`, [outF, 8]);
        }
      }
      expect(new Map([...st.tensors].map(([k, t]) => [k, t.shape]))).toEqual(expected);
      expect(st.metadata).toEqual({ format: 'pt' });

      const imported = importLoraAdapter(files, s.loaded.config);
      const lora2 = GpuLoraSet.create(ctx.gpu, model, loraModuleInits(imported.config, imported.targets, imported.weights, s.loaded.weights, { dropout: false }));
      const batch = { inputIds: [s.tokenizer.encode('cat says meow')] };
      expect(Array.from(await forwardLogits(ctx.gpu, model, lora2, batch))).toEqual(Array.from(await forwardLogits(ctx.gpu, model, lora, batch)));
      lora2.destroy();
    } finally {
      trainer.destroy();
      lora.destroy();
      model.destroy();
    }
  }, HEAVY_TIMEOUT_MS);

  it('a run resumed from a checkpoint repeats the losses of an uninterrupted run', async () => {
    const s = setups.get(kind)!;
    const { examples } = tokenizeRecords(records, s.tokenizer, { maxLength: 32 });
    // Dropout, gradient accumulation, two micro-batches per step and several epochs make the state non-trivial.
    const settings: TrainingSettings = { ...SETTINGS, maxSteps: 8, batchSize: 2, gradAccum: 2, checkpointEvery: 4, schedule: 'cosine', warmupSteps: 2, evalEvery: 3 };
    const config = { ...s.config, lora_dropout: 0.1 };
    const model = GpuModel.upload(ctx.gpu, s.loaded.config, s.loaded.weights, 'f32');
    const run = async (store: CheckpointStore, stopAt: number | null, resume: boolean) => {
      const lora = newLora({ ...s, config }, model, 3);
      const trainer = new Trainer(ctx.gpu, model, lora, examples.slice(0, 4), examples.slice(4), settings, s.tokenizer.padTokenId ?? 0, store);
      try {
        const from = resume ? await trainer.restore() : null;
        await trainer.run((e) => {
          if (e.kind === 'step' && e.log.step === stopAt) trainer.stop();
        }, from);
        return trainer.log.map((l) => [l.loss, l.val_loss]);
      } finally {
        trainer.destroy();
        lora.destroy();
      }
    };
    try {
      const straight = await run(new MemoryCheckpointStore(), null, false);
      const store = new MemoryCheckpointStore();
      const firstHalf = await run(store, 6, false); // stops after step 6; the checkpoint is from step 4
      expect(firstHalf).toHaveLength(6);
      const resumed = await run(store, null, true);
      expect(resumed).toHaveLength(8);
      expect(resumed).toEqual(straight);
      // Validation ran every 3 steps and at the end.
      expect(straight.map(([, v]) => v !== null)).toEqual([false, false, true, false, false, true, false, true]);
    } finally {
      model.destroy();
    }
  }, HEAVY_TIMEOUT_MS);
});

describe.each([
  ['gpt2', 'f32'],
  ['llama', 'nf4'],
  ['qwen2', 'q8'],
] as const)('%s, W0 in %s: both kernel profiles', (kind, format) => {
  it("'tiled' and 'direct' kernels train the same adapter: equal losses step by step, and the loss falls", async () => {
    const s = setups.get(kind)!;
    const { examples } = tokenizeRecords(records, s.tokenizer, { maxLength: 32 });
    const model = GpuModel.upload(ctx.gpu, s.loaded.config, s.loaded.weights, format);
    const before = ctx.gpu.kernels;
    const settings: TrainingSettings = { ...SETTINGS, maxSteps: 4, batchSize: 3, gradAccum: 2, lr: 2e-2 };
    const run = async (kernels: 'tiled' | 'direct') => {
      ctx.gpu.kernels = kernels;
      const lora = newLora({ ...s, config: { ...s.config, lora_dropout: 0.1 } }, model, 11);
      const trainer = new Trainer(ctx.gpu, model, lora, examples, [], settings, s.tokenizer.padTokenId ?? 0);
      try {
        const log = await trainer.run();
        return { losses: log.map((l) => l.loss), weights: await lora.readWeights() };
      } finally {
        trainer.destroy();
        lora.destroy();
      }
    };
    try {
      const tiled = await run('tiled');
      const direct = await run('direct');
      expect(tiled.losses).toHaveLength(4);
      tiled.losses.forEach((l, i) => expect(Math.abs(l - direct.losses[i]), `${kind} step ${i + 1}: ${l} vs ${direct.losses[i]}`).toBeLessThan(2e-4 * Math.abs(l)));
      expect(tiled.losses[3]).toBeLessThan(tiled.losses[0]);
      for (const [path, w] of tiled.weights) {
        expectClose(`${path} A`, w.a, direct.weights.get(path)!.a, { atol: 1e-5, rtol: 2e-3 });
        expectClose(`${path} B`, w.b, direct.weights.get(path)!.b, { atol: 1e-5, rtol: 2e-3 });
      }
    } finally {
      ctx.gpu.kernels = before;
      model.destroy();
    }
  }, HEAVY_TIMEOUT_MS);
});

describe('divergence guard', () => {
  it('stops with a clear error before updating the adapter when the loss is not finite', async () => {
    const s = setups.get('llama')!;
    const { examples } = tokenizeRecords(records, s.tokenizer, { maxLength: 32 });
    const model = GpuModel.upload(ctx.gpu, s.loaded.config, s.loaded.weights, 'f32');
    const lora = newLora(s, model, 5);
    const first = lora.get(s.targets[0].path)!;
    // An infinite entry in one B makes the forward produce a non-finite loss.
    const b = new Float32Array(first.b.shape[0] * first.b.shape[1]);
    b[0] = Infinity;
    ctx.gpu.device.queue.writeBuffer(first.b.buffer, 0, b);
    const before = await lora.readWeights();
    const trainer = new Trainer(ctx.gpu, model, lora, examples, [], SETTINGS, s.tokenizer.padTokenId ?? 0);
    try {
      await expect(trainer.run()).rejects.toThrow(/training diverged at step 1: loss (NaN|Infinity).*The adapter from the previous step is kept/);
      expect(trainer.step).toBe(0);
      const after = await lora.readWeights();
      for (const [path, w] of before) {
        expect(Array.from(after.get(path)!.a)).toEqual(Array.from(w.a));
        expect(Array.from(after.get(path)!.b)).toEqual(Array.from(w.b));
      }
    } finally {
      trainer.destroy();
      lora.destroy();
      model.destroy();
    }
  });
});

describe("the first step's shader compiles", () => {
  it('are reported as they happen and counted; a second run on the same device compiles none and uses as many', async () => {
    const s = setups.get('gpt2')!;
    const { examples } = tokenizeRecords(records, s.tokenizer, { maxLength: 32 });
    // A cache of its own: every pipeline the step uses is compiled in this test.
    const gpu = { ...ctx.gpu, pipelines: new PipelineCache(ctx.gpu.device) };
    const model = GpuModel.upload(gpu, s.loaded.config, s.loaded.weights, 'f32');
    const run = async () => {
      const lora = newLora(s, model, 5);
      const trainer = new Trainer(gpu, model, lora, examples, [], { ...SETTINGS, maxSteps: 2, batchSize: 3 }, s.tokenizer.padTokenId ?? 0);
      const events: TrainerEvent[] = [];
      try {
        await trainer.run((e) => {
          events.push(e);
        });
        return events;
      } finally {
        trainer.destroy();
        lora.destroy();
      }
    };
    try {
      const first = await run();
      const compiling = first.filter((e) => e.kind === 'compiling');
      const stepsOf = (events: TrainerEvent[]) => events.filter((e) => e.kind === 'step');
      const [step1, step2] = stepsOf(first);
      expect(compiling.length).toBeGreaterThan(3);
      // One event per compile, in order, all before step 1 ended, counting up to the pipelines step 1 used.
      expect(compiling.map((e) => e.compiled)).toEqual(compiling.map((_, i) => i + 1));
      expect(first.indexOf(compiling.at(-1)!)).toBeLessThan(first.indexOf(step1));
      expect(compiling.every((e) => e.step === 1)).toBe(true);
      expect(compiling.at(-1)!.used).toBe(step1.timing.pipelines);
      // (The model's upload and the adapter's init compiled a few of their own.)
      expect(gpu.pipelines.size).toBeGreaterThanOrEqual(step1.timing.pipelines!);
      expect(step1.timing.compileSeconds).toBeGreaterThan(0);
      expect(step1.timing.compileSeconds).toBeLessThanOrEqual(step1.timing.seconds);
      expect(step1.timing.tokens).toBeGreaterThan(0);
      expect(step2.timing.pipelines).toBeNull();
      expect(step2.timing.compileSeconds).toBe(0);

      const second = await run();
      expect(second.some((e) => e.kind === 'compiling')).toBe(false);
      expect(stepsOf(second)[0].timing.pipelines).toBe(step1.timing.pipelines);
      expect(stepsOf(second)[0].timing.compileSeconds).toBe(0);
    } finally {
      model.destroy();
    }
  }, HEAVY_TIMEOUT_MS);
});

describe('LoRA+ (loraplusLrRatio)', () => {
  it("puts lora_B and 1-D parameters in PEFT's group B", () => {
    expect(loraplusGroupB('model.layers.0.self_attn.q_proj.lora_B', [16, 8])).toBe(true);
    expect(loraplusGroupB('model.layers.0.self_attn.q_proj.lora_A', [8, 16])).toBe(false);
    expect(loraplusGroupB('transformer.h.0.attn.c_attn.base_layer.bias', [48])).toBe(true);
    expect(loraplusGroupB('prompt_embeddings', [5, 16])).toBe(false);
    // No weight decay on biases, with LoRA+ or without.
    expect(appliesWeightDecay('transformer.h.0.attn.c_attn.base_layer.bias')).toBe(false);
    expect(appliesWeightDecay('model.layers.0.self_attn.q_proj.lora_B')).toBe(true);
  });

  it("moves lora_B `ratio` times as far as plain LoRA in a step, and lora_A the same", async () => {
    const s = setups.get('llama')!;
    const { examples } = tokenizeRecords(records, s.tokenizer, { maxLength: 32 });
    const model = GpuModel.upload(ctx.gpu, s.loaded.config, s.loaded.weights, 'f32');
    // A first step from B = 0 and A random: AdamW's first update is lr·g/(|g|+ε) (weight decay of B = 0 adds nothing).
    const step = async (ratio: number) => {
      const lora = newLora(s, model, 9);
      const trainer = new Trainer(ctx.gpu, model, lora, examples, [], { ...SETTINGS, maxSteps: 1, batchSize: 6, weightDecay: 0, loraplusLrRatio: ratio }, s.tokenizer.padTokenId ?? 0);
      try {
        await trainer.run();
        return await lora.readWeights();
      } finally {
        trainer.destroy();
        lora.destroy();
      }
    };
    try {
      const plain = await step(1);
      const plus = await step(16);
      let moved = 0;
      for (const [path, w] of plain) {
        const p = plus.get(path)!;
        expect(Array.from(p.a), `${path} lora_A`).toEqual(Array.from(w.a));
        expectClose(`${path} lora_B`, p.b, Float32Array.from(w.b, (x) => 16 * x), { atol: 1e-7, rtol: 1e-5 });
        moved = Math.max(moved, ...Array.from(w.b, Math.abs));
      }
      expect(moved).toBeGreaterThan(0);
    } finally {
      model.destroy();
    }
  }, HEAVY_TIMEOUT_MS);
});
