/**
 * The memory plan against real training passes: for every architecture, method, checkpointing on and off, and the
 * loss in one chunk or in ragged chunks, the activation peak the plan replays is the pool's to the byte (in tensor
 * bytes and in whole buffers); the weights are GpuModel's own buffers. And checkpointing and chunking change no
 * bit of the loss or of the gradients.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { GpuModel } from '../src/engine/gpu-model';
import { ActivationPool } from '../src/engine/activation-pool';
import { passActivations, planMemory } from '../src/engine/memory-plan';
import { lossAndGrads } from '../src/engine/training-pass';
import type { TrainBatch } from '../src/engine/batch';
import { readTensor } from '../src/kernels/tensor';
import type { WeightFormat } from '../src/kernels/weight-format';
import type { MethodId } from '../src/methods/method';
import { planMethodOf } from '../src/methods/plan-method';
import { createAdapter } from '../src/methods/runtimes';
import { loadTokenizer } from '../src/model-io/tokenizer';
import type { TinyModelKind } from './fixtures/tiny-models';
import { useGpu } from './helpers/gpu';
import { useTinyModels } from './helpers/tiny-training';

const ctx = useGpu();
const KINDS: TinyModelKind[] = ['gpt2', 'llama', 'qwen2'];
const models = useTinyModels(KINDS);

/** Three ragged sequences (7, 4 and 6 tokens), the last token of each unlabelled. */
function batchOf(vocab: number): TrainBatch {
  const lengths = [7, 4, 6];
  const T = 7;
  const ids = lengths.map((n, b) => Array.from({ length: T }, (_, t) => (t < n ? (3 + 5 * b + 7 * t) % vocab : 0)));
  return {
    inputIds: ids,
    attentionMask: lengths.map((n) => Array.from({ length: T }, (_, t) => (t < n ? 1 : 0))),
    labels: ids.map((row, b) => row.map((id, t) => (t < lengths[b] - 1 ? row[t + 1] : -100))),
  };
}

const METHODS: { name: string; id: MethodId; options: Record<string, unknown>; kinds?: TinyModelKind[] }[] = [
  { name: 'LoRA', id: 'lora', options: { r: 4, lora_dropout: 0.1 } },
  { name: 'DoRA with dropout', id: 'lora', options: { r: 2, use_dora: true, lora_dropout: 0.1, target_modules: 'all-linear' } },
  { name: 'LoRA with trained biases', id: 'lora', options: { r: 2, bias: 'lora_only', target_modules: 'all-linear' }, kinds: ['gpt2', 'qwen2'] },
  { name: 'IA³', id: 'ia3', options: {} },
  { name: 'prompt tuning', id: 'prompt-tuning', options: { num_virtual_tokens: 3 } },
  { name: 'prefix tuning', id: 'prefix-tuning', options: { num_virtual_tokens: 2 } },
  { name: 'bottleneck adapters', id: 'bottleneck', options: {} },
  // The prompt encoders' own tensors (n rows) are not replayed: the plan may be low by at most ENCODER_SLACK.
  { name: 'P-tuning', id: 'p-tuning', options: { num_virtual_tokens: 3 } },
  { name: 'prefix tuning with a projection', id: 'prefix-tuning', options: { num_virtual_tokens: 2, prefix_projection: true } },
];
const ENCODER_SLACK = 64 * 1024;

const uploaded = new Map<string, GpuModel>();
function modelOf(kind: TinyModelKind, format: WeightFormat): GpuModel {
  const key = `${kind}/${format}`;
  if (!uploaded.has(key)) {
    const m = models.get(kind)!;
    uploaded.set(key, GpuModel.upload(ctx.gpu, m.config, m.weights, format));
  }
  return uploaded.get(key)!;
}
afterAll(() => {
  for (const m of uploaded.values()) m.destroy();
});

function baseOf(kind: TinyModelKind) {
  const m = models.get(kind)!;
  return {
    gpu: ctx.gpu,
    config: m.config,
    model: modelOf(kind, 'f32'),
    weights: m.weights,
    tokenizer: loadTokenizer(m.tokenizerJson, m.tokenizerConfig),
    nameOrPath: `tiny-${kind}`,
    revision: null,
  };
}

