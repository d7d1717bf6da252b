// The pointwise activations of the small trainable MLPs (P-tuning's MLP and LSTM head, prefix tuning's projection,
// bottleneck adapters), one thread per element; ACT picks the function, under transformers' ACT2FN names:
//   0 relu:     max(x, 0)                       f′ = [x > 0] (PyTorch's threshold_backward: 0 at x = 0)
//   1 tanh:     tanh(x)                         f′ = 1 − tanh²(x)
//   2 swish:    x·σ(x) (nn.SiLU)                f′ = σ(x)·(1 + x·(1 − σ(x)))
//   3 gelu:     x·Φ(x) (nn.GELU, exact erf)     f′ = Φ(x) + x·φ(x)
//   4 gelu_new: 0.5·x·(1 + tanh(u)), u = √(2/π)·(x + 0.044715·x³)
//                                               f′ = 0.5·(1 + t) + 0.5·x·(1 − t²)·√(2/π)·(1 + 3·0.044715·x²)
//   forward:  y  = f(x)
//   backward: dx = dy·f′(x), from the forward's input x (+ dx when accumulate)
// safeTanh, sigmoid: activation_fns.wgsl.

override ACT: u32 = 0u;

const K0: f32 = 0.7978845608028654; // √(2/π)
const K1: f32 = 0.044715;
const INV_SQRT2: f32 = 0.7071067811865476;
const INV_SQRT_2PI: f32 = 0.3989422804014327;

struct Params {
  len: u32, accumulate: u32, _pad0: u32, _pad1: u32,
}

@group(0) @binding(0) var<uniform> U: Params;
// forward
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> y: array<f32>;
// backward: the forward's input x at binding 1
@group(0) @binding(2) var<storage, read> dy: array<f32>;
@group(0) @binding(3) var<storage, read_write> dx: array<f32>;

// erf(z) by Abramowitz & Stegun 7.1.26 (absolute error below 1.5e-7, f32's own rounding at 1).
fn erfApprox(z: f32) -> f32 {
  let a = abs(z);
  let t = 1.0 / (1.0 + 0.3275911 * a);
  let poly = t * (0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429))));
  return sign(z) * (1.0 - poly * exp(-a * a));
}

fn phi(v: f32) -> f32 {
  return 0.5 * (1.0 + erfApprox(v * INV_SQRT2));
}

fn activate(v: f32) -> f32 {
  switch ACT {
    case 0u: { return max(v, 0.0); }
    case 1u: { return safeTanh(v); }
    case 2u: { return v * sigmoid(v); }
    case 3u: { return v * phi(v); }
    default: { return 0.5 * v * (1.0 + safeTanh(K0 * (v + K1 * v * v * v))); }
  }
}

fn derivative(v: f32) -> f32 {
  switch ACT {
    case 0u: { return select(0.0, 1.0, v > 0.0); }
    case 1u: { let t = safeTanh(v); return 1.0 - t * t; }
    case 2u: { let s = sigmoid(v); return s * (1.0 + v * (1.0 - s)); }
    case 3u: { return phi(v) + v * INV_SQRT_2PI * exp(-0.5 * v * v); }
    default: {
      let t = safeTanh(K0 * (v + K1 * v * v * v));
      return 0.5 * (1.0 + t) + 0.5 * v * (1.0 - t * t) * K0 * (1.0 + 3.0 * K1 * v * v);
    }
  }
}

@compute @workgroup_size(64)
fn forward(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
           @builtin(local_invocation_index) lid: u32) {
  let i = (wid.y * nwg.x + wid.x) * 64u + lid;
  if (i >= U.len) { return; }
  y[i] = activate(x[i]);
}

@compute @workgroup_size(64)
fn backward(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
            @builtin(local_invocation_index) lid: u32) {
  let i = (wid.y * nwg.x + wid.x) * 64u + lid;
  if (i >= U.len) { return; }
  let g = dy[i] * derivative(x[i]);
  dx[i] = select(0.0, dx[i], U.accumulate != 0u) + g;
}
