/**
 * The prompt-learning methods on the GPU against the float64 reference, on the tiny GPT-2 and the tiny Llama with
 * grouped-query attention: logits, the gradient of every parameter — the prompt encoders' weights included — with
 * dropout and gradient accumulation over two micro-batches, and KV-cache generation against the uncached forward.
 * One table of methods, shared checks.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { GpuModel } from '../src/engine/gpu-model';
import type { GpuAdapter } from '../src/engine/method-hooks';
import { generate } from '../src/engine/generate';
import { forwardLogits, lossAndGrads } from '../src/engine/training-pass';
import { readTensor } from '../src/kernels/tensor';
import { GpuPTuning, type LstmDirectionInit, type PTuningInit } from '../src/methods/p-tuning/gpu';
import { pTuningReference } from '../src/methods/p-tuning/reference';
import { GpuPrefixTuning, prefixTokenDim } from '../src/methods/prefix-tuning/gpu';
import { GpuPrefixProjection, type PrefixProjectionInit } from '../src/methods/prefix-tuning/projection';
import { prefixProjectionReference, prefixTuningReference } from '../src/methods/prefix-tuning/reference';
import { torchLinearInit, type LinearInit } from '../src/methods/shared/gpu-mlp';
import { GpuPromptTuning } from '../src/methods/prompt-tuning/gpu';
import { promptTuningReference } from '../src/methods/prompt-tuning/reference';
import { loadModel, type LoadedModel } from '../src/model-io/load-model';
import { BrowserFilesSource } from '../src/model-io/model-source';
import type { ModelConfig } from '../src/model/config';
import type { ReferenceMethod } from '../src/model/reference/method-hooks';
import { referenceForward, referenceLossAndGrads } from '../src/model/reference/reference-model';
import { randomNormal, randomUniform } from '../src/util/random';
import type { GpuContext } from '../src/gpu/device';
import { makeTinyModel } from './fixtures/tiny-models';
import { expectClose } from './helpers/compare';
import { useGpu } from './helpers/gpu';

const ctx = useGpu();
const LOGIT_TOL = { atol: 1e-4, rtol: 1e-3 };
const GRAD_TOL = { atol: 2e-5, rtol: 2e-3 };

interface MethodCase {
  name: string;
  /** The method with random parameters, on the GPU and on the reference (given a pass's dropout seed). */
  make(gpu: GpuContext, c: ModelConfig, seed: number): { gpu: GpuAdapter; reference: (dropoutSeed: number | null) => ReferenceMethod };
}

/** A random Linear layer, PyTorch's init scaled up so that the encoders' outputs are O(1). */
function linearInit(name: string, inF: number, outF: number, seed: number): LinearInit {
  let s = seed;
  return torchLinearInit(name, inF, outF, (n, bound) => randomUniform(n, s++, -2 * bound, 2 * bound));
}

function lstmDirection(inF: number, h: number, seed: number): LstmDirectionInit {
  const u = (n: number, k: number) => randomUniform(n, seed + k, -0.5, 0.5);
  return { wIh: u(4 * h * inF, 0), wHh: u(4 * h * h, 1), bIh: u(4 * h, 2), bHh: u(4 * h, 3) };
}

function pTuningCase(name: string, lstm: { layers: number; dropout: number } | null): MethodCase {
  return {
    name,
    make(gpu, c, seed) {
      const d = c.hiddenSize;
      const h = 12;
      const init: PTuningInit = {
        embedding: randomNormal(4 * d, seed, 1),
        head: lstm
          ? [linearInit('prompt_encoder.mlp_head.0', 2 * h, 2 * h, seed + 1), linearInit('prompt_encoder.mlp_head.2', 2 * h, d, seed + 3)]
          : [linearInit('prompt_encoder.mlp_head.0', d, h, seed + 1), linearInit('prompt_encoder.mlp_head.2', h, h, seed + 3), linearInit('prompt_encoder.mlp_head.4', h, d, seed + 5)],
        lstm: lstm && {
          hidden: h,
          dropout: lstm.dropout,
          layers: Array.from({ length: lstm.layers }, (_, k) => ({
            forward: lstmDirection(k === 0 ? d : 2 * h, h, seed + 10 + 8 * k),
            reverse: lstmDirection(k === 0 ? d : 2 * h, h, seed + 14 + 8 * k),
          })),
        },
      };
      return { gpu: new GpuPTuning(gpu, d, init), reference: (dropoutSeed) => pTuningReference(d, init, dropoutSeed) };
    },
  };
}

