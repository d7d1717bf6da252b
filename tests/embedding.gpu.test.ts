/** Embedding lookup against the float64 reference, with and without learned positions; id validation. */
import { describe, expect, it } from 'vitest';
import { ShapeError } from '../src/gpu/errors';
import { CommandRecorder } from '../src/kernels/dispatch';
import { checkTokenIds, encodeEmbedding } from '../src/kernels/embedding';
import { indexTensorFrom } from '../src/kernels/index-tensor';
import { embeddingRef } from '../src/kernels/reference/embedding';
import { readTensor, tensorFrom, zerosTensor } from '../src/kernels/tensor';
import { mulberry32, randomUniform } from '../src/util/random';
import { expectClose } from './helpers/compare';
import { useGpu } from './helpers/gpu';

const ctx = useGpu();
const EXACT = { atol: 0, rtol: 0 };
const TOL = { atol: 1e-7, rtol: 1e-7 }; // one f32 addition
const M = 37;
const d = 70;
const V = 301;
const P = 50;

function randomIds(n: number, limit: number, seed: number): Uint32Array {
  const next = mulberry32(seed);
  return Uint32Array.from({ length: n }, () => Math.floor(next() * limit));
}

describe('embedding', () => {
  it('token lookup, and token + learned position', async () => {
    const dev = ctx.gpu.device;
    const tableH = randomUniform(V * d, 1);
    const posTableH = randomUniform(P * d, 2);
    const idsH = randomIds(M, V, 3);
    idsH[0] = 0;
    idsH[1] = V - 1;
    const posH = Uint32Array.from({ length: M }, (_, m) => (m * 7) % P);
    checkTokenIds(idsH, V, 'ids');
    const table = tensorFrom(dev, tableH, [V, d], 'wte');
    const ids = indexTensorFrom(dev, idsH, 'ids');
    const plain = zerosTensor(dev, [M, d], 'h0 (tokens)');
    const withPos = zerosTensor(dev, [M, d], 'h0');
    const rec = new CommandRecorder(ctx.gpu);
    encodeEmbedding(rec, { table, ids, out: plain });
    encodeEmbedding(rec, {
      table, ids, out: withPos,
      positionTable: tensorFrom(dev, posTableH, [P, d], 'wpe'),
      positions: indexTensorFrom(dev, posH, 'positions'),
    });
    rec.submit();
    expectClose('wte[ids]', await readTensor(dev, plain), embeddingRef({ table: tableH, V, d, ids: idsH }), EXACT);
    const ref = embeddingRef({ table: tableH, V, d, ids: idsH, positionTable: posTableH, P, positions: posH });
    expectClose('wte[ids] + wpe[pos]', await readTensor(dev, withPos), ref, TOL);
  });

  it('clamps an out-of-range id to the last row instead of reading out of bounds', async () => {
    const dev = ctx.gpu.device;
    const tableH = randomUniform(5 * 3, 4);
    const out = zerosTensor(dev, [3, 3], 'out');
    const rec = new CommandRecorder(ctx.gpu);
    encodeEmbedding(rec, { table: tensorFrom(dev, tableH, [5, 3], 'wte'), ids: indexTensorFrom(dev, Int32Array.from([2, 5, -1]), 'ids'), out });
    rec.submit();
    expectClose('clamped', await readTensor(dev, out), embeddingRef({ table: tableH, V: 5, d: 3, ids: [2, 4, 4] }), EXACT);
  });

  it('checkTokenIds names the position and the value', () => {
    expect(() => checkTokenIds([0, 300, 301, 2], V, 'ids')).toThrow('ids: token id 301 at index 2 (of 4) is outside [0, 301) (vocabulary size)');
    expect(() => checkTokenIds(Int32Array.from([-1]), V, 'batch 3 ids')).toThrow(/token id -1 at index 0/);
    expect(() => checkTokenIds([1.5], V, 'ids')).toThrow(RangeError);
    expect(() => checkTokenIds(Uint32Array.from([0, 1, 300]), V, 'ids')).not.toThrow();
  });

  it('checks shapes: out, positions length, position table width, positions without a table', () => {
    const dev = ctx.gpu.device;
    const table = zerosTensor(dev, [10, 4], 'wte');
    const ids = indexTensorFrom(dev, new Uint32Array(3), 'ids');
    const rec = new CommandRecorder(ctx.gpu);
    expect(() => encodeEmbedding(rec, { table, ids, out: zerosTensor(dev, [3, 5], 'h0') })).toThrow(
      /"h0" \(out\) has shape \[3, 5\], expected \[M, d\] = \[3, 4\]/,
    );
    const out = zerosTensor(dev, [3, 4], 'h0');
    const wpe = zerosTensor(dev, [8, 4], 'wpe');
    const pos2 = indexTensorFrom(dev, new Uint32Array(2), 'pos');
    const pos3 = indexTensorFrom(dev, new Uint32Array(3), 'pos');
    expect(() => encodeEmbedding(rec, { table, ids, out, positionTable: wpe, positions: pos2 })).toThrow(
      /"pos" \(positions\) has length 2, expected M = 3/,
    );
    expect(() => encodeEmbedding(rec, { table, ids, out, positionTable: zerosTensor(dev, [8, 5], 'wpe5'), positions: pos3 })).toThrow(
      /"wpe5" \(positionTable\) has shape \[8, 5\], expected \[P, d\] = \[8, 4\]/,
    );
    expect(() => encodeEmbedding(rec, { table, ids, out, positions: pos3 })).toThrow(ShapeError);
  });
});
