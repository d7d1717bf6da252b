// Gradients of the LoRA matrices, reduced over the M tokens without float atomics:
//   dA[r,K] = scale·g[M,r]ᵀ·dropout(x)[M,K]      (left = g,  right = x,  dropout on)
//   dB[N,r] = scale·dy[M,N]ᵀ·xa[M,r]             (left = dy, right = xa, dropout off)
// The token range is split into `splits` chunks; each thread sums one chunk for one output. With one split it
// writes the gradient itself (scaled, optionally added to what is there, for gradient accumulation); with more
// it writes partial sums [splits, P, Q] that reduce_partials.wgsl adds up.

// Params and bindings: lora_weight_grad_io.wgsl.

@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
  let index = (wid.y * nwg.x + wid.x) * 64u + lid;
  let outputs = U.P * U.Q;
  if (index >= outputs * U.splits) { return; }
  let s = index / outputs;
  let o = index % outputs;
  let p = o / U.Q;
  let q = o % U.Q;
  let mStart = s * U.chunk;
  let mEnd = min(U.M, (s + 1u) * U.chunk);
  // The dropout test is uniform, so it is hoisted out of the loop; the plain loop keeps four partial sums, which
  // CPU adapters (SwiftShader) run about 4× faster than one dependent chain.
  var acc4 = vec4<f32>(0.0);
  if (U.dropoutP <= 0.0) {
    let m4 = mStart + ((mEnd - min(mEnd, mStart)) & ~3u);
    for (var m = mStart; m < m4; m += 4u) {
      let l = vec4<f32>(left[m * U.P + p], left[(m + 1u) * U.P + p], left[(m + 2u) * U.P + p], left[(m + 3u) * U.P + p]);
      let r = vec4<f32>(right[m * U.Q + q], right[(m + 1u) * U.Q + q], right[(m + 2u) * U.Q + q], right[(m + 3u) * U.Q + q]);
      acc4 += l * r;
    }
    for (var m = m4; m < mEnd; m++) { acc4.x += left[m * U.P + p] * right[m * U.Q + q]; }
  } else {
    for (var m = mStart; m < mEnd; m++) {
      let ri = m * U.Q + q;
      acc4.x += left[m * U.P + p] * right[ri] * dropoutFactor(U.seed, ri, U.dropoutP);
    }
  }
  let acc = (acc4.x + acc4.y) + (acc4.z + acc4.w);
  if (U.splits == 1u) {
    let prior = select(0.0, dst[o], U.accumulate != 0u);
    dst[o] = prior + U.scale * acc;
  } else {
    dst[index] = acc;
  }
}
