// Gradients of the LoRA matrices for CPU drivers (kernel profile 'direct'), the same math and split scheme as
// lora_weight_grad.wgsl:
//   dA[r,K] = scale·g[M,r]ᵀ·dropout(x)[M,K]      (left = g,  right = x,  dropout on;  SMALL_Q = 0)
//   dB[N,r] = scale·dy[M,N]ᵀ·xa[M,r]             (left = dy, right = xa, dropout off; SMALL_Q = 1)
// A thread owns 4 indices of the long side (k of dA, n of dB) and 4·RQ of the rank side (SMALL_Q says which
// of P and Q that is). Each token loads the 4 long-side values and 4·RQ rank-side values and makes 16·RQ
// multiply-adds. On a CPU driver every per-lane load is a gather, so loads set the pace: the rank side comes
// from the workgroup (workgroup_id.y), which makes its loads the same for every lane (drivers that track
// uniformity, llvmpipe, turn them into one scalar load), and a thread takes up to 16 ranks so that the 4
// per-lane loads feed as many multiply-adds as the rank allows. Splits of the token range are workgroup_id.z.
// With one split the thread writes the gradient (scaled, optionally accumulated); with more, partial sums
// [splits, P, Q] for reduce_partials.wgsl. Indices past the edge are clamped (computed, never stored).

override SMALL_Q: u32 = 0u;
// Blocks of 4 ranks per thread, 1 to 4 (lora-rank.ts: rankQuads).
override RQ: u32 = 1u;
// Threads per workgroup (lora-rank.ts: BLOCKED_WG).
override BLOCKED_WG: u32 = 16u;

// Params and bindings: lora_weight_grad_io.wgsl.

fn rankLength() -> u32 { return select(U.P, U.Q, SMALL_Q != 0u); }
fn longLength() -> u32 { return select(U.Q, U.P, SMALL_Q != 0u); }

/** Ranks j0..j0+3, clamped below the rank side's length. */
fn ranks(j0: u32) -> vec4<u32> {
  return min(vec4<u32>(j0, j0 + 1u, j0 + 2u, j0 + 3u), vec4<u32>(rankLength() - 1u));
}

/** right[m, q], with the dropout mask. */
fn rightAt(m: u32, q: u32) -> f32 {
  let o = m * U.Q + q;
  if (U.dropoutP > 0.0) { return right[o] * dropoutFactor(U.seed, o, U.dropoutP); }
  return right[o];
}

/** The rank side at token m, ranks j (clamped). */
fn rankQuad(m: u32, j: vec4<u32>) -> vec4<f32> {
  if (SMALL_Q != 0u) { return vec4<f32>(rightAt(m, j.x), rightAt(m, j.y), rightAt(m, j.z), rightAt(m, j.w)); }
  let o = m * U.P;
  return vec4<f32>(left[o + j.x], left[o + j.y], left[o + j.z], left[o + j.w]);
}

/** The long side at token m, indices i (clamped). */
fn longQuad(m: u32, i: vec4<u32>) -> vec4<f32> {
  if (SMALL_Q != 0u) {
    let o = m * U.P;
    return vec4<f32>(left[o + i.x], left[o + i.y], left[o + i.z], left[o + i.w]);
  }
  return vec4<f32>(rightAt(m, i.x), rightAt(m, i.y), rightAt(m, i.z), rightAt(m, i.w));
}

/** Stores v[t], the sum for long index `i` and rank j0 + t. */
fn store(s: u32, i: u32, j0: u32, v: vec4<f32>) {
  if (i >= longLength()) { return; }
  for (var t = 0u; t < 4u; t++) {
    let j = j0 + t;
    if (j < rankLength()) {
      var o = i * U.Q + j;
      if (SMALL_Q == 0u) { o = j * U.Q + i; }
      if (U.splits == 1u) {
        let prior = select(0.0, dst[o], U.accumulate != 0u);
        dst[o] = prior + U.scale * v[t];
      } else {
        dst[s * U.P * U.Q + o] = v[t];
      }
    }
  }
}

// Dispatch: x covers the long side's blocks of 4 (BLOCKED_WG per workgroup), y the rank side's blocks of
// 4·RQ, z the splits.
@compute @workgroup_size(BLOCKED_WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(workgroup_id) wid: vec3<u32>) {
  let i0 = gid.x * 4u;
  if (i0 >= longLength()) { return; }
  let j0 = wid.y * 4u * RQ;
  let s = wid.z;
  let iq = min(vec4<u32>(i0, i0 + 1u, i0 + 2u, i0 + 3u), vec4<u32>(longLength() - 1u));
  let jA = ranks(j0);
  let jB = ranks(j0 + 4u);
  let jC = ranks(j0 + 8u);
  let jD = ranks(j0 + 12u);
  let mStart = s * U.chunk;
  let mEnd = min(U.M, (s + 1u) * U.chunk);
  // Long index i0 + i, rank quads A..D.
  var a0 = vec4<f32>(0.0); var a1 = vec4<f32>(0.0); var a2 = vec4<f32>(0.0); var a3 = vec4<f32>(0.0);
  var b0 = vec4<f32>(0.0); var b1 = vec4<f32>(0.0); var b2 = vec4<f32>(0.0); var b3 = vec4<f32>(0.0);
  var c0 = vec4<f32>(0.0); var c1 = vec4<f32>(0.0); var c2 = vec4<f32>(0.0); var c3 = vec4<f32>(0.0);
  var d0 = vec4<f32>(0.0); var d1 = vec4<f32>(0.0); var d2 = vec4<f32>(0.0); var d3 = vec4<f32>(0.0);
  for (var m = mStart; m < mEnd; m++) {
    let l = longQuad(m, iq);
    let rA = rankQuad(m, jA);
    a0 += l.x * rA; a1 += l.y * rA; a2 += l.z * rA; a3 += l.w * rA;
    if (RQ > 1u) {
      let rB = rankQuad(m, jB);
      b0 += l.x * rB; b1 += l.y * rB; b2 += l.z * rB; b3 += l.w * rB;
    }
    if (RQ > 2u) {
      let rC = rankQuad(m, jC);
      c0 += l.x * rC; c1 += l.y * rC; c2 += l.z * rC; c3 += l.w * rC;
    }
    if (RQ > 3u) {
      let rD = rankQuad(m, jD);
      d0 += l.x * rD; d1 += l.y * rD; d2 += l.z * rD; d3 += l.w * rD;
    }
  }
  store(s, i0, j0, a0); store(s, i0 + 1u, j0, a1); store(s, i0 + 2u, j0, a2); store(s, i0 + 3u, j0, a3);
  if (RQ > 1u) { store(s, i0, j0 + 4u, b0); store(s, i0 + 1u, j0 + 4u, b1); store(s, i0 + 2u, j0 + 4u, b2); store(s, i0 + 3u, j0 + 4u, b3); }
  if (RQ > 2u) { store(s, i0, j0 + 8u, c0); store(s, i0 + 1u, j0 + 8u, c1); store(s, i0 + 2u, j0 + 8u, c2); store(s, i0 + 3u, j0 + 8u, c3); }
  if (RQ > 3u) { store(s, i0, j0 + 12u, d0); store(s, i0 + 1u, j0 + 12u, d1); store(s, i0 + 2u, j0 + 12u, d2); store(s, i0 + 3u, j0 + 12u, d3); }
}
