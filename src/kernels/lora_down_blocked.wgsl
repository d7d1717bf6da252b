// The rank-r products of the LoRA branch for CPU drivers (kernel profile 'cpu'), a 4×4 block of outputs per
// thread (rows m0..m0+3, ranks j0..j0+3), the same math as lora_down.wgsl:
//   xa[M,r] = dropout(x)[M,C]·A[r,C]ᵀ   (forward; TRANSPOSE_R = 0, dropout on)
//   g [M,r] = dy[M,C]·B[C,r]            (backward; TRANSPOSE_R = 1, dropout off)
// Each step along C loads 4 values of the left side and 4 of the right and makes 16 multiply-adds, where one
// output per thread makes 1 per 2 loads; on a CPU driver every per-lane load is a gather, so loads set the
// pace. The ranks come from the workgroup (workgroup_id.y), so the right side's loads are the same for every
// lane, which drivers that track uniformity (llvmpipe) turn into one scalar load. Rows and ranks past the
// edge are clamped (computed, never stored).

override TRANSPOSE_R: u32 = 0u;

// Params and bindings: lora_down_io.wgsl.

/** A[j0..j0+3, c], or B[c, j0..j0+3] when TRANSPOSE_R; j are clamped below r. */
fn rightQuad(j: vec4<u32>, c: u32) -> vec4<f32> {
  if (TRANSPOSE_R == 0u) { return vec4<f32>(right[j.x * P.C + c], right[j.y * P.C + c], right[j.z * P.C + c], right[j.w * P.C + c]); }
  let o = c * P.r;
  return vec4<f32>(right[o + j.x], right[o + j.y], right[o + j.z], right[o + j.w]);
}

fn store(m: u32, j0: u32, v: vec4<f32>) {
  if (m >= P.M) { return; }
  for (var t = 0u; t < 4u; t++) {
    if (j0 + t < P.r) { out[m * P.r + j0 + t] = v[t]; }
  }
}

// Dispatch: x covers the blocks of 4 rows (64 per workgroup), y the blocks of 4 ranks.
@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(workgroup_id) wid: vec3<u32>) {
  let m0 = gid.x * 4u;
  if (m0 >= P.M) { return; }
  let j0 = wid.y * 4u;
  let mLast = P.M - 1u;
  let o0 = m0 * P.C;
  let o1 = min(m0 + 1u, mLast) * P.C;
  let o2 = min(m0 + 2u, mLast) * P.C;
  let o3 = min(m0 + 3u, mLast) * P.C;
  let j = min(vec4<u32>(j0, j0 + 1u, j0 + 2u, j0 + 3u), vec4<u32>(P.r - 1u));
  var a0 = vec4<f32>(0.0);
  var a1 = vec4<f32>(0.0);
  var a2 = vec4<f32>(0.0);
  var a3 = vec4<f32>(0.0);
  // The dropout test is uniform, so the plain loop carries none.
  if (P.dropoutP <= 0.0) {
    for (var c = 0u; c < P.C; c++) {
      let rv = rightQuad(j, c);
      a0 += left[o0 + c] * rv;
      a1 += left[o1 + c] * rv;
      a2 += left[o2 + c] * rv;
      a3 += left[o3 + c] * rv;
    }
  } else {
    for (var c = 0u; c < P.C; c++) {
      let rv = rightQuad(j, c);
      a0 += left[o0 + c] * dropoutFactor(P.seed, o0 + c, P.dropoutP) * rv;
      a1 += left[o1 + c] * dropoutFactor(P.seed, o1 + c, P.dropoutP) * rv;
      a2 += left[o2 + c] * dropoutFactor(P.seed, o2 + c, P.dropoutP) * rv;
      a3 += left[o3 + c] * dropoutFactor(P.seed, o3 + c, P.dropoutP) * rv;
    }
  }
  store(m0, j0, a0);
  store(m0 + 1u, j0, a1);
  store(m0 + 2u, j0, a2);
  store(m0 + 3u, j0, a3);
}
