/**
 * The fused LoRA linear kernels against the float64 reference, for every W0 format and both layouts, on
 * ragged shapes that are not multiples of the 64×64 tile, the 32-step contraction or the quantization group.
 * The reference uses the dequantized W0, so the comparison measures the kernels, not the quantization error.
 * Both kernel profiles run: 'tiled' (tiled matmuls, split reductions) and 'direct' (direct matmuls, for CPU drivers).
 */
import { describe, it } from 'vitest';
import type { KernelProfile } from '../src/gpu/device';
import { runLoraBackward } from '../src/kernels/lora-linear-host';
import { dequantizeWeight, packWeight } from '../src/kernels/quantize';
import { loraLinearBackwardRef, loraLinearForwardRef } from '../src/kernels/reference/lora-linear';
import { WEIGHT_FORMATS, WEIGHT_LAYOUTS, type WeightFormat, type WeightLayout } from '../src/kernels/weight-format';
import { loraScaling } from '../src/peft/lora-scaling';
import { randomUniform } from '../src/util/random';
import { expectClose } from './helpers/compare';
import { useGpu } from './helpers/gpu';

const ctx = useGpu();
const TOL = { atol: 2e-5, rtol: 2e-4 };

/** Source-layout values of a logical [N, K] weight: [N, K] for linear, [K, N] for conv1d. */
function sourceLayout(logical: Float32Array, N: number, K: number, layout: WeightLayout): Float32Array {
  if (layout === 'linear') return logical;
  const t = new Float32Array(N * K);
  for (let n = 0; n < N; n++) for (let k = 0; k < K; k++) t[k * N + n] = logical[n * K + k];
  return t;
}

interface Case {
  M: number;
  K: number;
  N: number;
  r: number;
  dropoutP: number;
  bias: boolean;
  rslora: boolean;
}

async function check(kernels: KernelProfile, format: WeightFormat, layout: WeightLayout, c: Case, seed: number) {
  const { M, K, N, r } = c;
  ctx.gpu.kernels = kernels;
  const logical = randomUniform(N * K, seed, -0.5, 0.5);
  const w0 = packWeight(sourceLayout(logical, N, K, layout), N, K, format, layout);
  const input = {
    x: randomUniform(M * K, seed + 1),
    M, K, N, r,
    w0,
    bias: c.bias ? randomUniform(N, seed + 2) : null,
    a: randomUniform(r * K, seed + 3, -0.3, 0.3),
    b: randomUniform(N * r, seed + 4, -0.3, 0.3),
    scale: loraScaling(16, r, c.rslora),
    dropoutP: c.dropoutP,
    seed: 1234 + seed,
    dy: randomUniform(M * N, seed + 5),
  };
  const gpu = await runLoraBackward(ctx.gpu, input);
  const w = dequantizeWeight(w0);
  const fwd = loraLinearForwardRef({ ...input, w });
  const bwd = loraLinearBackwardRef({ ...input, w });
  const tag = `${kernels} ${format}/${layout} M${M} K${K} N${N} r${r} p${c.dropoutP}`;
  expectClose(`${tag} xa`, gpu.xa, fwd.xa, TOL);
  expectClose(`${tag} y`, gpu.y, fwd.y, TOL);
  expectClose(`${tag} dx`, gpu.dx, bwd.dx, TOL);
  expectClose(`${tag} dA`, gpu.dA, bwd.dA, TOL);
  expectClose(`${tag} dB`, gpu.dB, bwd.dB, TOL);
}

for (const kernels of ['tiled', 'direct'] as const) {
describe(`fused LoRA linear (${kernels} kernel profile), forward and backward, against the float64 reference`, () => {
  let seed = 10;
  for (const format of WEIGHT_FORMATS) {
    for (const layout of WEIGHT_LAYOUTS) {
      it(`${format}, ${layout} layout, ragged shape with bias and dropout`, async () => {
        await check(kernels, format, layout, { M: 37, K: 70, N: 67, r: 5, dropoutP: 0.25, bias: true, rslora: false }, (seed += 10));
      });
    }
  }

  it('crosses several tiles in every direction (f32, linear), rsLoRA scaling, no dropout', async () => {
    await check(kernels, 'f32', 'linear', { M: 130, K: 100, N: 129, r: 8, dropoutP: 0, bias: false, rslora: true }, 500);
  });

  it('rank above one contraction step (r = 40) and K below one group (nf4, conv1d)', async () => {
    await check(kernels, 'nf4', 'conv1d', { M: 9, K: 20, N: 70, r: 40, dropoutP: 0.1, bias: true, rslora: false }, 600);
  });

  it('K a multiple of 8 and N of 4 (f32, conv1d): the direct kernels skip their tail masks', async () => {
    await check(kernels, 'f32', 'conv1d', { M: 21, K: 64, N: 72, r: 3, dropoutP: 0.2, bias: true, rslora: false }, 800);
  });

  it('a single token (M = 1), as in generation', async () => {
    await check(kernels, 'q4', 'linear', { M: 1, K: 64, N: 96, r: 4, dropoutP: 0, bias: true, rslora: false }, 700);
  });
});
}
