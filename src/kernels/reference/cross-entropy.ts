/**
 * Float64 reference of softmax cross-entropy with ignore_index −100 (torch CrossEntropyLoss, reduction
 * "mean" over counted targets when invCount = 1/count):
 *   rowLoss[m] = logsumexp(logits[m]) − logits[m, t]   (0 where t = −100)
 *   loss = invCount·Σ rowLoss,  dLoss/dlogits[m, j] = (softmax(logits[m])_j − [j = t])·invCount
 */
import { assertLength, assertPositiveInt } from './matmul';

export interface CrossEntropyRefParams {
  /** [M, V] */
  logits: ArrayLike<number>;
  M: number;
  V: number;
  /** [M], each −100 or in [0, V) */
  targets: ArrayLike<number>;
  /** Defaults to 1 / (number of targets ≠ −100), or 0 if there are none. */
  invCount?: number;
}

export interface CrossEntropyRefResult {
  rowLoss: Float64Array;
  /** invCount·Σ rowLoss */
  loss: number;
  dLogits: Float64Array;
  count: number;
  invCount: number;
}

export function crossEntropyRef(p: CrossEntropyRefParams): CrossEntropyRefResult {
  const fn = 'crossEntropyRef';
  assertPositiveInt(fn, 'M', p.M);
  assertPositiveInt(fn, 'V', p.V);
  assertLength(fn, 'logits', p.logits, 'M', p.M, 'V', p.V);
  if (p.targets.length !== p.M) throw new RangeError(`${fn}: targets has ${p.targets.length} entries, expected M = ${p.M}`);
  const { M, V, logits, targets } = p;
  let count = 0;
  for (let m = 0; m < M; m++) {
    const t = targets[m];
    if (t === -100) continue;
    if (!Number.isInteger(t) || t < 0 || t >= V) throw new RangeError(`${fn}: target ${t} at ${m} outside [0, ${V})`);
    count++;
  }
  const invCount = p.invCount ?? (count > 0 ? 1 / count : 0);
  const rowLoss = new Float64Array(M);
  const dLogits = new Float64Array(M * V);
  let loss = 0;
  for (let m = 0; m < M; m++) {
    const t = targets[m];
    if (t === -100) continue;
    let mx = -Infinity;
    for (let j = 0; j < V; j++) mx = Math.max(mx, logits[m * V + j]);
    let s = 0;
    for (let j = 0; j < V; j++) s += Math.exp(logits[m * V + j] - mx);
    rowLoss[m] = mx + Math.log(s) - logits[m * V + t];
    loss += rowLoss[m] * invCount;
    for (let j = 0; j < V; j++) {
      dLogits[m * V + j] = (Math.exp(logits[m * V + j] - mx) / s - (j === t ? 1 : 0)) * invCount;
    }
  }
  return { rowLoss, loss, dLogits, count, invCount };
}
