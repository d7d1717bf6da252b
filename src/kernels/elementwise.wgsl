// Element-wise steps of the unfused LoRA path, with mask(i) = dropoutFactor(seed, i, p):
//   with b:    out[i] = a[i] + alpha·b[i]·mask(i) + (hasBias ? bias[i mod N] : 0)   (add the LoRA term)
//   without b: out[i] = a[i]·mask(i)               + (hasBias ? bias[i mod N] : 0)   (dropout)

struct Params {
  len: u32, N: u32, hasB: u32, hasBias: u32,
  seed: u32, _pad0: u32, _pad1: u32, _pad2: u32,
  alpha: f32, dropoutP: f32, _pad3: u32, _pad4: u32,
}

@group(0) @binding(0) var<uniform> U: Params;
@group(0) @binding(1) var<storage, read> a: array<f32>;
@group(0) @binding(2) var<storage, read> b: array<f32>;
@group(0) @binding(3) var<storage, read> bias: array<f32>;
@group(0) @binding(4) var<storage, read_write> out: array<f32>;

@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
  let i = (wid.y * nwg.x + wid.x) * 64u + lid;
  if (i >= U.len) { return; }
  let f = dropoutFactor(U.seed, i, U.dropoutP);
  var v: f32;
  if (U.hasB != 0u) {
    v = a[i] + U.alpha * b[i] * f;
  } else {
    v = a[i] * f;
  }
  if (U.hasBias != 0u) { v += bias[i % U.N]; }
  out[i] = v;
}
