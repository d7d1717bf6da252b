import { describe, expect, it } from 'vitest';
import { encodeCopyColumns } from '../src/kernels/copy-columns';
import { CommandRecorder } from '../src/kernels/dispatch';
import { copyColumnsRef } from '../src/kernels/reference/copy-columns';
import { readTensor, tensorFrom } from '../src/kernels/tensor';
import { randomUniform } from '../src/util/random';
import { expectClose } from './helpers/compare';
import { useGpu } from './helpers/gpu';

const ctx = useGpu();

describe('copy_columns', () => {
  it('splits a fused [M, 3d] projection and merges gradients back with accumulation', async () => {
    const d = ctx.gpu.device;
    const M = 11;
    const w = 7;
    const fusedHost = randomUniform(M * 3 * w, 1);
    const partHost = randomUniform(M * w, 2);
    const backHost = randomUniform(M * 3 * w, 3);
    const fused = tensorFrom(d, fusedHost, [M, 3 * w], 'qkv');
    const part = tensorFrom(d, partHost, [M, w], 'k');
    const back = tensorFrom(d, backHost, [M, 3 * w], 'dqkv');
    const rec = new CommandRecorder(ctx.gpu);
    encodeCopyColumns(rec, { src: fused, srcOffset: w, dst: part, dstOffset: 0, width: w });
    encodeCopyColumns(rec, { src: fused, srcOffset: 0, dst: back, dstOffset: 2 * w, width: w, accumulate: true });
    rec.submit();
    const exact = { atol: 0, rtol: 0 };
    expectClose('k', await readTensor(d, part), copyColumnsRef(fusedHost, 3 * w, w, partHost, w, 0, M, w, false), exact);
    expectClose('dqkv', await readTensor(d, back), copyColumnsRef(fusedHost, 3 * w, 0, backHost, 3 * w, 2 * w, M, w, true), { atol: 1e-6, rtol: 1e-6 });
  });

  it('refuses column ranges outside either matrix', () => {
    const d = ctx.gpu.device;
    const a = tensorFrom(d, new Float32Array(6), [2, 3], 'a');
    const b = tensorFrom(d, new Float32Array(4), [2, 2], 'b');
    const rec = new CommandRecorder(ctx.gpu);
    expect(() => encodeCopyColumns(rec, { src: a, srcOffset: 2, dst: b, dstOffset: 0, width: 2 })).toThrow(/out of range/);
  });
});
