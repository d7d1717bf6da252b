// ReLU and Tanh of the prompt encoders (P-tuning's MLP and LSTM head, prefix tuning's projection), one thread
// per element; ACT picks the function (0 = ReLU, 1 = Tanh):
//   forward:  y  = f(x)
//   backward: dx = dy·f′, from the forward's output y (+ dx when accumulate):
//             ReLU: dy where y > 0, else 0 (as PyTorch's threshold_backward: 0 at x = 0; y > 0 ⇔ x > 0, so x
//             may be bound in place of y);  Tanh: dy·(1 − y²)
// safeTanh: activation_fns.wgsl.

override ACT: u32 = 0u;

struct Params {
  len: u32, accumulate: u32, _pad0: u32, _pad1: u32,
}

@group(0) @binding(0) var<uniform> U: Params;
// forward
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> y: array<f32>;
// backward: the forward's output at binding 1
@group(0) @binding(1) var<storage, read> yIn: array<f32>;
@group(0) @binding(2) var<storage, read> dy: array<f32>;
@group(0) @binding(3) var<storage, read_write> dx: array<f32>;

@compute @workgroup_size(64)
fn forward(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
           @builtin(local_invocation_index) lid: u32) {
  let i = (wid.y * nwg.x + wid.x) * 64u + lid;
  if (i >= U.len) { return; }
  let v = x[i];
  if (ACT == 0u) {
    y[i] = max(v, 0.0);
  } else {
    y[i] = safeTanh(v);
  }
}

@compute @workgroup_size(64)
fn backward(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
            @builtin(local_invocation_index) lid: u32) {
  let i = (wid.y * nwg.x + wid.x) * 64u + lid;
  if (i >= U.len) { return; }
  let v = yIn[i];
  var g: f32;
  if (ACT == 0u) {
    g = select(0.0, dy[i], v > 0.0);
  } else {
    g = dy[i] * (1.0 - v * v);
  }
  dx[i] = select(0.0, dx[i], U.accumulate != 0u) + g;
}
