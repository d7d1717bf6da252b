/**
 * IA³ on the GPU:
 * - the element-wise kernel (ia3_scale.wgsl) against its float64 reference on ragged shapes: columns scaled by l at
 *   an adapter scale, with and without accumulation, and the product whose row sum is ia3_l's gradient;
 * - on the tiny GPT-2, Llama and Qwen2 with PEFT's default targets (output- and input-scaled modules), the logits
 *   and every ia3_l gradient against the float64 reference, KV-cache generation against the uncached forward, and
 *   the same logits through q8 weights (the base linear decodes them) within the quantization's error;
 * Training on each architecture (the loss falls, PEFT's files, export → import) is in weight-methods-train.gpu.test.ts.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { GpuModel } from '../src/engine/gpu-model';
import { generate } from '../src/engine/generate';
import { forwardLogits, lossAndGrads } from '../src/engine/training-pass';
import { CommandRecorder } from '../src/kernels/dispatch';
import { encodeIa3Scale, encodeProduct } from '../src/kernels/ia3';
import { columnDotRef, ia3ScaleRef } from '../src/kernels/reference/ia3';
import { encodeLoraWeightGrad } from '../src/kernels/lora-rank';
import { readTensor, tensorFrom, zerosTensor } from '../src/kernels/tensor';
import { GpuIa3Set } from '../src/methods/ia3/gpu';
import { ia3Reference, type ReferenceIa3 } from '../src/methods/ia3/reference';
import { loadModel, type LoadedModel } from '../src/model-io/load-model';
import { BrowserFilesSource } from '../src/model-io/model-source';
import { referenceForward, referenceLossAndGrads } from '../src/model/reference/reference-model';
import { ia3VectorShape, makeIA3Config, resolveIA3Targets } from '../src/peft/ia3-config';
import { randomNormal, randomUniform } from '../src/util/random';
import { makeTinyModel } from './fixtures/tiny-models';
import { expectClose } from './helpers/compare';
import { useGpu } from './helpers/gpu';

const ctx = useGpu();
const KINDS = ['gpt2', 'llama', 'qwen2'] as const;
const LOGIT_TOL = { atol: 1e-4, rtol: 1e-3 };
const GRAD_TOL = { atol: 2e-5, rtol: 2e-3 };
const TOL = { atol: 1e-6, rtol: 1e-6 };

const models = new Map<string, LoadedModel>();
beforeAll(async () => {
  for (const kind of KINDS) {
    models.set(kind, await loadModel(new BrowserFilesSource([...makeTinyModel(kind)].map(([n, b]) => new File([b as Uint8Array<ArrayBuffer>], n)))));
  }
});

describe('ia3_scale kernel', () => {
  it.each([[1, 1], [7, 13], [37, 66], [130, 5]])('[%i, %i]: x ⊙ (1 + s(l − 1)) (+ out), a ⊙ b, and Σ_rows a ⊙ b', async (M, N) => {
    const d = ctx.gpu.device;
    const x = randomUniform(M * N, 1);
    const l = randomUniform(N, 2, 0.5, 1.5);
    const prior = randomUniform(M * N, 3);
    const xT = tensorFrom(d, x, [M, N], 'x');
    const lT = tensorFrom(d, l, [N, 1], 'l');
    const scaled = zerosTensor(d, [M, N], 'scaled');
    const acc = tensorFrom(d, prior, [M, N], 'acc');
    const prod = zerosTensor(d, [M, N], 'prod');
    const ones = tensorFrom(d, new Float32Array(M).fill(1), [M, 1], 'ones');
    const dl = zerosTensor(d, [1, N], 'dl');
    const rec = new CommandRecorder(ctx.gpu);
    encodeIa3Scale(rec, { x: xT, l: lT, out: scaled });
    encodeIa3Scale(rec, { x: xT, l: lT, alpha: 0.5, out: acc, accumulate: true });
    encodeProduct(rec, { a: xT, b: acc, out: prod });
    encodeLoraWeightGrad(rec, 'dl', { left: ones, right: prod, out: dl, scale: 1 });
    rec.submit();
    expectClose('x ⊙ l', await readTensor(d, scaled), ia3ScaleRef(x, l, M, N), TOL);
    const accRef = ia3ScaleRef(x, l, M, N, 0.5, prior);
    expectClose('out + x ⊙ (1 + 0.5(l − 1))', await readTensor(d, acc), accRef, TOL);
    expectClose('x ⊙ acc', await readTensor(d, prod), Array.from(x, (v, i) => v * accRef[i]), TOL);
    expectClose('Σ_rows x ⊙ acc', await readTensor(d, dl), columnDotRef(x, accRef, M, N), { atol: 1e-5, rtol: 1e-5 });
    for (const t of [xT, lT, scaled, acc, prod, ones, dl]) t.buffer.destroy();
  });

  it('refuses a vector that does not fit the columns, naming it', () => {
    const d = ctx.gpu.device;
    const rec = new CommandRecorder(ctx.gpu);
    expect(() => encodeIa3Scale(rec, { x: zerosTensor(d, [3, 4], 'x'), l: zerosTensor(d, [5, 1], 'm.ia3_l'), out: zerosTensor(d, [3, 4], 'y') })).toThrow(
      'tensor "m.ia3_l" (l) has shape [5, 1], expected 4 values',
    );
  });
});

const batch = {
  inputIds: [[5, 17, 99, 42, 7, 250], [11, 64, 128, 9, 0, 0]],
  attentionMask: [[1, 1, 1, 1, 1, 1], [1, 1, 1, 1, 0, 0]],
  labels: [[5, 17, 99, 42, 7, 250], [-100, 64, 128, 9, -100, -100]],
};

describe.each(KINDS)('%s: IA³ against the float64 reference', (kind) => {
  it('logits, every ia3_l gradient, cached generation, and q8 weights', async () => {
    const m = models.get(kind)!;
    const c = m.config;
    const targets = resolveIA3Targets(makeIA3Config({}, c, { nameOrPath: 'tiny' }), c);
    const inits = targets.map((t, i) => {
      const [rows, cols] = ia3VectorShape(t);
      return { path: t.path, feedforward: t.feedforward, l: Float32Array.from(randomNormal(rows * cols, 900 + i, 0.3), (x) => 1 + x) };
    });
    const refIa3: ReferenceIa3 = new Map(inits.map((i) => [i.path, { feedforward: i.feedforward, l: i.l }]));
    const ref = ia3Reference(c, refIa3);
    const model = GpuModel.upload(ctx.gpu, c, m.weights, 'f32');
    const set = GpuIa3Set.create(ctx.gpu, model, inits);
    const q8 = GpuModel.upload(ctx.gpu, c, m.weights, 'q8');
    const setQ8 = GpuIa3Set.create(ctx.gpu, q8, inits);
    try {
      const logits = await forwardLogits(ctx.gpu, model, set, batch);
      const want = referenceForward(c, m.weights, batch, ref);
      expectClose(`${kind} logits`, logits, want, LOGIT_TOL);
      const gpu = await lossAndGrads(ctx.gpu, model, set, batch);
      const wantG = referenceLossAndGrads(c, m.weights, batch, ref);
      expect(Math.abs(gpu.loss - wantG.loss)).toBeLessThan(1e-4 * Math.max(1, Math.abs(wantG.loss)));
      let worst = 0;
      for (const [path, g] of await set.readGrads()) {
        expectClose(`${kind} d ${path}.ia3_l`, g, wantG.grads.get(`${path}.ia3_l`)!, GRAD_TOL);
        worst = Math.max(worst, maxDiff(g, wantG.grads.get(`${path}.ia3_l`)!));
        expect(Math.max(...g.map(Math.abs)), path).toBeGreaterThan(1e-7);
      }
      console.log(`${kind}: max |gpu − ref| logits ${maxDiff(logits, want)}, ia3_l grads ${worst}`);

      const prompt = [5, 17, 99];
      const cached = await generate(ctx.gpu, model, set, prompt, { maxNewTokens: 4, eosTokenIds: [] });
      const seq = [...prompt];
      for (let i = 0; i < 4; i++) {
        const l = await forwardLogits(ctx.gpu, model, set, { inputIds: [seq] });
        const last = l.subarray(l.length - c.vocabSize);
        seq.push(last.indexOf(Math.max(...last)));
      }
      expect(cached.tokens).toEqual(seq.slice(prompt.length));

      // q8: the same adapter on decoded weights; the base model's own q8 error bounds the difference.
      const baseF32 = await forwardLogits(ctx.gpu, model, set, batch, { adapterScale: 0 });
      const baseQ8 = await forwardLogits(ctx.gpu, q8, setQ8, batch, { adapterScale: 0 });
      const adaptedQ8 = await forwardLogits(ctx.gpu, q8, setQ8, batch);
      let baseErr = 0;
      let adaptedErr = 0;
      for (let i = 0; i < logits.length; i++) {
        baseErr = Math.max(baseErr, Math.abs(baseQ8[i] - baseF32[i]));
        adaptedErr = Math.max(adaptedErr, Math.abs(adaptedQ8[i] - logits[i]));
      }
      expect(adaptedErr).toBeLessThan(Math.max(1e-3, 4 * baseErr));
      expect(maxDiff(adaptedQ8, baseQ8)).toBeGreaterThan(10 * adaptedErr);
    } finally {
      set.destroy();
      setQ8.destroy();
      model.destroy();
      q8.destroy();
    }
  }, 300_000);
});

function maxDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}
