/**
 * The matmuls on their own (no LoRA term): x·Wᵀ and dy·W for every W0 format and layout, with the kernels of
 * both kernel profiles ('tiled' and 'direct'), and the naive matmul with each transpose combination, against the float64 reference.
 */
import { describe, expect, it } from 'vitest';
import { CommandRecorder } from '../src/kernels/dispatch';
import { uploadWeight } from '../src/kernels/gpu-weight';
import { encodeLinearBackwardInput, encodeLinearForward } from '../src/kernels/linear';
import { encodeNaiveMatmul } from '../src/kernels/plain-ops';
import { dequantizeWeight, packWeight } from '../src/kernels/quantize';
import { matmulAtB, matmulDyW, matmulXWt } from '../src/kernels/reference/matmul';
import { readTensor, tensorFrom, zerosTensor } from '../src/kernels/tensor';
import { WEIGHT_FORMATS, WEIGHT_LAYOUTS } from '../src/kernels/weight-format';
import { randomUniform } from '../src/util/random';
import { expectClose } from './helpers/compare';
import { useGpu } from './helpers/gpu';

const ctx = useGpu();
const TOL = { atol: 2e-5, rtol: 2e-4 };

function transpose(a: ArrayLike<number>, rows: number, cols: number): Float32Array {
  const t = new Float32Array(rows * cols);
  for (let i = 0; i < rows; i++) for (let j = 0; j < cols; j++) t[j * rows + i] = a[i * cols + j];
  return t;
}

for (const kernels of ['tiled', 'direct'] as const) {
describe(`${kernels} matmul x·Wᵀ and dy·W with W0 decoded in the loop`, () => {
  const M = 66;
  const K = 97;
  const N = 75;
  for (const format of WEIGHT_FORMATS) {
    for (const layout of WEIGHT_LAYOUTS) {
      it(`${format}, ${layout}: M${M} K${K} N${N}, overwrite then accumulate`, async () => {
        ctx.gpu.kernels = kernels;
        const d = ctx.gpu.device;
        const logical = randomUniform(N * K, 1, -1, 1);
        const packed = packWeight(layout === 'linear' ? logical : transpose(logical, N, K), N, K, format, layout);
        const w = dequantizeWeight(packed);
        const w0 = uploadWeight(d, packed, 'w0');
        const xHost = randomUniform(M * K, 2);
        const dyHost = randomUniform(M * N, 3);
        const x = tensorFrom(d, xHost, [M, K], 'x');
        const dy = tensorFrom(d, dyHost, [M, N], 'dy');
        const y = zerosTensor(d, [M, N], 'y');
        const dx = tensorFrom(d, randomUniform(M * K, 4), [M, K], 'dx');
        const dxPrior = await readTensor(d, dx);

        const rec = new CommandRecorder(ctx.gpu);
        encodeLinearForward(rec, { x, w0, y });
        encodeLinearBackwardInput(rec, { dy, w0, dx, accumulate: true });
        rec.submit();

        expectClose('x·Wᵀ', await readTensor(d, y), matmulXWt(xHost, M, K, w, N), TOL);
        const ref = matmulDyW(dyHost, M, N, w, K).map((v, i) => v + dxPrior[i]);
        expectClose('dx + dy·W', await readTensor(d, dx), ref, TOL);
      });
    }
  }
});
}

describe('packed W0 on the GPU', () => {
  it('quantized W0 never takes more than its packed bytes on the GPU', () => {
    const packed = packWeight(randomUniform(64 * 128, 9), 64, 128, 'q4', 'linear');
    const w0 = uploadWeight(ctx.gpu.device, packed, 'w0');
    // 4 bits per value plus one f32 scale per 32 values.
    expect(w0.bytes).toBe((64 * 128) / 2 + ((64 * 128) / 32) * 4);
    expect(w0.words.size + w0.scales.size).toBe(w0.bytes);
  });
});

describe('naive matmul', () => {
  const M = 13;
  const K = 9;
  const N = 11;
  for (const transA of [false, true]) {
    for (const transB of [false, true]) {
      it(`transA=${transA} transB=${transB}, alpha 0.5`, async () => {
        const d = ctx.gpu.device;
        const aLogical = randomUniform(M * K, 20); // [M, K]
        const bLogical = randomUniform(K * N, 21); // [K, N]
        const a = transA ? tensorFrom(d, transpose(aLogical, M, K), [K, M], 'a') : tensorFrom(d, aLogical, [M, K], 'a');
        const b = transB ? tensorFrom(d, transpose(bLogical, K, N), [N, K], 'b') : tensorFrom(d, bLogical, [K, N], 'b');
        const c = zerosTensor(d, [M, N], 'c');
        const rec = new CommandRecorder(ctx.gpu);
        encodeNaiveMatmul(rec, { a, b, c, transA, transB, alpha: 0.5 });
        rec.submit();
        // a·b = (aᵀ)ᵀ·b: use the reference's AᵀB form on the transposed A.
        const ref = matmulAtB(transpose(aLogical, M, K), K, M, bLogical, N).map((v) => 0.5 * v);
        expectClose('c', await readTensor(d, c), ref, TOL);
      });
    }
  }
});
