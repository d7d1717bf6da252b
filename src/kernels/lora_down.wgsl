// The rank-r products of the LoRA branch, one thread per output:
//   xa[M,r] = dropout(x)[M,C]·A[r,C]ᵀ   (forward; TRANSPOSE_R = 0, dropout on)
//   g [M,r] = dy[M,C]·B[C,r]            (backward; TRANSPOSE_R = 1, dropout off)
// xa is kept from the forward for dB; g feeds dx and dA. Both are tiny (r ≤ 64 columns).

override TRANSPOSE_R: u32 = 0u;

// Params and bindings: lora_down_io.wgsl.

/** Element (j, c) of Aᵀ-as-read: A[j, c], or B[c, j] when TRANSPOSE_R. */
fn rightAt(j: u32, c: u32) -> f32 {
  if (TRANSPOSE_R == 0u) { return right[j * P.C + c]; }
  return right[c * P.r + j];
}

@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
  let index = (wid.y * nwg.x + wid.x) * 64u + lid;
  if (index >= P.M * P.r) { return; }
  let m = index / P.r;
  let j = index % P.r;
  let rowStart = m * P.C;
  // The dropout test is uniform, so it is hoisted out of the loop; the plain loop keeps four partial sums, which
  // CPU adapters (SwiftShader) run about 4× faster than one dependent chain.
  var acc = vec4<f32>(0.0);
  let C4 = P.C & ~3u;
  if (P.dropoutP <= 0.0) {
    for (var c = 0u; c < C4; c += 4u) {
      let l = vec4<f32>(left[rowStart + c], left[rowStart + c + 1u], left[rowStart + c + 2u], left[rowStart + c + 3u]);
      acc += l * vec4<f32>(rightAt(j, c), rightAt(j, c + 1u), rightAt(j, c + 2u), rightAt(j, c + 3u));
    }
    for (var c = C4; c < P.C; c++) { acc.x += left[rowStart + c] * rightAt(j, c); }
  } else {
    for (var c = 0u; c < P.C; c++) {
      acc.x += left[rowStart + c] * dropoutFactor(P.seed, rowStart + c, P.dropoutP) * rightAt(j, c);
    }
  }
  let sum = (acc.x + acc.y) + (acc.z + acc.w);
  out[index] = sum;
}
