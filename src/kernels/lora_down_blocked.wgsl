// The rank-r products of the LoRA branch for CPU drivers (kernel profile 'direct'), a block of 4 rows × 4·RQ
// ranks of the output per thread (rows m0..m0+3, ranks j0..j0+4·RQ−1), the same math as lora_down.wgsl:
//   xa[M,r] = dropout(x)[M,C]·A[r,C]ᵀ   (forward; TRANSPOSE_R = 0, dropout on)
//   g [M,r] = dy[M,C]·B[C,r]            (backward; TRANSPOSE_R = 1, dropout off)
// Each step along C loads 4 values of the left side (one per row) and 4·RQ of the right and makes 16·RQ
// multiply-adds. On a CPU driver every per-lane load is a gather, so loads set the pace: the ranks come from
// the workgroup (workgroup_id.y), which makes the right side's loads the same for every lane (drivers that
// track uniformity, llvmpipe, turn them into one scalar load), and a thread takes up to 16 ranks so that the
// 4 per-lane loads of the left side feed as many multiply-adds as the rank allows. Rows and ranks past the
// edge are clamped (computed, never stored).

override TRANSPOSE_R: u32 = 0u;
// Blocks of 4 ranks per thread, 1 to 4 (lora-rank.ts: rankQuads).
override RQ: u32 = 1u;
// Threads per workgroup (lora-rank.ts: BLOCKED_WG).
override BLOCKED_WG: u32 = 16u;

// Params and bindings: lora_down_io.wgsl.

/** A[j.x..j.w, c], or B[c, j.x..j.w] when TRANSPOSE_R; j are clamped below r. */
fn rightQuad(j: vec4<u32>, c: u32) -> vec4<f32> {
  if (TRANSPOSE_R == 0u) { return vec4<f32>(right[j.x * P.C + c], right[j.y * P.C + c], right[j.z * P.C + c], right[j.w * P.C + c]); }
  let o = c * P.r;
  return vec4<f32>(right[o + j.x], right[o + j.y], right[o + j.z], right[o + j.w]);
}

/** Ranks j0..j0+3, clamped below r. */
fn ranks(j0: u32) -> vec4<u32> {
  return min(vec4<u32>(j0, j0 + 1u, j0 + 2u, j0 + 3u), vec4<u32>(P.r - 1u));
}

fn store(m: u32, j0: u32, v: vec4<f32>) {
  if (m >= P.M) { return; }
  for (var t = 0u; t < 4u; t++) {
    if (j0 + t < P.r) { out[m * P.r + j0 + t] = v[t]; }
  }
}

// Dispatch: x covers the blocks of 4 rows (BLOCKED_WG per workgroup), y the blocks of 4·RQ ranks.
@compute @workgroup_size(BLOCKED_WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(workgroup_id) wid: vec3<u32>) {
  let m0 = gid.x * 4u;
  if (m0 >= P.M) { return; }
  let j0 = wid.y * 4u * RQ;
  let mLast = P.M - 1u;
  let o0 = m0 * P.C;
  let o1 = min(m0 + 1u, mLast) * P.C;
  let o2 = min(m0 + 2u, mLast) * P.C;
  let o3 = min(m0 + 3u, mLast) * P.C;
  let jA = ranks(j0);
  let jB = ranks(j0 + 4u);
  let jC = ranks(j0 + 8u);
  let jD = ranks(j0 + 12u);
  // Row i, rank quads A..D.
  var a0 = vec4<f32>(0.0); var a1 = vec4<f32>(0.0); var a2 = vec4<f32>(0.0); var a3 = vec4<f32>(0.0);
  var b0 = vec4<f32>(0.0); var b1 = vec4<f32>(0.0); var b2 = vec4<f32>(0.0); var b3 = vec4<f32>(0.0);
  var c0 = vec4<f32>(0.0); var c1 = vec4<f32>(0.0); var c2 = vec4<f32>(0.0); var c3 = vec4<f32>(0.0);
  var d0 = vec4<f32>(0.0); var d1 = vec4<f32>(0.0); var d2 = vec4<f32>(0.0); var d3 = vec4<f32>(0.0);
  for (var c = 0u; c < P.C; c++) {
    var l = vec4<f32>(left[o0 + c], left[o1 + c], left[o2 + c], left[o3 + c]);
    // A uniform test: no divergence.
    if (P.dropoutP > 0.0) {
      l *= vec4<f32>(dropoutFactor(P.seed, o0 + c, P.dropoutP), dropoutFactor(P.seed, o1 + c, P.dropoutP),
                     dropoutFactor(P.seed, o2 + c, P.dropoutP), dropoutFactor(P.seed, o3 + c, P.dropoutP));
    }
    let rA = rightQuad(jA, c);
    a0 += l.x * rA; a1 += l.y * rA; a2 += l.z * rA; a3 += l.w * rA;
    if (RQ > 1u) {
      let rB = rightQuad(jB, c);
      b0 += l.x * rB; b1 += l.y * rB; b2 += l.z * rB; b3 += l.w * rB;
    }
    if (RQ > 2u) {
      let rC = rightQuad(jC, c);
      c0 += l.x * rC; c1 += l.y * rC; c2 += l.z * rC; c3 += l.w * rC;
    }
    if (RQ > 3u) {
      let rD = rightQuad(jD, c);
      d0 += l.x * rD; d1 += l.y * rD; d2 += l.z * rD; d3 += l.w * rD;
    }
  }
  store(m0, j0, a0); store(m0 + 1u, j0, a1); store(m0 + 2u, j0, a2); store(m0 + 3u, j0, a3);
  if (RQ > 1u) { store(m0, j0 + 4u, b0); store(m0 + 1u, j0 + 4u, b1); store(m0 + 2u, j0 + 4u, b2); store(m0 + 3u, j0 + 4u, b3); }
  if (RQ > 2u) { store(m0, j0 + 8u, c0); store(m0 + 1u, j0 + 8u, c1); store(m0 + 2u, j0 + 8u, c2); store(m0 + 3u, j0 + 8u, c3); }
  if (RQ > 3u) { store(m0, j0 + 12u, d0); store(m0 + 1u, j0 + 12u, d1); store(m0 + 2u, j0 + 12u, d2); store(m0 + 3u, j0 + 12u, d3); }
}
