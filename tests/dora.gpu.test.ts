/**
 * DoRA on the GPU (methods/lora/gpu.ts with kernels/dora.ts) against the float64 references:
 * - the kernels on ragged shapes: the weight norm ‖W0 + s·B·A‖ and m / norm for f32 (nn.Linear and Conv1D), q8 and
 *   nf4 weights, and the element-wise steps (scaling with and without the bias, the magnitude terms, dropout);
 * - PEFT's magnitude init on the GPU (m = the row norms of the weight as the GPU holds it);
 * - logits and the gradients of lora_A, lora_B and lora_magnitude_vector on the tiny gpt2 (Conv1D), llama and qwen2,
 *   without dropout and with dropout 0.25, and on llama with q8 weights (the reference takes the decoded weights);
 * Training on each architecture (the loss falls, use_dora and the magnitudes in PEFT's keys, export → import, the
 * merge, checkpoints and resume) is in weight-methods-train.gpu.test.ts.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { GpuModel } from '../src/engine/gpu-model';
import { forwardLogits, lossAndGrads } from '../src/engine/training-pass';
import { CommandRecorder } from '../src/kernels/dispatch';
import { encodeDoraDropout, encodeDoraMagnitudeTerm, encodeDoraNorm, encodeDoraScale } from '../src/kernels/dora';
import { uploadWeight } from '../src/kernels/gpu-weight';
import { dequantizeWeight, packWeight } from '../src/kernels/quantize';
import { doraDropoutRef, doraMagnitudeTermRef, doraNormRef, doraScaleRef } from '../src/kernels/reference/dora';
import { readTensor, tensorFrom, zerosTensor } from '../src/kernels/tensor';
import type { WeightFormat, WeightLayout } from '../src/kernels/weight-format';
import { adapterTensors, GpuLoraSet, type LoraModuleInit } from '../src/methods/lora/gpu';
import { loraReference, type ReferenceLora } from '../src/methods/lora/reference';
import { loadModel, type LoadedModel } from '../src/model-io/load-model';
import { BrowserFilesSource } from '../src/model-io/model-source';
import { architectureOf } from '../src/model/architectures/index';
import type { ModelConfig } from '../src/model/config';
import { referenceForward, referenceLossAndGrads } from '../src/model/reference/reference-model';
import { linearOrientation } from '../src/model/reference/tape-ops';
import { linearModules, type HostWeights } from '../src/model/weight-names';
import { randomNormal, randomUniform } from '../src/util/random';
import { makeTinyModel } from './fixtures/tiny-models';
import { expectClose } from './helpers/compare';
import { useGpu } from './helpers/gpu';

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

function maxDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

describe('DoRA kernels on ragged shapes', () => {
  const N = 37;
  const K = 70;
  const r = 3;
  const cases: [WeightFormat, WeightLayout][] = [['f32', 'linear'], ['f32', 'conv1d'], ['q8', 'linear'], ['nf4', 'conv1d'], ['q4', 'linear']];
  it.each(cases)('dora_norm: ‖W0 + s·B·A‖ and m / norm, %s %s', async (format, layout) => {
    const d = ctx.gpu.device;
    const values = randomUniform(N * K, 1, -1, 1);
    const packed = packWeight(values, N, K, format, layout, 'w');
    const w0 = uploadWeight(d, packed, 'w');
    const a = randomUniform(r * K, 2, -0.5, 0.5);
    const b = randomUniform(N * r, 3, -0.5, 0.5);
    const m = randomUniform(N, 4, 0.5, 2);
    const t = { a: tensorFrom(d, a, [r, K], 'A'), b: tensorFrom(d, b, [N, r], 'B'), m: tensorFrom(d, m, [N], 'm'), norm: zerosTensor(d, [N], 'norm'), g: zerosTensor(d, [N], 'g') };
    const rec = new CommandRecorder(ctx.gpu);
    encodeDoraNorm(rec, { w0, ...t, scale: 1.7 });
    rec.submit();
    const want = doraNormRef({ w: dequantizeWeight(packed), a, b, m, N, K, r, scale: 1.7 });
    expectClose(`${format} ${layout} norm`, await readTensor(d, t.norm), want.norm, { atol: 1e-6, rtol: 1e-5 });
    expectClose(`${format} ${layout} g`, await readTensor(d, t.g), want.g, { atol: 1e-6, rtol: 1e-5 });
    for (const x of Object.values(t)) x.buffer.destroy();
    w0.words.destroy();
    w0.scales.destroy();
  });

  it('dora_scale, dora_magnitude_term and dora_dropout', async () => {
    const d = ctx.gpu.device;
    const M = 5;
    const x = randomUniform(M * N, 5, -1, 1);
    const y0 = randomUniform(M * N, 6, -1, 1);
    const g = randomUniform(N, 7, 0.5, 1.5);
    const bias = randomUniform(N, 8, -1, 1);
    const norm = randomUniform(N, 9, 0.5, 2);
    const tx = tensorFrom(d, x, [M, N], 'x');
    const ty = tensorFrom(d, y0, [M, N], 'y');
    const tg = tensorFrom(d, g, [N], 'g');
    const tb = tensorFrom(d, bias, [N], 'bias');
    const tn = tensorFrom(d, norm, [N], 'norm');
    const out1 = zerosTensor(d, [M, N], 'out1');
    const out2 = tensorFrom(d, y0, [M, N], 'out2');
    const out3 = zerosTensor(d, [M, N], 'out3');
    const out4 = tensorFrom(d, y0, [M, N], 'out4');
    const rec = new CommandRecorder(ctx.gpu);
    encodeDoraScale(rec, { x: tx, g: tg, shift: 0, bias: tb, out: out1 });
    encodeDoraScale(rec, { x: tx, g: tg, shift: 1, out: out2, accumulate: true });
    encodeDoraMagnitudeTerm(rec, { a: tx, b: ty, norm: tn, out: out3 });
    encodeDoraDropout(rec, { x: tx, dropout: { p: 0.3, seed: 1234 }, out: out4, accumulate: true });
    rec.submit();
    const tol = { atol: 1e-6, rtol: 1e-6 };
    expectClose('x ⊙ g + bias', await readTensor(d, out1), doraScaleRef(x, g, N, 0, bias), tol);
    expectClose('y + x ⊙ (g − 1)', await readTensor(d, out2), doraScaleRef(x, g, N, 1, null, y0), tol);
    expectClose('x ⊙ y / norm', await readTensor(d, out3), doraMagnitudeTermRef(x, y0, norm, N), tol);
    expectClose('y + dropout(x)', await readTensor(d, out4), doraDropoutRef(x, 0.3, 1234, y0), tol);
    for (const t of [tx, ty, tg, tb, tn, out1, out2, out3, out4]) t.buffer.destroy();
  });
});

const batch = {
  inputIds: [[5, 17, 99, 42, 7, 250], [11, 64, 128, 9, 0, 0]],
  attentionMask: [[1, 1, 1, 1, 1, 1], [1, 1, 1, 1, 0, 0]],
  labels: [[5, 17, 99, 42, 7, 250], [-100, 64, 128, 9, -100, -100]],
};

/** Host weights whose linear layers hold what `format` decodes to (the reference of a quantized GpuModel). */
function decodedWeights(c: ModelConfig, w: HostWeights, format: WeightFormat): HostWeights {
  if (format === 'f32') return w;
  const out: HostWeights = new Map(w);
  for (const s of linearModules(c)) {
    const t = w.get(`${s.path}.weight`)!;
    const dec = dequantizeWeight(packWeight(t.data, s.outFeatures, s.inFeatures, format, s.layout, s.path)); // [out, in]
    const data = new Float32Array(dec.length);
    if (s.layout === 'linear') data.set(dec);
    else for (let n = 0; n < s.outFeatures; n++) for (let k = 0; k < s.inFeatures; k++) data[k * s.outFeatures + n] = dec[n * s.inFeatures + k];
    out.set(`${s.path}.weight`, { shape: t.shape, data });
  }
  // An untied lm_head is packed too (GpuModel.upload).
  const head = architectureOf(c).names.lmHead;
  const lm = c.tieWordEmbeddings ? undefined : w.get(head);
  if (lm) out.set(head, { shape: lm.shape, data: Float32Array.from(dequantizeWeight(packWeight(lm.data, c.vocabSize, c.hiddenSize, format, 'linear', head))) });
  return out;
}

