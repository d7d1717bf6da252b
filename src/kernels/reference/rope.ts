/**
 * Float64 reference of rotary position embedding, HF rotate-half convention (apply_rotary_pos_emb):
 *   q_embed = q·cos + rotate_half(q)·sin, rotate_half(q) = cat(−q[hd/2:], q[:hd/2]),
 * i.e. for i < hd/2: (x1, x2) = (x[i], x[i + hd/2]) → (x1·cos − x2·sin, x2·cos + x1·sin),
 * angle = pos·theta^(−2i/hd). The angle is computed here directly, not read from a table.
 */
import { assertLength, assertPositiveInt } from './matmul';

export interface RopeRefParams {
  /** [M, heads·headDim] */
  x: ArrayLike<number>;
  M: number;
  heads: number;
  headDim: number;
  /** [M] */
  positions: ArrayLike<number>;
  theta: number;
  /** Rotate by −angle. */
  inverse?: boolean;
}

export function ropeRef(p: RopeRefParams): Float64Array {
  const fn = 'ropeRef';
  assertPositiveInt(fn, 'M', p.M);
  assertPositiveInt(fn, 'heads', p.heads);
  assertPositiveInt(fn, 'headDim', p.headDim);
  if (p.headDim % 2 !== 0) throw new RangeError(`${fn}: headDim must be even, got ${p.headDim}`);
  const width = p.heads * p.headDim;
  assertLength(fn, 'x', p.x, 'M', p.M, 'heads·headDim', width);
  if (p.positions.length !== p.M) throw new RangeError(`${fn}: positions has ${p.positions.length} entries, expected M = ${p.M}`);
  const half = p.headDim / 2;
  const sign = p.inverse ? -1 : 1;
  const y = Float64Array.from(p.x);
  for (let m = 0; m < p.M; m++) {
    for (let i = 0; i < half; i++) {
      const angle = p.positions[m] * p.theta ** ((-2 * i) / p.headDim);
      const c = Math.cos(angle);
      const s = sign * Math.sin(angle);
      for (let h = 0; h < p.heads; h++) {
        const b = m * width + h * p.headDim + i;
        const x1 = p.x[b];
        const x2 = p.x[b + half];
        y[b] = x1 * c - x2 * s;
        y[b + half] = x2 * c + x1 * s;
      }
    }
  }
  return y;
}

/** dL/dx of `ropeRef` given dL/dy: the rotation is orthogonal, so dx = Rᵀ·dy = rotation of dy by −angle. */
export function ropeBackwardRef(p: Omit<RopeRefParams, 'x'> & { dy: ArrayLike<number> }): Float64Array {
  return ropeRef({ ...p, x: p.dy, inverse: !p.inverse });
}
