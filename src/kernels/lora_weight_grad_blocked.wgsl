// Gradients of the LoRA matrices for CPU drivers (kernel profile 'cpu'), a 4×4 block of outputs per thread
// (p0..p0+3, q0..q0+3), the same math and split scheme as lora_weight_grad.wgsl:
//   dA[r,K] = scale·g[M,r]ᵀ·dropout(x)[M,K]      (left = g,  right = x,  dropout on;  SMALL_Q = 0)
//   dB[N,r] = scale·dy[M,N]ᵀ·xa[M,r]             (left = dy, right = xa, dropout off; SMALL_Q = 1)
// Each token loads 4 values of each side and makes 16 multiply-adds (one output per thread: 1 per 2 loads).
// The rank side (p for dA, q for dB: SMALL_Q) comes from the workgroup (workgroup_id.y), so its loads are the
// same for every lane, which drivers that track uniformity (llvmpipe) turn into one scalar load; the long
// side's blocks spread over the lanes. Splits of the token range are workgroup_id.z. With one split the
// thread writes the gradient (scaled, optionally accumulated); with more, partial sums [splits, P, Q] for
// reduce_partials.wgsl. Indices past the edge are clamped (computed, never stored).

override SMALL_Q: u32 = 0u;

// Params and bindings: lora_weight_grad_io.wgsl.

fn store(s: u32, p: u32, q0: u32, v: vec4<f32>) {
  if (p >= U.P) { return; }
  for (var t = 0u; t < 4u; t++) {
    let q = q0 + t;
    if (q < U.Q) {
      let o = p * U.Q + q;
      if (U.splits == 1u) {
        let prior = select(0.0, dst[o], U.accumulate != 0u);
        dst[o] = prior + U.scale * v[t];
      } else {
        dst[s * U.P * U.Q + o] = v[t];
      }
    }
  }
}

// Dispatch: x covers the long side's blocks of 4 (64 per workgroup), y the rank side's, z the splits.
@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(workgroup_id) wid: vec3<u32>) {
  var p0: u32;
  var q0: u32;
  if (SMALL_Q != 0u) {
    p0 = gid.x * 4u;
    q0 = wid.y * 4u;
    if (p0 >= U.P) { return; }
  } else {
    p0 = wid.y * 4u;
    q0 = gid.x * 4u;
    if (q0 >= U.Q) { return; }
  }
  let s = wid.z;
  let p = min(vec4<u32>(p0, p0 + 1u, p0 + 2u, p0 + 3u), vec4<u32>(U.P - 1u));
  let q = min(vec4<u32>(q0, q0 + 1u, q0 + 2u, q0 + 3u), vec4<u32>(U.Q - 1u));
  let mStart = s * U.chunk;
  let mEnd = min(U.M, (s + 1u) * U.chunk);
  // a_i[t] sums left[m, p0 + i]·right[m, q0 + t].
  var a0 = vec4<f32>(0.0);
  var a1 = vec4<f32>(0.0);
  var a2 = vec4<f32>(0.0);
  var a3 = vec4<f32>(0.0);
  for (var m = mStart; m < mEnd; m++) {
    let lo = m * U.P;
    let ro = m * U.Q;
    var rv = vec4<f32>(right[ro + q.x], right[ro + q.y], right[ro + q.z], right[ro + q.w]);
    if (U.dropoutP > 0.0) {
      rv *= vec4<f32>(dropoutFactor(U.seed, ro + q.x, U.dropoutP), dropoutFactor(U.seed, ro + q.y, U.dropoutP),
                      dropoutFactor(U.seed, ro + q.z, U.dropoutP), dropoutFactor(U.seed, ro + q.w, U.dropoutP));
    }
    a0 += left[lo + p.x] * rv;
    a1 += left[lo + p.y] * rv;
    a2 += left[lo + p.z] * rv;
    a3 += left[lo + p.w] * rv;
  }
  store(s, p0, q0, a0);
  store(s, p0 + 1u, q0, a1);
  store(s, p0 + 2u, q0, a2);
  store(s, p0 + 3u, q0, a3);
}
