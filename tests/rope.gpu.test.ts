/** RoPE kernel against the float64 reference (angles computed directly), its inverse, and the host table. */
import { describe, expect, it } from 'vitest';
import { ShapeError } from '../src/gpu/errors';
import { CommandRecorder } from '../src/kernels/dispatch';
import { indexTensorFrom } from '../src/kernels/index-tensor';
import { ropeRef } from '../src/kernels/reference/rope';
import { checkPositions, encodeRope, ropeTable } from '../src/kernels/rope';
import { readTensor, tensorFrom, zerosTensor } from '../src/kernels/tensor';
import { mulberry32, randomUniform } from '../src/util/random';
import { expectClose } from './helpers/compare';
import { useGpu } from './helpers/gpu';

const ctx = useGpu();
const TOL = { atol: 2e-6, rtol: 1e-5 };
const theta = 10000;

function randomPositions(M: number, maxPos: number, seed: number): Uint32Array {
  const next = mulberry32(seed);
  return Uint32Array.from({ length: M }, () => Math.floor(next() * maxPos));
}

describe('rope', () => {
  for (const [M, heads, hd, maxPos] of [[37, 3, 6, 64], [19, 2, 64, 2048]] as const) {
    it(`forward, inverse, and inverse ∘ forward = identity at M ${M}, heads ${heads}, hd ${hd}, maxPos ${maxPos}`, async () => {
      const dev = ctx.gpu.device;
      const width = heads * hd;
      const xh = randomUniform(M * width, 1);
      const pos = randomPositions(M, maxPos, 2);
      pos[0] = 0;
      pos[1] = maxPos - 1;
      const positions = indexTensorFrom(dev, pos, 'positions');
      const table = tensorFrom(dev, ropeTable(maxPos, hd, theta), [maxPos, hd / 2, 2], 'rope table');
      const fwd = tensorFrom(dev, xh, [M, width], 'q');
      const inv = tensorFrom(dev, xh, [M, width], 'dq');
      const roundTrip = tensorFrom(dev, xh, [M, width], 'k');
      const rec = new CommandRecorder(ctx.gpu);
      encodeRope(rec, { x: fwd, heads, headDim: hd, positions, table });
      encodeRope(rec, { x: inv, heads, headDim: hd, positions, table, inverse: true });
      encodeRope(rec, { x: roundTrip, heads, headDim: hd, positions, table });
      encodeRope(rec, { x: roundTrip, heads, headDim: hd, positions, table, inverse: true });
      rec.submit();
      const base = { x: xh, M, heads, headDim: hd, positions: pos, theta };
      expectClose('rope(x)', await readTensor(dev, fwd), ropeRef(base), TOL);
      expectClose('rope⁻¹(x)', await readTensor(dev, inv), ropeRef({ ...base, inverse: true }), TOL);
      expectClose('rope⁻¹(rope(x))', await readTensor(dev, roundTrip), xh, TOL);
    });
  }

  it('clamps a position past the table to its last row (never reads out of bounds)', async () => {
    const dev = ctx.gpu.device;
    const [M, heads, hd, maxPos] = [3, 1, 4, 8];
    const xh = randomUniform(M * heads * hd, 3);
    const x = tensorFrom(dev, xh, [M, heads * hd], 'q');
    const rec = new CommandRecorder(ctx.gpu);
    encodeRope(rec, {
      x, heads, headDim: hd,
      positions: indexTensorFrom(dev, Uint32Array.from([1, 8, 0xffffffff]), 'positions'),
      table: tensorFrom(dev, ropeTable(maxPos, hd, theta), [maxPos, hd / 2, 2], 'table'),
    });
    rec.submit();
    const ref = ropeRef({ x: xh, M, heads, headDim: hd, positions: [1, 7, 7], theta });
    expectClose('rope(x) clamped', await readTensor(dev, x), ref, TOL);
    expect(() => checkPositions([1, 8], maxPos, 'positions')).toThrow('positions: position 8 at index 1 (of 2) is outside [0, 8)');
  });

  it('checks headDim, x and the table', () => {
    const dev = ctx.gpu.device;
    const positions = indexTensorFrom(dev, new Uint32Array(4), 'positions');
    const table = zerosTensor(dev, [8, 3, 2], 'table');
    const rec = new CommandRecorder(ctx.gpu);
    expect(() => encodeRope(rec, { x: zerosTensor(dev, [4, 10], 'q'), heads: 2, headDim: 5, positions, table })).toThrow(/headDim must be even/);
    expect(() => encodeRope(rec, { x: zerosTensor(dev, [4, 10], 'q'), heads: 2, headDim: 6, positions, table })).toThrow(
      /"q" \(x\) has shape \[4, 10\], expected \[M, heads·headDim\] = \[4, 12\]/,
    );
    expect(() => encodeRope(rec, { x: zerosTensor(dev, [4, 8], 'q'), heads: 2, headDim: 4, positions, table })).toThrow(ShapeError);
    expect(() => encodeRope(rec, { x: zerosTensor(dev, [5, 12], 'q'), heads: 2, headDim: 6, positions, table })).toThrow(
      /index tensor "positions" \(positions\) has length 4, expected M = 5/,
    );
  });
});
