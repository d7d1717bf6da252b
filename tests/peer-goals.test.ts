/**
 * The goals bench:peers checks its rows against (bench/peers/goals.ts): which row gets which least ratio. No
 * timing here; the rows are made up.
 */
import { describe, expect, it } from 'vitest';
import { goalFor, OURS_F32 } from '../bench/peers/goals';
import type { PeerRow } from '../bench/peers/page';

const row = (name: string, peer: string, ratio = 1): PeerRow => ({ name, shape: 'T=512 d=768 r=8', ours_ms: 10, peer, peer_ms: 10 * ratio, ratio });

describe('goalFor', () => {
  it('asks 3× of TF.js for a train step and 1.5× of ORT for a forward', () => {
    expect(goalFor(row('LoRA train step (fwd+bwd+AdamW), W0 nf4', 'tfjs-webgpu'))).toBe(3);
    expect(goalFor(row('LoRA forward, W0 f32', 'ort-webgpu'))).toBe(1.5);
  });

  it('asks q4 and nf4 to stay within 1.1× of the f32 time, and sets no goal for q8', () => {
    const q4 = goalFor(row('LoRA train step, W0 q4 vs f32', OURS_F32));
    const nf4 = goalFor(row('LoRA forward, W0 nf4 vs f32', OURS_F32));
    expect(q4).toBeCloseTo(1 / 1.1, 12);
    expect(nf4).toBeCloseTo(1 / 1.1, 12);
    // 1.1× the f32 time is ratio 0.909…: a row at 1.09× meets it, one at 1.11× does not.
    expect(1 / 1.09).toBeGreaterThanOrEqual(nf4!);
    expect(1 / 1.11).toBeLessThan(nf4!);
    expect(goalFor(row('LoRA forward, W0 q8 vs f32', OURS_F32))).toBeNull();
    expect(goalFor(row('something else', 'another peer'))).toBeNull();
  });
});
