/**
 * One LoRA training step at a real model's shapes, against the float64 reference: SmolLM2-135M's config
 * (src/model/presets.ts) with 2 of its 30 layers — the real vocabulary of 49152 (a tied lm_head of 28M values),
 * 9 query heads sharing 3 key/value heads of 64, hidden 576, MLP 1536, RoPE base 100000 — through the loader
 * as a user's files (makeLikeModel), on a ragged batch of 8 and 5 tokens with ids across the whole vocabulary.
 * The loss and the gradient of every LoRA A and B (all seven projections of both layers, with dropout), with W0
 * in f32 and in q8 (the reference on the dequantized weights), the q8 run with the loss computed in chunks of
 * lm_head rows.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { GpuModel } from '../src/engine/gpu-model';
import { lossAndGrads } from '../src/engine/training-pass';
import { dequantizeWeight, packWeight } from '../src/kernels/quantize';
import type { WeightFormat } from '../src/kernels/weight-format';
import { adapterTensors, GpuLoraSet, type LoraModuleInit } from '../src/methods/lora/gpu';
import { loraReference, type ReferenceLora } from '../src/methods/lora/reference';
import { loadModel, type LoadedModel } from '../src/model-io/load-model';
import { BrowserFilesSource } from '../src/model-io/model-source';
import type { ModelConfig } from '../src/model/config';
import { referenceLossAndGrads } from '../src/model/reference/reference-model';
import { linearModules, type HostWeights } from '../src/model/weight-names';
import { randomNormal } from '../src/util/random';
import { makeLikeModel } from './fixtures/tiny-models';
import { expectClose } from './helpers/compare';
import { useGpu } from './helpers/gpu';

const ctx = useGpu();
/**
 * Measured on SwiftShader (2 cores): 40–55 s for the file — each step 13–18 s on the GPU (shader compiles included)
 * and 5–6 s in the float64 reference; generating and loading the 141 MB checkpoint about 2 s.
 */
const STEP_TIMEOUT_MS = 120_000;
const GRAD_TOL = { atol: 1e-5, rtol: 1e-3 };

let m: LoadedModel;
beforeAll(async () => {
  const files = [...makeLikeModel('smollm2-135m', { layers: 2, seed: 11 })].map(([name, bytes]) => new File([bytes], name));
  m = await loadModel(new BrowserFilesSource(files));
}, 60_000);

// Ragged rows of 8 and 5 tokens, the second right-padded with <|endoftext|> (id 0); ids up to the last row of the
// embedding. The first two labels of each row are ignored (a prompt).
const batch = {
  inputIds: [
    [0, 17, 4093, 49151, 30000, 12345, 2, 40961],
    [1, 48000, 256, 9999, 32768, 0, 0, 0],
  ],
  attentionMask: [
    [1, 1, 1, 1, 1, 1, 1, 1],
    [1, 1, 1, 1, 1, 0, 0, 0],
  ],
  labels: [
    [-100, -100, 4093, 49151, 30000, 12345, 2, 40961],
    [-100, -100, 256, 9999, 32768, -100, -100, -100],
  ],
};

/** The host weights with every linear W0 replaced by its quantize → dequantize round trip (lm_head is tied: f32). */
function dequantized(c: ModelConfig, weights: HostWeights, format: WeightFormat): HostWeights {
  if (format === 'f32') return weights;
  const out: HostWeights = new Map(weights);
  for (const s of linearModules(c)) {
    const name = `${s.path}.weight`;
    const t = weights.get(name)!;
    out.set(name, { shape: t.shape, data: Float32Array.from(dequantizeWeight(packWeight(t.data, s.outFeatures, s.inFeatures, format, s.layout))) });
  }
  return out;
}

/** Rank-4 adapters on all seven projections of every layer: A ~ N(0, 1/in), B ~ N(0, 0.1²), scale 2. */
function adapters(c: ModelConfig): LoraModuleInit[] {
  return linearModules(c).map((s, i) => ({
    path: s.path,
    r: 4,
    scale: 2,
    dropoutP: 0.1,
    a: randomNormal(4 * s.inFeatures, 500 + 2 * i, 1 / Math.sqrt(s.inFeatures)),
    b: randomNormal(s.outFeatures * 4, 501 + 2 * i, 0.1),
  }));
}

describe("SmolLM2-135M's shapes, 2 layers", () => {
  it('loads with the real head layout and vocabulary', () => {
    const c = m.config;
    expect([c.vocabSize, c.hiddenSize, c.numHeads, c.numKvHeads, c.headDim, c.intermediateSize, c.numLayers]).toEqual([49152, 576, 9, 3, 64, 1536, 2]);
    expect(c.tieWordEmbeddings).toBe(true);
    expect(c.ropeTheta).toBe(100000);
    expect(m.weights.get('model.embed_tokens.weight')!.data.length).toBe(49152 * 576);
  });

  for (const [format, lossChunkRows] of [['f32', undefined], ['q8', 5]] as const) {
    it(
      `one LoRA step with W0 in ${format}${lossChunkRows ? `, the loss in chunks of ${lossChunkRows} rows` : ''}: loss and every A and B gradient match the reference`,
      async () => {
        const c = m.config;
        const model = GpuModel.upload(ctx.gpu, c, m.weights, format);
        const inits = adapters(c);
        const lora = GpuLoraSet.create(ctx.gpu, model, inits);
        try {
          const dropoutSeed = 777;
          const result = await lossAndGrads(ctx.gpu, model, lora, batch, { dropoutSeed, lossChunkRows });
          const grads = await lora.readGrads();
          const ref: ReferenceLora = new Map();
          for (const init of inits) {
            const t = adapterTensors(lora.get(init.path)!, 1, dropoutSeed);
            ref.set(init.path, { a: init.a, b: init.b, r: init.r, scale: init.scale, dropoutP: t.dropout.p, seed: t.dropout.seed });
          }
          const want = referenceLossAndGrads(c, dequantized(c, m.weights, format), batch, loraReference(c, ref));

          // Random logits of std ~1 over 49152 tokens: the loss is near ln 49152 ≈ 10.8.
          expect(want.loss).toBeGreaterThan(10);
          expect(want.loss).toBeLessThan(13);
          expect(result.tokens).toBe(9);
          expect(Math.abs(result.loss - want.loss)).toBeLessThan(1e-4 * Math.abs(want.loss));
          expect(grads.size).toBe(14);
          for (const [path, g] of grads) {
            const dA = want.grads.get(`${path}.lora_A`)!;
            const dB = want.grads.get(`${path}.lora_B`)!;
            // The comparison means something only where the gradients are well above atol.
            expect(Math.max(...dA.map(Math.abs)), `${path} |dA|`).toBeGreaterThan(1e-3);
            expect(Math.max(...dB.map(Math.abs)), `${path} |dB|`).toBeGreaterThan(1e-3);
            expectClose(`${format} ${path} dA`, g.dA, dA, GRAD_TOL);
            expectClose(`${format} ${path} dB`, g.dB, dB, GRAD_TOL);
          }
        } finally {
          lora.destroy();
          model.destroy();
        }
      },
      STEP_TIMEOUT_MS,
    );
  }
});
