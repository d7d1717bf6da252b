// DoRA's element-wise steps on an [M, N] matrix a (len = M·N elements, row-major):
//   MODE 0, scale columns:   out[i] = (accumulate ? out[i] : 0) + a[i]·(v[n] − shift) + (hasBias ? c[n] : 0)
//                            (v = g = m / norm: the DoRA factor; shift 1 gives g − 1)
//   MODE 1, magnitude term:  out[i] = (accumulate ? out[i] : 0) + a[i]·c[i] / v[n]   (v = norm, c [M, N])
//   MODE 2, dropout:         out[i] = (accumulate ? out[i] : 0) + a[i]·dropoutFactor(seed, i, p)
// with n = i mod N. Prepended: dropout_mask.wgsl.

override MODE: u32 = 0u;

struct Params {
  len: u32, N: u32, accumulate: u32, hasBias: u32,
  shift: f32, seed: u32, p: f32, _pad0: u32,
}

@group(0) @binding(0) var<uniform> U: Params;
@group(0) @binding(1) var<storage, read> a: array<f32>;
@group(0) @binding(2) var<storage, read> v: array<f32>;
@group(0) @binding(3) var<storage, read> c: array<f32>;
@group(0) @binding(4) var<storage, read_write> out: array<f32>;

@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
  let i = (wid.y * nwg.x + wid.x) * 64u + lid;
  if (i >= U.len) { return; }
  var y: f32;
  if (MODE == 0u) {
    let n = i % U.N;
    y = a[i] * (v[n] - U.shift);
    if (U.hasBias != 0u) { y += c[n]; }
  } else if (MODE == 1u) {
    y = a[i] * c[i] / v[i % U.N];
  } else {
    y = a[i] * dropoutFactor(U.seed, i, U.p);
  }
  if (U.accumulate != 0u) { y += out[i]; }
  out[i] = y;
}
