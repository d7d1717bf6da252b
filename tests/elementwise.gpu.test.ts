/** The element-wise kernel of the unfused path: dropout, and a + alpha·mask⊙b + bias. */
import { describe, it } from 'vitest';
import { CommandRecorder } from '../src/kernels/dispatch';
import { encodeElementwise } from '../src/kernels/plain-ops';
import { dropoutFactors } from '../src/kernels/reference/lora-linear';
import { readTensor, tensorFrom, zerosTensor } from '../src/kernels/tensor';
import { randomUniform } from '../src/util/random';
import { expectClose } from './helpers/compare';
import { useGpu } from './helpers/gpu';

const ctx = useGpu();
const TOL = { atol: 1e-6, rtol: 1e-6 };
const M = 21;
const N = 19;

describe('elementwise', () => {
  it('dropout alone matches the seeded mask', async () => {
    const d = ctx.gpu.device;
    const aHost = randomUniform(M * N, 1);
    const out = zerosTensor(d, [M, N], 'out');
    const rec = new CommandRecorder(ctx.gpu);
    encodeElementwise(rec, { a: tensorFrom(d, aHost, [M, N], 'a'), dropout: { p: 0.4, seed: 5 }, out });
    rec.submit();
    const mask = dropoutFactors(M, N, 0.4, 5);
    expectClose('dropout(a)', await readTensor(d, out), Array.from(aHost, (v, i) => v * mask[i]), TOL);
  });

  it('a + alpha·(mask ⊙ b) + bias', async () => {
    const d = ctx.gpu.device;
    const aHost = randomUniform(M * N, 2);
    const bHost = randomUniform(M * N, 3);
    const biasHost = randomUniform(N, 4);
    const out = zerosTensor(d, [M, N], 'out');
    const rec = new CommandRecorder(ctx.gpu);
    encodeElementwise(rec, {
      a: tensorFrom(d, aHost, [M, N], 'a'),
      b: tensorFrom(d, bHost, [M, N], 'b'),
      alpha: -0.75,
      bias: tensorFrom(d, biasHost, [N], 'bias'),
      dropout: { p: 0.2, seed: 9 },
      out,
    });
    rec.submit();
    const mask = dropoutFactors(M, N, 0.2, 9);
    const ref = Array.from(aHost, (v, i) => v - 0.75 * bHost[i] * mask[i] + biasHost[i % N]);
    expectClose('a + alpha·mask⊙b + bias', await readTensor(d, out), ref, TOL);
  });
});