describe.each(KINDS)('%s', (kind) => {
  it('the planned weights are the bytes GpuModel allocates, in every format', () => {
    const m = models.get(kind)!;
    for (const format of ['f32', 'q8', 'q4', 'nf4'] as const) {
      const method = planMethodOf('lora', {}, m.config, { nameOrPath: 'tiny' });
      const plan = planMemory({ config: m.config, batch: 1, seqLen: 8, format, gradientCheckpointing: false, method });
      expect(plan.weights, format).toBe(modelOf(kind, format).allocatedBytes());
    }
  });

  for (const method of METHODS) {
    if (method.kinds && !method.kinds.includes(kind)) continue;
    it(`${method.name}: the plan's activation peak is the pass's, with and without checkpointing, in one chunk or five-row chunks`, async () => {
      const base = baseOf(kind);
      const adapter = createAdapter(base, method.id, method.options, 11);
      const pool = new ActivationPool(ctx.gpu.device);
      const batch = batchOf(base.config.vocabSize);
      const planMethod = planMethodOf(method.id, method.options, base.config, base);
      expect(planMethod.exact).toBe(method.id !== 'p-tuning' && method.options.prefix_projection !== true);
      try {
        for (const gradientCheckpointing of [false, true]) {
          for (const lossChunkRows of [undefined, 5]) {
            const what = `checkpointing ${gradientCheckpointing}, chunk ${lossChunkRows ?? 'all'}`;
            const r = await lossAndGrads(ctx.gpu, base.model, adapter, batch, { dropoutSeed: 5, pool, gradientCheckpointing, lossChunkRows });
            const plan = passActivations({ config: base.config, batch: 3, seqLen: 7, format: 'f32', gradientCheckpointing, method: planMethod, lossChunkRows, limits: ctx.gpu.device.limits });
            if (planMethod.exact) {
              expect(r.activationBytes, what).toBe(plan.tensorBytes);
              expect(pool.snapshot().lastPeakBufferBytes, what).toBe(plan.bufferBytes);
            } else {
              expect(r.activationBytes - plan.tensorBytes, what).toBeGreaterThanOrEqual(0);
              expect(r.activationBytes - plan.tensorBytes, what).toBeLessThanOrEqual(ENCODER_SLACK);
            }
          }
        }
      } finally {
        pool.destroy();
        adapter.destroy();
      }
    }, 120_000);
  }

  it('checkpointing and a chunked loss give the same loss and gradients, bit for bit (LoRA with dropout, prefix tuning)', async () => {
    const base = baseOf(kind);
    const batch = batchOf(base.config.vocabSize);
    for (const [id, options] of [['lora', { r: 4, lora_dropout: 0.1, target_modules: 'all-linear' }], ['prefix-tuning', { num_virtual_tokens: 2 }]] as const) {
      const adapter = createAdapter(base, id, options, 7);
      try {
        const run = async (gradientCheckpointing: boolean, lossChunkRows?: number) => {
          const r = await lossAndGrads(ctx.gpu, base.model, adapter, batch, { dropoutSeed: 9, gradientCheckpointing, lossChunkRows });
          const grads = await Promise.all(adapter.parameters().map((p) => readTensor(ctx.gpu.device, p.grad)));
          return { loss: r.loss, grads };
        };
        const plain = await run(false);
        expect(plain.grads.some((g) => g.some((v) => v !== 0))).toBe(true);
        for (const [gc, chunk] of [[true, undefined], [false, 4], [true, 5]] as const) {
          const other = await run(gc, chunk);
          expect(other.loss, `${id} checkpointing ${gc} chunk ${chunk}`).toBe(plain.loss);
          other.grads.forEach((g, i) => expect(Array.from(g), `${id} ${adapter.parameters()[i].name}`).toEqual(Array.from(plain.grads[i])));
        }
      } finally {
        adapter.destroy();
      }
    }
  }, 120_000);
});
