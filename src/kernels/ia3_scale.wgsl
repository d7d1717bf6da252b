// IA³'s element-wise steps on an [M, N] matrix a (len = M·N elements, row-major):
//   MODE 0, scale columns:  out[m, n] = (accumulate ? out[m, n] : 0) + a[m, n] · (1 + alpha·(l[n] − 1))
//     (l is the ia3_l vector [N] and alpha the pass's adapter scale: 1 uses l as trained)
//   MODE 1, product:        out[i] = (accumulate ? out[i] : 0) + a[i] · b[i]
// `v` binds l [N] in MODE 0 and b [M, N] in MODE 1.

override MODE: u32 = 0u;

struct Params {
  len: u32, N: u32, accumulate: u32, _pad0: u32,
  alpha: f32, _pad1: u32, _pad2: u32, _pad3: u32,
}

@group(0) @binding(0) var<uniform> U: Params;
@group(0) @binding(1) var<storage, read> a: array<f32>;
@group(0) @binding(2) var<storage, read> v: array<f32>;
@group(0) @binding(3) var<storage, read_write> out: array<f32>;

@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
  let i = (wid.y * nwg.x + wid.x) * 64u + lid;
  if (i >= U.len) { return; }
  var f: f32;
  if (MODE == 0u) {
    f = 1.0 + U.alpha * (v[i % U.N] - 1.0);
  } else {
    f = v[i];
  }
  var y = a[i] * f;
  if (U.accumulate != 0u) { y += out[i]; }
  out[i] = y;
}
