// One AdamW step (torch.optim.AdamW, amsgrad off, maximize off), element by element, in place:
//   g  = gradScale·grad                       (gradScale: the global-norm clipping factor, 1 without clipping)
//   p ← p·(1 − lr·wd)                         (decoupled weight decay, before the moments)
//   m ← β1·m + (1 − β1)·g
//   v ← β2·v + (1 − β2)·g²
//   p ← p − (lr / bc1)·m / (√v / √bc2 + eps)  (bc_i = 1 − β_i^t; eps added after the bias correction of √v)
// Every scalar that depends on the step (1 − lr·wd, 1 − β_i, lr/bc1, √bc2) is computed on the host in float64
// and rounded once to f32: 1 − β2 formed here from an f32 β2 = 0.999 would be off by 1.3e-5 relative.

struct Params {
  n: u32, _pad0: u32, _pad1: u32, _pad2: u32,
  decay: f32,        // 1 − lr·weightDecay
  beta1: f32, oneMinusBeta1: f32,
  beta2: f32, oneMinusBeta2: f32,
  stepSize: f32,     // lr / (1 − β1^t)
  bc2Sqrt: f32,      // √(1 − β2^t)
  eps: f32,
  gradScale: f32, _pad3: u32, _pad4: u32, _pad5: u32,
}

@group(0) @binding(0) var<uniform> U: Params;
@group(0) @binding(1) var<storage, read_write> param: array<f32>;
@group(0) @binding(2) var<storage, read> grad: array<f32>;
@group(0) @binding(3) var<storage, read_write> m: array<f32>;
@group(0) @binding(4) var<storage, read_write> v: array<f32>;

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
  let i = (wid.y * nwg.x + wid.x) * 256u + lid;
  if (i >= U.n) { return; }
  let g = grad[i] * U.gradScale;
  let p = param[i] * U.decay;
  let mi = U.beta1 * m[i] + U.oneMinusBeta1 * g;
  let vi = U.beta2 * v[i] + U.oneMinusBeta2 * (g * g);
  m[i] = mi;
  v[i] = vi;
  param[i] = p - U.stepSize * mi / (sqrt(vi) / U.bc2Sqrt + U.eps);
}
