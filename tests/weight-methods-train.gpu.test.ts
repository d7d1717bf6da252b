/**
 * The weight-side methods — DoRA, IA³ and bottleneck adapters (houlsby and pfeiffer) — trained through runTraining
 * (as the CLI and the worker run it) on each tiny architecture: GPT-2 (Conv1D weights, fused c_attn), Llama
 * (grouped-query attention) and Qwen2 (q/k/v biases, tied head). For each: the loss falls clearly on a small task;
 * the files are the method's own (PEFT's keys and shapes, or AdapterHub's); export → import gives the same logits
 * bit for bit; DoRA's merged weights give the adapted model's logits; and a DoRA run resumed from a checkpoint
 * repeats the losses of an uninterrupted one. Their kernels and forwards against the float64 references are in
 * dora/ia3/bottleneck.gpu.test.ts; one file here so that the three methods share the compiled training pipelines.
 */
import { describe, expect, it } from 'vitest';
import { GpuModel } from '../src/engine/gpu-model';
import { forwardLogits } from '../src/engine/training-pass';
import { mergeLora } from '../src/methods/lora/merge';
import { loadAdapterFiles } from '../src/methods/runtimes';
import type { LoadedModel } from '../src/model-io/load-model';
import { parseSafetensors } from '../src/model-io/safetensors';
import { linearModules } from '../src/model/weight-names';
import { ia3VectorShape, makeIA3Config, resolveIA3Targets } from '../src/peft/ia3-config';
import type { TrainingBase, TrainingRunResult } from '../src/trainer/training-run';
import type { NewAdapter } from '../src/trainer/training-run';
import { TINY_MODEL_KINDS, type TinyModelKind } from './fixtures/tiny-models';
import { expectClose } from './helpers/compare';
import { useGpu } from './helpers/gpu';
import { MemoryCheckpointStore } from './helpers/memory-checkpoint-store';
import { lossLine, tinyBase, trainOnTask, useTinyModels } from './helpers/tiny-training';

const ctx = useGpu();
const models = useTinyModels(TINY_MODEL_KINDS);
const LOGIT_TOL = { atol: 1e-4, rtol: 1e-3 };

function maxDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

function jsonFile(files: ReadonlyMap<string, Uint8Array>, name: string): Record<string, unknown> {
  return JSON.parse(new TextDecoder().decode(files.get(name)!));
}

/** DoRA's targets: an attention and an MLP projection in each architecture (GPT-2's Conv1D among them). */
const DORA_TARGETS: Record<TinyModelKind, string[]> = { gpt2: ['c_attn', 'c_fc'], llama: ['q_proj', 'v_proj', 'down_proj'], qwen2: ['q_proj', 'v_proj', 'down_proj'] };

interface Case {
  name: string;
  adapter(kind: TinyModelKind): NewAdapter;
  lr: number;
  /** What the exported files must hold, beyond export → import being exact. */
  checkFiles(run: TrainingRunResult, m: LoadedModel, kind: TinyModelKind): void;
  /** Extra checks with the trained adapter on the GPU. */
  checkAdapter?(run: TrainingRunResult, base: TrainingBase, probe: { inputIds: number[][] }): Promise<void>;
}

