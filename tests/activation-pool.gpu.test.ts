/**
 * The activation pool: size classes, buffers handed back out in the same order after a release (so a repeated
 * pass binds the same buffers), index tensors, zeroed tensors, and idle buffers freed.
 */
import { describe, expect, it } from 'vitest';
import { ActivationPool, sizeClass } from '../src/engine/activation-pool';
import { readTensor } from '../src/kernels/tensor';
import { readBack } from '../src/gpu/buffers';
import { useGpu } from './helpers/gpu';

const ctx = useGpu();

describe('sizeClass', () => {
  it('rounds up to a quarter of the power of two, at least 256 bytes, at most 25 % above', () => {
    expect(sizeClass(4)).toBe(256);
    expect(sizeClass(1024)).toBe(1024);
    expect(sizeClass(1025)).toBe(1280);
    expect(sizeClass(1300)).toBe(1536);
    for (const n of [257, 1000, 4097, 123_457, 9_999_999]) {
      expect(sizeClass(n)).toBeGreaterThanOrEqual(n);
      expect(sizeClass(n)).toBeLessThanOrEqual(1.25 * n);
    }
  });
});

describe('ActivationPool', () => {
  it('gives a repeated pass the same buffers in the same order, also for slightly different shapes', () => {
    const pool = new ActivationPool(ctx.gpu.device);
    try {
      const pass = (rows: number) => [pool.tensor([rows, 64], 'a'), pool.tensor([rows], 'b'), pool.tensor([rows, 64], 'c')].map((t) => t.buffer);
      const first = pass(30);
      expect(pool.bytesInUse).toBe(4 * (30 * 64 + 30 + 30 * 64));
      pool.release();
      expect(pool.bytesInUse).toBe(0);
      const same = (buffers: GPUBuffer[]) => buffers.every((b, i) => b === first[i]);
      expect(same(pass(30))).toBe(true);
      pool.release();
      // 29 rows fall in the same size classes as 30 (8 KiB for [rows, 64]); 24 rows do not.
      expect(same(pass(29))).toBe(true);
      pool.release();
      expect(same(pass(24))).toBe(false);
      expect(pool.snapshot().created).toBe(5);
      pool.release();
      expect(same(pass(30))).toBe(true);
      pool.release();
    } finally {
      pool.destroy();
    }
  });

  it('writes index tensors and zeroes what is asked to be zero', async () => {
    const d = ctx.gpu.device;
    const pool = new ActivationPool(d);
    try {
      const t = pool.tensor([8], 'dirty');
      d.queue.writeBuffer(t.buffer, 0, new Float32Array(8).fill(3));
      pool.release();
      const z = pool.tensor([8], 'zeroed', { zeroed: true });
      expect(z.buffer).toBe(t.buffer);
      expect(Array.from(await readTensor(d, z))).toEqual(new Array(8).fill(0));
      const ids = pool.indices(Uint32Array.of(5, 6, 7), 'ids');
      expect(ids.length).toBe(3);
      expect(Array.from(new Uint32Array(await readBack(d, ids.buffer, 12)))).toEqual([5, 6, 7]);
      // Index tensors are not activations.
      expect(pool.bytesInUse).toBe(32);
    } finally {
      pool.destroy();
    }
  });

  it('frees buffers no pass used for two releases', () => {
    const pool = new ActivationPool(ctx.gpu.device);
    try {
      pool.tensor([1000], 'big');
      pool.release();
      const held = pool.snapshot().bytesHeld;
      expect(held).toBe(sizeClass(4000));
      pool.tensor([10], 'small');
      pool.release();
      pool.tensor([10], 'small');
      pool.release();
      pool.tensor([10], 'small');
      pool.release();
      expect(pool.snapshot().bytesHeld).toBe(sizeClass(40));
    } finally {
      pool.destroy();
    }
  });

  it('hands a buffer freed in the pass to a later tensor of its size class, and counts the peak, not the sum', () => {
    const pool = new ActivationPool(ctx.gpu.device);
    try {
      const a = pool.tensor([256], 'a');
      const mark = pool.mark();
      const b = pool.tensor([256], 'b');
      const c = pool.tensor([64], 'c');
      pool.freeSince(mark, [c]);
      expect(pool.bytesInUse).toBe(4 * (256 + 64));
      const d = pool.tensor([250], 'd'); // the same size class as b
      expect(d.buffer).toBe(b.buffer);
      pool.free(a);
      const e = pool.tensor([256], 'e');
      expect(e.buffer).toBe(a.buffer);
      expect(pool.peakBytes).toBe(4 * (256 + 256 + 64));
      expect(pool.bytesInUse).toBe(4 * (64 + 250 + 256));
      const foreign = ctx.gpu.device.createBuffer({ size: 256, usage: GPUBufferUsage.STORAGE });
      expect(() => pool.free({ buffer: foreign, name: 'foreign' })).toThrow(/"foreign" is not in use/);
      foreign.destroy();
      pool.release();
      expect(pool.snapshot().lastPeakBytes).toBe(4 * (256 + 256 + 64));
      expect(pool.snapshot().created).toBe(3);
    } finally {
      pool.destroy();
    }
  });

  it('never gives a buffer freed in the pass to a tensor the host writes (its write would land before the pass runs)', () => {
    const pool = new ActivationPool(ctx.gpu.device);
    try {
      const a = pool.tensor([64], 'a');
      pool.free(a);
      expect(pool.tensor([64], 'host', { hostWritten: true }).buffer).not.toBe(a.buffer);
      expect(pool.tensor([64], 'zeros', { zeroed: true }).buffer).not.toBe(a.buffer);
      expect(pool.indices(new Uint32Array(64), 'ids').buffer).not.toBe(a.buffer);
      expect(pool.tensor([64], 'gpu-written').buffer).toBe(a.buffer);
    } finally {
      pool.destroy();
    }
  });

  it('keeps whole-pass tensors through freeSince, and gives the next pass the same buffers in the same order', () => {
    const pool = new ActivationPool(ctx.gpu.device);
    try {
      const pass = () => {
        const start = pool.mark();
        const kept = pool.tensor([32, 1], 'ones', { hostWritten: true, wholePass: true });
        const x = pool.tensor([128], 'x');
        pool.freeSince(start);
        const y = pool.tensor([128], 'y'); // reuses x's buffer
        return [kept.buffer, x.buffer, y.buffer];
      };
      const first = pass();
      expect(first[2]).toBe(first[1]);
      expect(pool.bytesInUse).toBe(4 * (32 + 128));
      pool.release();
      expect(pass()).toEqual(first);
    } finally {
      pool.destroy();
    }
  });
});