function rowNorms(c: ModelConfig, w: HostWeights, init: LoraModuleInit): Float64Array {
  const s = linearModules(c).find((m) => m.path === init.path)!;
  const W = linearOrientation(w.get(`${s.path}.weight`)!.data, s.layout, s.outFeatures, s.inFeatures);
  return doraNormRef({ w: W, a: init.a, b: init.b, m: new Float64Array(s.outFeatures), N: s.outFeatures, K: s.inFeatures, r: init.r, scale: init.scale }).norm;
}

// The kernel profile the device picks (direct on CPU drivers), and 'tiled' (what a real GPU runs) once.
const CASES: [(typeof KINDS)[number], WeightFormat, 'tiled' | null][] = [['gpt2', 'f32', null], ['llama', 'f32', null], ['qwen2', 'f32', null], ['llama', 'q8', null], ['qwen2', 'f32', 'tiled']];

describe.each(CASES)('%s (%s weights, kernels %s): DoRA against the float64 reference', (kind, format, profile) => {
  it("PEFT's magnitude init, logits and the gradients of A, B and m, without and with dropout", async () => {
    const chosen = ctx.gpu.kernels;
    if (profile) ctx.gpu.kernels = profile;
    const m = models.get(kind)!;
    const c = m.config;
    const w = decodedWeights(c, m.weights, format);
    const model = GpuModel.upload(ctx.gpu, c, m.weights, format);
    const specs = linearModules(c).filter((_, i) => i % 2 === 0);
    const inits = (dropoutP: number): LoraModuleInit[] =>
      specs.map((s, i) => ({
        path: s.path, r: 2, scale: 2, dropoutP,
        a: randomNormal(2 * s.inFeatures, 800 + 2 * i, 0.3), b: randomNormal(s.outFeatures * 2, 801 + 2 * i, 0.3),
        magnitude: null,
      }));
    const fresh = GpuLoraSet.create(ctx.gpu, model, inits(0));
    const sets: GpuLoraSet[] = [fresh];
    try {
      // Init: m = ‖W0 + s·B·A‖ of the decoded weight.
      const mags = await fresh.readMagnitudes();
      for (const init of inits(0)) expectClose(`${kind} init m ${init.path}`, mags.get(init.path)!, rowNorms(c, w, init), { atol: 1e-5, rtol: 1e-5 });
      // A magnitude that differs from the norm, so g ≠ 1.
      const withM = (dropoutP: number) =>
        inits(dropoutP).map((init, i) => ({ ...init, magnitude: Float32Array.from(rowNorms(c, w, init), (v, j) => v * (1 + 0.3 * Math.sin(7 * j + i))) }));
      const dropSeed = 4242;
      for (const dropoutP of format === 'f32' ? [0, 0.25] : [0]) {
        const gpuInits = withM(dropoutP);
        const set = GpuLoraSet.create(ctx.gpu, model, gpuInits);
        sets.push(set);
        const ref: ReferenceLora = new Map(
          gpuInits.map((i) => [i.path, { a: i.a, b: i.b, r: i.r, scale: i.scale, dropoutP: i.dropoutP, seed: adapterTensors(set.get(i.path)!, 1, dropSeed).dropout.seed, magnitude: i.magnitude! }]),
        );
        if (dropoutP === 0) {
          const logits = await forwardLogits(ctx.gpu, model, set, batch);
          const want = referenceForward(c, w, batch, loraReference(c, ref));
          expectClose(`${kind} logits`, logits, want, LOGIT_TOL);
          console.log(`${kind} ${format} ${ctx.gpu.kernels} DoRA: max |gpu − ref| logits ${maxDiff(logits, want).toExponential(2)}`);
        }
        const gpu = await lossAndGrads(ctx.gpu, model, set, batch, { dropoutSeed: dropSeed });
        const want = referenceLossAndGrads(c, w, batch, loraReference(c, ref));
        expect(Math.abs(gpu.loss - want.loss)).toBeLessThan(1e-4 * Math.max(1, Math.abs(want.loss)));
        let worst = 0;
        for (const [path, g] of await set.readGrads()) {
          for (const [suffix, got] of [['lora_A', g.dA], ['lora_B', g.dB], ['lora_magnitude_vector', g.dMagnitude!]] as const) {
            const ref = want.grads.get(`${path}.${suffix}`)!;
            expectClose(`${kind} dropout ${dropoutP} d ${path}.${suffix}`, got, ref, GRAD_TOL);
            worst = Math.max(worst, maxDiff(got, ref));
          }
          expect(Math.max(...g.dMagnitude!.map(Math.abs)), path).toBeGreaterThan(1e-7);
        }
        console.log(`${kind} ${format} ${ctx.gpu.kernels} DoRA dropout ${dropoutP}: loss ${gpu.loss.toFixed(5)} vs ${want.loss.toFixed(5)}, max |gpu − ref| grads ${worst.toExponential(2)}`);
      }
    } finally {
      ctx.gpu.kernels = chosen;
      for (const s of sets) s.destroy();
      model.destroy();
    }
  }, 300_000);
});