const CASES: Case[] = [
  {
    name: 'IA³ with PEFT\'s default targets',
    adapter: () => ({ method: 'ia3', options: {} }),
    lr: 0.3,
    checkFiles(run, m) {
      expect(jsonFile(run.files, 'adapter_config.json').peft_type).toBe('IA3');
      const st = parseSafetensors(run.files.get('adapter_model.safetensors')!, 'adapter_model.safetensors');
      const targets = resolveIA3Targets(makeIA3Config({}, m.config, { nameOrPath: 'x' }), m.config);
      expect(targets.some((t) => t.feedforward)).toBe(true); // an input-side (1, in) vector among them
      expect(st.tensors.size).toBe(targets.length);
      for (const t of targets) expect(st.tensors.get(`base_model.model.${t.path}.ia3_l`)?.shape).toEqual(ia3VectorShape(t));
    },
  },
  {
    name: 'DoRA (r 4, dropout 0.1) on an attention and an MLP projection',
    adapter: (kind) => ({ method: 'lora', options: { use_dora: true, r: 4, lora_alpha: 8, lora_dropout: 0.1, target_modules: DORA_TARGETS[kind] } }),
    lr: 0.02,
    checkFiles(run, m, kind) {
      expect(jsonFile(run.files, 'adapter_config.json')).toMatchObject({ peft_type: 'LORA', use_dora: true });
      const st = parseSafetensors(run.files.get('adapter_model.safetensors')!, 'adapter_model.safetensors');
      const targets = linearModules(m.config).filter((s) => DORA_TARGETS[kind].includes(s.shortName));
      expect(targets).toHaveLength(DORA_TARGETS[kind].length * m.config.numLayers);
      for (const t of targets) expect(st.tensors.get(`base_model.model.${t.path}.lora_magnitude_vector`)?.shape).toEqual([t.outFeatures]);
    },
    async checkAdapter(run, base, probe) {
      // PEFT's merge of DoRA (W0 + s·B·A rescaled row by row to m) gives the adapted model's logits.
      const merged = GpuModel.upload(ctx.gpu, base.config, mergeLora(run.files, base.config, base.weights).weights, 'f32');
      try {
        const adapted = await forwardLogits(ctx.gpu, base.model, run.adapter, probe);
        const fromMerged = await forwardLogits(ctx.gpu, merged, null, probe);
        const effect = maxDiff(adapted, await forwardLogits(ctx.gpu, base.model, null, probe));
        console.log(`${base.nameOrPath} DoRA merge: max |merged − adapted| ${maxDiff(fromMerged, adapted).toExponential(2)}, adapter's effect ${effect.toExponential(2)}`);
        expectClose('merged logits', fromMerged, adapted, LOGIT_TOL);
        expect(effect).toBeGreaterThan(100 * maxDiff(fromMerged, adapted));
      } finally {
        merged.destroy();
      }
    },
  },
  ...(['houlsby', 'pfeiffer'] as const).map((config): Case => ({
    name: `bottleneck adapters, ${config}`,
    // AdapterHub's default non-linearity for each: swish for double_seq_bn (houlsby), relu for seq_bn (pfeiffer).
    adapter: () => ({ method: 'bottleneck', options: { config, reduction_factor: 4, non_linearity: config === 'houlsby' ? 'swish' : 'relu' } }),
    lr: 0.02,
    checkFiles(run, m) {
      expect(jsonFile(run.files, 'adapter_config.json').config).toMatchObject({
        architecture: 'bottleneck', mh_adapter: config === 'houlsby', output_adapter: true, reduction_factor: 4, non_linearity: config === 'houlsby' ? 'swish' : 'relu',
      });
      const st = parseSafetensors(run.files.get('adapter.safetensors')!, 'adapter.safetensors');
      const d = m.config.hiddenSize;
      const layer = m.config.modelType === 'gpt2' ? 'transformer.h.1' : 'model.layers.1';
      const places = config === 'houlsby' ? ['attention_adapters', 'output_adapters'] : ['output_adapters'];
      expect(st.tensors.size).toBe(4 * places.length * m.config.numLayers);
      for (const place of places) {
        const prefix = `${layer}.${place}.adapters.bottleneck`;
        expect(st.tensors.get(`${prefix}.adapter_down.0.weight`)?.shape).toEqual([d / 4, d]);
        expect(st.tensors.get(`${prefix}.adapter_up.weight`)?.shape).toEqual([d, d / 4]);
      }
    },
  })),
];

describe.each(CASES)('$name', (c) => {
  it.each(TINY_MODEL_KINDS)('%s: learns, saves the method\'s files, and imports them exactly', async (kind) => {
    const base = tinyBase(ctx.gpu, kind, models.get(kind)!);
    let run: TrainingRunResult | null = null;
    let imported: ReturnType<typeof loadAdapterFiles> | null = null;
    try {
      run = await trainOnTask(base, { adapter: c.adapter(kind), settings: { lr: c.lr } });
      const losses = run.log.map((l) => l.loss);
      console.log(`${kind} ${c.name}: losses ${lossLine(run)}`);
      expect(losses).toHaveLength(8);
      expect(losses.at(-1)!, `${kind}: ${lossLine(run)}`).toBeLessThan(0.75 * losses[0]);
      c.checkFiles(run, models.get(kind)!, kind);
      imported = loadAdapterFiles(base, run.files);
      const probe = { inputIds: [base.tokenizer.encode('cat says meow')] };
      expect(Array.from(await forwardLogits(ctx.gpu, base.model, imported, probe))).toEqual(Array.from(await forwardLogits(ctx.gpu, base.model, run.adapter, probe)));
      await c.checkAdapter?.(run, base, probe);
    } finally {
      imported?.destroy();
      run?.adapter.destroy();
      base.model.destroy();
    }
  }, 300_000);
});

describe('DoRA checkpoints', () => {
  it('gpt2: a run resumed from a checkpoint (lora_magnitude_vector included) repeats the losses of an uninterrupted run', async () => {
    const base = tinyBase(ctx.gpu, 'gpt2', models.get('gpt2')!);
    const run = async (store: MemoryCheckpointStore, stopAt: number | null, resume: boolean) => {
      const r = await trainOnTask(base, {
        adapter: { method: 'lora', options: { use_dora: true, r: 2, lora_dropout: 0.1, target_modules: ['c_attn', 'c_proj'] } },
        settings: { lr: 2e-2, schedule: 'cosine', maxSteps: 4, batchSize: 2, seed: 5, checkpointEvery: 2 },
        checkpoints: store,
        resume,
        onEvent: (e, trainer) => {
          if (e.kind === 'step' && e.log.step === stopAt) trainer.stop();
        },
      });
      const names = r.adapter.parameters().map((p) => p.name);
      r.adapter.destroy();
      return { losses: r.log.map((l) => l.loss), names };
    };
    try {
      const straight = await run(new MemoryCheckpointStore(), null, false);
      // c_attn and the two c_proj (attention and MLP) in 2 layers.
      expect(straight.names.filter((n) => n.endsWith('.lora_magnitude_vector'))).toHaveLength(6);
      const store = new MemoryCheckpointStore();
      expect((await run(store, 3, false)).losses).toHaveLength(3); // the checkpoint is from step 2
      expect((await run(store, null, true)).losses).toEqual(straight.losses);
    } finally {
      base.model.destroy();
    }
  }, 300_000);
});
