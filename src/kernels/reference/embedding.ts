/** Float64 reference of the embedding lookup (HF: wte(input_ids) + wpe(position_ids) for GPT-2). */
import { assertLength, assertPositiveInt } from './matmul';

export interface EmbeddingRefParams {
  /** [V, d] */
  table: ArrayLike<number>;
  V: number;
  d: number;
  /** [M], each in [0, V) */
  ids: ArrayLike<number>;
  /** [P, d], with `positions` */
  positionTable?: ArrayLike<number>;
  P?: number;
  /** [M], each in [0, P) */
  positions?: ArrayLike<number>;
}

/** out[m, :] = table[ids[m], :] (+ positionTable[positions[m], :]), [M, d]. */
export function embeddingRef(p: EmbeddingRefParams): Float64Array {
  const fn = 'embeddingRef';
  assertPositiveInt(fn, 'V', p.V);
  assertPositiveInt(fn, 'd', p.d);
  assertLength(fn, 'table', p.table, 'V', p.V, 'd', p.d);
  const M = p.ids.length;
  const hasPos = p.positionTable !== undefined;
  if (hasPos) {
    assertPositiveInt(fn, 'P', p.P ?? 0);
    assertLength(fn, 'positionTable', p.positionTable!, 'P', p.P!, 'd', p.d);
    if (p.positions?.length !== M) throw new RangeError(`${fn}: positions must have M = ${M} entries`);
  }
  const out = new Float64Array(M * p.d);
  for (let m = 0; m < M; m++) {
    const id = p.ids[m];
    if (!Number.isInteger(id) || id < 0 || id >= p.V) throw new RangeError(`${fn}: id ${id} at ${m} outside [0, ${p.V})`);
    const pos = hasPos ? p.positions![m] : 0;
    if (hasPos && (!Number.isInteger(pos) || pos < 0 || pos >= p.P!)) throw new RangeError(`${fn}: position ${pos} at ${m} outside [0, ${p.P})`);
    for (let j = 0; j < p.d; j++) {
      out[m * p.d + j] = p.table[id * p.d + j] + (hasPos ? p.positionTable![pos * p.d + j] : 0);
    }
  }
  return out;
}
