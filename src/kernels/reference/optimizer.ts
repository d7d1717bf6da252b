/**
 * Float64 references of the optimizer kernels: one AdamW step as torch.optim.AdamW computes it (amsgrad and
 * maximize off, the single-tensor path), with the gradient multiplied by a clipping factor first, and the
 * squared L2 norm of each gradient tensor.
 */

export interface AdamWHyper {
  lr: number;
  beta1: number;
  beta2: number;
  eps: number;
  weightDecay: number;
  /** 1-based step count, after this step's increment (torch's state["step"]). */
  step: number;
  /** Multiplies the gradient before anything else (global-norm clipping factor); 1 when absent. */
  gradScale?: number;
}

/** Throws a RangeError naming the first hyper-parameter out of torch's accepted range. */
export function validateAdamWHyper(fn: string, h: AdamWHyper): void {
  const check = (ok: boolean, what: string, v: number): void => {
    if (!ok) throw new RangeError(`${fn}: ${what}, got ${v}`);
  };
  check(Number.isFinite(h.lr) && h.lr >= 0, 'lr must be a finite number ≥ 0', h.lr);
  check(h.beta1 >= 0 && h.beta1 < 1, 'beta1 must be in [0, 1)', h.beta1);
  check(h.beta2 >= 0 && h.beta2 < 1, 'beta2 must be in [0, 1)', h.beta2);
  check(Number.isFinite(h.eps) && h.eps >= 0, 'eps must be a finite number ≥ 0', h.eps);
  check(Number.isFinite(h.weightDecay) && h.weightDecay >= 0, 'weightDecay must be a finite number ≥ 0', h.weightDecay);
  check(Number.isSafeInteger(h.step) && h.step >= 1, 'step must be an integer ≥ 1 (1-based, for the bias correction)', h.step);
  const s = h.gradScale ?? 1;
  check(Number.isFinite(s) && s >= 0, 'gradScale must be a finite number ≥ 0', s);
}

/** The step's scalars, in float64: what the GPU kernel receives (rounded once to f32) and the reference uses. */
export function adamWScalars(h: AdamWHyper): {
  decay: number;
  oneMinusBeta1: number;
  oneMinusBeta2: number;
  stepSize: number;
  bc2Sqrt: number;
} {
  const bc1 = 1 - h.beta1 ** h.step;
  const bc2 = 1 - h.beta2 ** h.step;
  return {
    decay: 1 - h.lr * h.weightDecay,
    oneMinusBeta1: 1 - h.beta1,
    oneMinusBeta2: 1 - h.beta2,
    stepSize: h.lr / bc1,
    bc2Sqrt: Math.sqrt(bc2),
  };
}

/**
 * One AdamW step, returning the new parameter and moments (the inputs are not modified):
 *   g = gradScale·grad; p ← p·(1 − lr·wd); m ← β1·m + (1 − β1)·g; v ← β2·v + (1 − β2)·g²;
 *   p ← p − (lr/bc1)·m / (√v/√bc2 + eps), bc_i = 1 − β_i^step.
 */
export function adamWStepRef(
  state: { param: ArrayLike<number>; m: ArrayLike<number>; v: ArrayLike<number> },
  grad: ArrayLike<number>,
  h: AdamWHyper,
): { param: Float64Array; m: Float64Array; v: Float64Array } {
  const fn = 'adamWStepRef';
  validateAdamWHyper(fn, h);
  const n = state.param.length;
  for (const [name, a] of [['grad', grad], ['m', state.m], ['v', state.v]] as const) {
    if (a.length !== n) throw new RangeError(`${fn}: ${name} has ${a.length} elements, param has ${n}`);
  }
  const s = adamWScalars(h);
  const scale = h.gradScale ?? 1;
  const param = new Float64Array(n);
  const m = new Float64Array(n);
  const v = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const g = grad[i] * scale;
    const p = state.param[i] * s.decay;
    m[i] = h.beta1 * state.m[i] + s.oneMinusBeta1 * g;
    v[i] = h.beta2 * state.v[i] + s.oneMinusBeta2 * g * g;
    param[i] = p - (s.stepSize * m[i]) / (Math.sqrt(v[i]) / s.bc2Sqrt + h.eps);
  }
  return { param, m, v };
}

/** Σ x² of each array, in float64. */
export function squaredNormsRef(tensors: readonly ArrayLike<number>[]): Float64Array {
  const out = new Float64Array(tensors.length);
  tensors.forEach((x, t) => {
    let s = 0;
    for (let i = 0; i < x.length; i++) s += x[i] * x[i];
    out[t] = s;
  });
  return out;
}