const METHODS: MethodCase[] = [
  {
    name: 'prompt tuning',
    make(gpu, c, seed) {
      const emb = randomNormal(4 * c.hiddenSize, seed, 0.5);
      return { gpu: new GpuPromptTuning(gpu, c, emb), reference: () => promptTuningReference(emb, c.hiddenSize) };
    },
  },
  {
    name: 'prefix tuning',
    make(gpu, c, seed) {
      const prefix = randomNormal(3 * c.numLayers * 2 * prefixTokenDim(c), seed, 0.5);
      return { gpu: new GpuPrefixTuning(gpu, c, prefix), reference: () => prefixTuningReference(c, prefix) };
    },
  },
  {
    name: 'prefix tuning with prefix_projection',
    make(gpu, c, seed) {
      const td = prefixTokenDim(c);
      const init: PrefixProjectionInit = {
        embedding: randomNormal(3 * td, seed, 1),
        transform: [linearInit('prompt_encoder.transform.0', td, 10, seed + 1), linearInit('prompt_encoder.transform.2', 10, c.numLayers * 2 * td, seed + 3)],
      };
      return { gpu: new GpuPrefixProjection(gpu, c, init), reference: () => prefixProjectionReference(c, init) };
    },
  },
  pTuningCase('P-tuning, MLP encoder', null),
  pTuningCase('P-tuning, 2-layer LSTM encoder with dropout', { layers: 2, dropout: 0.3 }),
];

const models = new Map<string, LoadedModel>();
beforeAll(async () => {
  for (const kind of ['gpt2', 'llama'] as const) {
    models.set(kind, await loadModel(new BrowserFilesSource([...makeTinyModel(kind)].map(([n, b]) => new File([b as Uint8Array<ArrayBuffer>], n)))));
  }
});

const batch = {
  inputIds: [
    [5, 17, 99, 42, 7],
    [11, 64, 128, 9, 0],
  ],
  attentionMask: [
    [1, 1, 1, 1, 1],
    [1, 1, 1, 1, 0],
  ],
  labels: [
    [5, 17, 99, 42, 7],
    [-100, 64, 128, 9, -100],
  ],
};

describe.each(METHODS)('$name', (method) => {
  it.each(['gpt2', 'llama'])('%s: logits, accumulated gradients and cached generation match the reference', async (kind) => {
    const m = models.get(kind)!;
    const c = m.config;
    const model = GpuModel.upload(ctx.gpu, c, m.weights, 'f32');
    const { gpu: adapter, reference } = method.make(ctx.gpu, c, 900);
    try {
      expectClose(`${kind} logits`, await forwardLogits(ctx.gpu, model, adapter, batch), referenceForward(c, m.weights, batch, reference(null)), LOGIT_TOL);

      // Two micro-batches (the batch's rows one at a time, each with its dropout seed) accumulate into the same gradients.
      const rows = [0, 1].map((b) => ({ inputIds: [batch.inputIds[b]], attentionMask: [batch.attentionMask[b]], labels: [batch.labels[b]] }));
      const r0 = await lossAndGrads(ctx.gpu, model, adapter, rows[0], { dropoutSeed: 77 });
      await lossAndGrads(ctx.gpu, model, adapter, rows[1], { dropoutSeed: 78, accumulateGrads: true });
      const want0 = referenceLossAndGrads(c, m.weights, rows[0], reference(77));
      const want1 = referenceLossAndGrads(c, m.weights, rows[1], reference(78));
      expect(Math.abs(r0.loss - want0.loss)).toBeLessThan(1e-4 * Math.max(1, want0.loss));
      for (const p of adapter.parameters()) {
        const want = want0.grads.get(p.name)!.map((g, i) => g + want1.grads.get(p.name)![i]);
        expectClose(`${kind} d ${p.name}`, await readTensor(ctx.gpu.device, p.grad), want, GRAD_TOL);
      }

      const prompt = [5, 17, 99];
      const cached = await generate(ctx.gpu, model, adapter, prompt, { maxNewTokens: 3, eosTokenIds: [] });
      const seq = [...prompt];
      for (let i = 0; i < 3; i++) {
        const l = await forwardLogits(ctx.gpu, model, adapter, { inputIds: [seq] });
        const last = l.subarray(l.length - c.vocabSize);
        seq.push(last.indexOf(Math.max(...last)));
      }
      expect(cached.tokens).toEqual(seq.slice(prompt.length));
    } finally {
      adapter.destroy();
      model.destroy();
    }
  });
});
