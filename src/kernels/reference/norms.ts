/**
 * Float64 references of LayerNorm (nn.LayerNorm: biased variance, eps inside the square root) and RMSNorm
 * (HF LlamaRMSNorm: y = x·rsqrt(mean(x²) + eps)·weight), each over the last dimension of [M, d], with the
 * input gradients for frozen weights. The backward references recompute the row statistics from x.
 */
import { assertLength, assertPositiveInt } from './matmul';

export interface NormShape {
  /** [M, d] */
  x: ArrayLike<number>;
  M: number;
  d: number;
  /** [d] */
  weight: ArrayLike<number>;
  eps: number;
}

/** Checks the shapes; `dy`, when given, is [M, d] like x. */
function validate(fn: string, p: NormShape, dy?: ArrayLike<number>): void {
  assertPositiveInt(fn, 'M', p.M);
  assertPositiveInt(fn, 'd', p.d);
  assertLength(fn, 'x', p.x, 'M', p.M, 'd', p.d);
  assertLength(fn, 'weight', p.weight, '1', 1, 'd', p.d);
  if (dy) assertLength(fn, 'dy', dy, 'M', p.M, 'd', p.d);
  if (!(p.eps >= 0)) throw new RangeError(`${fn}: eps must be ≥ 0, got ${p.eps}`);
}

/** Row mean and 1/√(var + eps), var = Σ(x − mean)²/d. */
function layerNormStats(p: NormShape): { mean: Float64Array; rstd: Float64Array } {
  const { x, M, d } = p;
  const mean = new Float64Array(M);
  const rstd = new Float64Array(M);
  for (let m = 0; m < M; m++) {
    let s = 0;
    for (let j = 0; j < d; j++) s += x[m * d + j];
    const mu = s / d;
    let q = 0;
    for (let j = 0; j < d; j++) q += (x[m * d + j] - mu) ** 2;
    mean[m] = mu;
    rstd[m] = 1 / Math.sqrt(q / d + p.eps);
  }
  return { mean, rstd };
}

/** y = (x − mean)·rstd·weight + bias. */
export function layerNormRef(p: NormShape & { bias: ArrayLike<number> }): { y: Float64Array; mean: Float64Array; rstd: Float64Array } {
  validate('layerNormRef', p);
  assertLength('layerNormRef', 'bias', p.bias, '1', 1, 'd', p.d);
  const { x, M, d, weight, bias } = p;
  const { mean, rstd } = layerNormStats(p);
  const y = new Float64Array(M * d);
  for (let m = 0; m < M; m++) {
    for (let j = 0; j < d; j++) y[m * d + j] = (x[m * d + j] - mean[m]) * rstd[m] * weight[j] + bias[j];
  }
  return { y, mean, rstd };
}

/**
 * dL/dx of `layerNormRef` given dL/dy. With x̂ = (x − mean)·rstd and g = dy·weight:
 * dx = rstd·(g − mean_j(g) − x̂·mean_j(g·x̂)).
 */
export function layerNormBackwardRef(p: NormShape & { dy: ArrayLike<number> }): Float64Array {
  validate('layerNormBackwardRef', p, p.dy);
  const { x, M, d, weight, dy } = p;
  const { mean, rstd } = layerNormStats(p);
  const dx = new Float64Array(M * d);
  for (let m = 0; m < M; m++) {
    let sg = 0;
    let sgx = 0;
    for (let j = 0; j < d; j++) {
      const g = dy[m * d + j] * weight[j];
      sg += g;
      sgx += g * (x[m * d + j] - mean[m]) * rstd[m];
    }
    for (let j = 0; j < d; j++) {
      const g = dy[m * d + j] * weight[j];
      const xhat = (x[m * d + j] - mean[m]) * rstd[m];
      dx[m * d + j] = rstd[m] * (g - sg / d - (xhat * sgx) / d);
    }
  }
  return dx;
}

function rmsRstd(p: NormShape): Float64Array {
  const { x, M, d } = p;
  const rstd = new Float64Array(M);
  for (let m = 0; m < M; m++) {
    let q = 0;
    for (let j = 0; j < d; j++) q += x[m * d + j] ** 2;
    rstd[m] = 1 / Math.sqrt(q / d + p.eps);
  }
  return rstd;
}

/** y = x·rstd·weight, rstd = 1/√(mean(x²) + eps). */
export function rmsNormRef(p: NormShape): { y: Float64Array; rstd: Float64Array } {
  validate('rmsNormRef', p);
  const { x, M, d, weight } = p;
  const rstd = rmsRstd(p);
  const y = new Float64Array(M * d);
  for (let m = 0; m < M; m++) {
    for (let j = 0; j < d; j++) y[m * d + j] = x[m * d + j] * rstd[m] * weight[j];
  }
  return { y, rstd };
}

/** dL/dx of `rmsNormRef`: with g = dy·weight, dx = rstd·g − x·rstd³·mean_j(g·x). */
export function rmsNormBackwardRef(p: NormShape & { dy: ArrayLike<number> }): Float64Array {
  validate('rmsNormBackwardRef', p, p.dy);
  const { x, M, d, weight, dy } = p;
  const rstd = rmsRstd(p);
  const dx = new Float64Array(M * d);
  for (let m = 0; m < M; m++) {
    let sgx = 0;
    for (let j = 0; j < d; j++) sgx += dy[m * d + j] * weight[j] * x[m * d + j];
    const c = (sgx / d) * rstd[m] ** 3;
    for (let j = 0; j < d; j++) dx[m * d + j] = rstd[m] * dy[m * d + j] * weight[j] - x[m * d + j] * c;
  }
  return dx;
}
