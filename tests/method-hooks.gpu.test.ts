/**
 * The method hooks end to end on the GPU, against the float64 reference: a test method at all four places at
 * once (virtual tokens, an attention prefix, LoRA on every linear layer, a shift after every sublayer) on the
 * tiny model of each architecture — logits and the gradient of every parameter — and KV-cache generation with
 * the prefix and the virtual tokens in front of the prompt, against the uncached forward.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { GpuModel } from '../src/engine/gpu-model';
import { forwardLogits, lossAndGrads } from '../src/engine/training-pass';
import { generate } from '../src/engine/generate';
import { GpuLoraSet, type LoraModuleInit } from '../src/methods/lora/gpu';
import { loraReference, type ReferenceLora } from '../src/methods/lora/reference';
import { loadModel, type LoadedModel } from '../src/model-io/load-model';
import { BrowserFilesSource } from '../src/model-io/model-source';
import { referenceForward, referenceLossAndGrads } from '../src/model/reference/reference-model';
import { linearModules } from '../src/model/weight-names';
import { randomNormal } from '../src/util/random';
import { makeTinyModel } from './fixtures/tiny-models';
import { expectClose } from './helpers/compare';
import { useGpu } from './helpers/gpu';
import { GpuToyMethod, randomToyValues, referenceToyMethod } from './helpers/toy-methods';

const ctx = useGpu();
const KINDS = ['gpt2', 'llama', 'qwen2'] as const;
const LOGIT_TOL = { atol: 1e-4, rtol: 1e-3 };
const GRAD_TOL = { atol: 2e-5, rtol: 2e-3 };

const models = new Map<string, LoadedModel>();
beforeAll(async () => {
  for (const kind of KINDS) {
    const files = [...makeTinyModel(kind)].map(([name, bytes]) => new File([bytes as Uint8Array<ArrayBuffer>], name));
    models.set(kind, await loadModel(new BrowserFilesSource(files)));
  }
});

const batch = {
  inputIds: [
    [5, 17, 99, 42, 7, 250],
    [11, 64, 128, 9, 0, 0],
  ],
  attentionMask: [
    [1, 1, 1, 1, 1, 1],
    [1, 1, 1, 1, 0, 0],
  ],
  labels: [
    [5, 17, 99, 42, 7, 250],
    [-100, 64, 128, 9, -100, -100],
  ],
};

describe.each(KINDS)('%s: all four hooks at once', (kind) => {
  it('logits and every parameter gradient match the reference; generation with the cache matches the uncached forward', async () => {
    const m = models.get(kind)!;
    const c = m.config;
    const model = GpuModel.upload(ctx.gpu, c, m.weights, 'f32');
    const values = randomToyValues(c, { virtual: 3, prefix: 2, shifts: true }, 700);
    const inits: LoraModuleInit[] = linearModules(c).filter((_, i) => i % 2 === 0).map((s, i) => ({
      path: s.path, r: 2, scale: 2, dropoutP: 0,
      a: randomNormal(2 * s.inFeatures, 800 + 2 * i, 0.3), b: randomNormal(s.outFeatures * 2, 801 + 2 * i, 0.3),
    }));
    const lora = GpuLoraSet.create(ctx.gpu, model, inits);
    const method = new GpuToyMethod(ctx.gpu.device, c, values, lora);
    const refLora: ReferenceLora = new Map(inits.map((i) => [i.path, { a: i.a, b: i.b, r: i.r, scale: i.scale, dropoutP: 0, seed: 0 }]));
    const ref = referenceToyMethod(c, values, loraReference(c, refLora));
    try {
      // 3 virtual tokens in front of each sequence: logits for all 3 + 6 positions.
      const logits = await forwardLogits(ctx.gpu, model, method, batch);
      expect(logits.length).toBe(2 * 9 * c.vocabSize);
      expectClose(`${kind} logits`, logits, referenceForward(c, m.weights, batch, ref), LOGIT_TOL);

      const gpu = await lossAndGrads(ctx.gpu, model, method, batch);
      const want = referenceLossAndGrads(c, m.weights, batch, ref);
      expect(Math.abs(gpu.loss - want.loss)).toBeLessThan(1e-4 * Math.max(1, Math.abs(want.loss)));
      const grads = await method.readGrads();
      for (const [name, g] of grads) expectClose(`${kind} d ${name}`, g, want.grads.get(name)!, GRAD_TOL);
      const loraGrads = await lora.readGrads();
      for (const [path, g] of loraGrads) {
        expectClose(`${kind} d ${path}.lora_A`, g.dA, want.grads.get(`${path}.lora_A`)!, GRAD_TOL);
        expectClose(`${kind} d ${path}.lora_B`, g.dB, want.grads.get(`${path}.lora_B`)!, GRAD_TOL);
      }
      // Every toy parameter got a gradient (the seams carry it).
      for (const [name, g] of grads) expect(Math.max(...g.map(Math.abs)), name).toBeGreaterThan(1e-7);

      // Greedy generation: the cache starts with the prefix, the first step runs the virtual tokens and the prompt.
      const prompt = [5, 17, 99];
      const cached = await generate(ctx.gpu, model, method, prompt, { maxNewTokens: 4, eosTokenIds: [] });
      const seq = [...prompt];
      for (let i = 0; i < 4; i++) {
        const l = await forwardLogits(ctx.gpu, model, method, { inputIds: [seq] });
        const last = l.subarray(l.length - c.vocabSize);
        seq.push(last.indexOf(Math.max(...last)));
      }
      expect(cached.tokens).toEqual(seq.slice(prompt.length));
      // With the adapter off, neither prefix nor virtual tokens: the base model's own logits.
      const base = await forwardLogits(ctx.gpu, model, method, { inputIds: [prompt] }, { adapterScale: 0 });
      expectClose(`${kind} base logits`, base, referenceForward(c, m.weights, { inputIds: [prompt] }), LOGIT_TOL);
    } finally {
      method.destroy();
      lora.destroy();
      model.destroy();
    }
  });
});
