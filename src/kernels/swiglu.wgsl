// SwiGLU gating of the Llama MLP, h = silu(gate)·up (act_fn(gate_proj(x)) * up_proj(x)), one thread per element:
//   forward:  h = gate·σ(gate)·up
//   backward: dGate = dh·up·σ(gate)·(1 + gate·(1 − σ(gate))),  dUp = dh·gate·σ(gate)
// sigmoid: activation_fns.wgsl.

struct Params {
  len: u32, _pad0: u32, _pad1: u32, _pad2: u32,
}

@group(0) @binding(0) var<uniform> U: Params;
@group(0) @binding(1) var<storage, read> gate: array<f32>;
@group(0) @binding(2) var<storage, read> up: array<f32>;
// forward
@group(0) @binding(3) var<storage, read_write> h: array<f32>;
// backward
@group(0) @binding(3) var<storage, read> dh: array<f32>;
@group(0) @binding(4) var<storage, read_write> dGate: array<f32>;
@group(0) @binding(5) var<storage, read_write> dUp: array<f32>;

@compute @workgroup_size(64)
fn forward(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
           @builtin(local_invocation_index) lid: u32) {
  let i = (wid.y * nwg.x + wid.x) * 64u + lid;
  if (i >= U.len) { return; }
  let g = gate[i];
  h[i] = g * sigmoid(g) * up[i];
}

@compute @workgroup_size(64)
fn backward(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
            @builtin(local_invocation_index) lid: u32) {
  let i = (wid.y * nwg.x + wid.x) * 64u + lid;
  if (i >= U.len) { return; }
  let g = gate[i];
  let s = sigmoid(g);
  let d = dh[i];
  dGate[i] = d * up[i] * s * (1.0 + g * (1.0 - s));
  dUp[i] = d * g * s;
}
