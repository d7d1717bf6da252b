/**
 * The prompt-learning methods on the GPU against the float64 reference, on the tiny GPT-2 and the tiny Llama with
 * grouped-query attention: logits, the gradient of every parameter (with gradient accumulation over two
 * micro-batches), and KV-cache generation against the uncached forward. One table of methods, shared checks.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { GpuModel } from '../src/engine/gpu-model';
import type { GpuAdapter } from '../src/engine/method-hooks';
import { generate } from '../src/engine/generate';
import { forwardLogits, lossAndGrads } from '../src/engine/training-pass';
import { readTensor } from '../src/kernels/tensor';
import { GpuPrefixTuning, prefixTokenDim } from '../src/methods/prefix-tuning/gpu';
import { prefixTuningReference } from '../src/methods/prefix-tuning/reference';
import { GpuPromptTuning } from '../src/methods/prompt-tuning/gpu';
import { promptTuningReference } from '../src/methods/prompt-tuning/reference';
import { loadModel, type LoadedModel } from '../src/model-io/load-model';
import { BrowserFilesSource } from '../src/model-io/model-source';
import type { ModelConfig } from '../src/model/config';
import type { ReferenceMethod } from '../src/model/reference/method-hooks';
import { referenceForward, referenceLossAndGrads } from '../src/model/reference/reference-model';
import { randomNormal } from '../src/util/random';
import type { GpuContext } from '../src/gpu/device';
import { makeTinyModel } from './fixtures/tiny-models';
import { expectClose } from './helpers/compare';
import { useGpu } from './helpers/gpu';

const ctx = useGpu();
const LOGIT_TOL = { atol: 1e-4, rtol: 1e-3 };
const GRAD_TOL = { atol: 2e-5, rtol: 2e-3 };

interface MethodCase {
  name: string;
  /** The method with random parameters, on the GPU and on the reference. */
  make(gpu: GpuContext, c: ModelConfig, seed: number): { gpu: GpuAdapter; reference: ReferenceMethod };
}

const METHODS: MethodCase[] = [
  {
    name: 'prompt tuning',
    make(gpu, c, seed) {
      const emb = randomNormal(4 * c.hiddenSize, seed, 0.5);
      return { gpu: new GpuPromptTuning(gpu, c, emb), reference: promptTuningReference(emb, c.hiddenSize) };
    },
  },
  {
    name: 'prefix tuning',
    make(gpu, c, seed) {
      const prefix = randomNormal(3 * c.numLayers * 2 * prefixTokenDim(c), seed, 0.5);
      return { gpu: new GpuPrefixTuning(gpu, c, prefix), reference: prefixTuningReference(c, prefix) };
    },
  },
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
      expectClose(`${kind} logits`, await forwardLogits(ctx.gpu, model, adapter, batch), referenceForward(c, m.weights, batch, reference), LOGIT_TOL);

      // Two micro-batches (the batch's rows one at a time) accumulate into the same gradients.
      const rows = [0, 1].map((b) => ({ inputIds: [batch.inputIds[b]], attentionMask: [batch.attentionMask[b]], labels: [batch.labels[b]] }));
      const r0 = await lossAndGrads(ctx.gpu, model, adapter, rows[0]);
      await lossAndGrads(ctx.gpu, model, adapter, rows[1], { accumulateGrads: true });
      const want0 = referenceLossAndGrads(c, m.weights, rows[0], reference);
      const want1 = referenceLossAndGrads(c, m.weights, rows[1], reference);
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
