// out[i] = (accumulate ? out[i] : 0) + scale·Σ_s partials[s·len + i] — the second half of a split reduction.

struct Params {
  len: u32, splits: u32, accumulate: u32, _pad0: u32,
  scale: f32, _pad1: u32, _pad2: u32, _pad3: u32,
}

@group(0) @binding(0) var<uniform> U: Params;
@group(0) @binding(1) var<storage, read> partials: array<f32>;  // [splits, len]
@group(0) @binding(2) var<storage, read_write> out: array<f32>; // [len]

@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
  let i = (wid.y * nwg.x + wid.x) * 64u + lid;
  if (i >= U.len) { return; }
  var acc = 0.0;
  for (var s = 0u; s < U.splits; s++) {
    acc += partials[s * U.len + i];
  }
  let prior = select(0.0, out[i], U.accumulate != 0u);
  out[i] = prior + U.scale * acc;
}
