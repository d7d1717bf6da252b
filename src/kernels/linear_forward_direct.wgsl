// Fused LoRA linear, forward, for CPU adapters (SwiftShader, llvmpipe):
//   y[M,N] = x[M,K]·W0[N,K]ᵀ + bias[N] + scale·xa[M,r]·B[N,r]ᵀ          (same math as linear_forward.wgsl)
//
// Why a second kernel: a CPU driver runs a workgroup's invocations four (or eight) at a time as SIMD lanes and
// switches between those groups at every barrier, and every per-lane memory access is a gather. The tiled
// kernel's two barriers per K step and its shared-memory traffic cost far more there than the arithmetic.
// Here each thread reads its operands straight from the storage buffers (the CPU's caches do the tiling),
// with no workgroup memory and no barriers, and owns a 32×8 block of y: per step of 8 along K, 40 row loads
// (32 of x, 8 of W0) feed 2048 multiply-adds, and each decoded weight feeds 32 rows. W0 stays packed and is decoded in the loop (weight_decode.wgsl,
// w0Oct, with constant shifts and signed conversions, which CPU drivers compile to plain vector instructions).
// The loop's values are plain locals, never indexed at run time: CPU drivers spill such arrays to memory.
//
// A workgroup of WG threads covers ROWS rows and 8·WG columns of y, each thread ROWS × 8 of them. Rows and
// columns past the edge are clamped to the last one, computed and never stored; the last K step zeroes x past K
// where that is needed (MASK_TAIL).

// Params and bindings: linear_forward_io.wgsl.

// 1 when the last step along K needs x zeroed past K: f32 W0 with K not a multiple of 8. Quantized rows are
// padded with weights that decode to exactly 0, and with K a multiple of 8 there is no tail (linear.ts).
override MASK_TAIL: u32 = 1u;

// x[row, k..k+3] from the row's offset; slots past K (mask false) are 0 when MASK_TAIL.
fn xQuad(rowOffset: u32, k: u32, valid: vec4<bool>) -> vec4<f32> {
  let o = rowOffset + k;
  let v = vec4<f32>(x[o], x[o + 1u], x[o + 2u], x[o + 3u]);
  if (MASK_TAIL == 0u) { return v; }
  return select(vec4<f32>(0.0), v, valid);
}

fn w(n: u32, k: u32) -> mat2x4<f32> {
  return w0Oct(n, k, P.N, P.K, P.wordsPerRow, P.groupsPerRow);
}

// Dots of x[row, k..k+7] (quads al, ah) with four columns of W0 at k..k+7.
fn dots2(al: vec4<f32>, ah: vec4<f32>, b0: mat2x4<f32>, b1: mat2x4<f32>, b2: mat2x4<f32>, b3: mat2x4<f32>) -> vec4<f32> {
  return vec4<f32>(dot(al, b0[0]) + dot(ah, b0[1]), dot(al, b1[0]) + dot(ah, b1[1]),
                   dot(al, b2[0]) + dot(ah, b2[1]), dot(al, b3[0]) + dot(ah, b3[1]));
}

// Adds bias and the prior y (accumulate) to one row's 8 outputs and stores those inside y.
fn storeRow(m: u32, n0: u32, lo: vec4<f32>, hi: vec4<f32>) {
  if (m >= P.M) { return; }
  let v = array<vec4<f32>, 2>(lo, hi);
  for (var j = 0u; j < 8u; j++) {
    let n = n0 + j;
    if (n < P.N) {
      let o = m * P.N + n;
      var out = v[j / 4u][j % 4u];
      if (P.hasBias != 0u) { out += bias[n]; }
      if (P.accumulate != 0u) { out += y[o]; }
      y[o] = out;
    }
  }
}

// Threads per workgroup (linear.ts, directWorkgroupSize): each owns 8 columns of the workgroup's ROWS rows.
override WG: u32 = 64u;
// Rows per thread (linear.ts, directRows): 32, or 8 for a few rows (generation), where more would be wasted;
// 8, 16 or 32.
override ROWS: u32 = 32u;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let n0 = (wid.x * WG + lid) * 8u;
  // The rows depend on the workgroup alone, so drivers that track uniformity (llvmpipe) load each value of
  // the row side once for all lanes instead of gathering it per lane.
  let m0 = wid.y * ROWS;
  let mLast = P.M - 1u;
  let nLast = P.N - 1u;
  let r0 = min(m0 + 0u, mLast); let r1 = min(m0 + 1u, mLast); let r2 = min(m0 + 2u, mLast); let r3 = min(m0 + 3u, mLast);
  let r4 = min(m0 + 4u, mLast); let r5 = min(m0 + 5u, mLast); let r6 = min(m0 + 6u, mLast); let r7 = min(m0 + 7u, mLast);
  let r8 = min(m0 + 8u, mLast); let r9 = min(m0 + 9u, mLast); let r10 = min(m0 + 10u, mLast); let r11 = min(m0 + 11u, mLast);
  let r12 = min(m0 + 12u, mLast); let r13 = min(m0 + 13u, mLast); let r14 = min(m0 + 14u, mLast); let r15 = min(m0 + 15u, mLast);
  let r16 = min(m0 + 16u, mLast); let r17 = min(m0 + 17u, mLast); let r18 = min(m0 + 18u, mLast); let r19 = min(m0 + 19u, mLast);
  let r20 = min(m0 + 20u, mLast); let r21 = min(m0 + 21u, mLast); let r22 = min(m0 + 22u, mLast); let r23 = min(m0 + 23u, mLast);
  let r24 = min(m0 + 24u, mLast); let r25 = min(m0 + 25u, mLast); let r26 = min(m0 + 26u, mLast); let r27 = min(m0 + 27u, mLast);
  let r28 = min(m0 + 28u, mLast); let r29 = min(m0 + 29u, mLast); let r30 = min(m0 + 30u, mLast); let r31 = min(m0 + 31u, mLast);
  let q0 = min(n0 + 0u, nLast); let q1 = min(n0 + 1u, nLast); let q2 = min(n0 + 2u, nLast); let q3 = min(n0 + 3u, nLast);
  let q4 = min(n0 + 4u, nLast); let q5 = min(n0 + 5u, nLast); let q6 = min(n0 + 6u, nLast); let q7 = min(n0 + 7u, nLast);

  // Accumulators: row i, columns 0..3 (l) and 4..7 (h).
  var c0l = vec4<f32>(0.0); var c0h = vec4<f32>(0.0); var c1l = vec4<f32>(0.0); var c1h = vec4<f32>(0.0);
  var c2l = vec4<f32>(0.0); var c2h = vec4<f32>(0.0); var c3l = vec4<f32>(0.0); var c3h = vec4<f32>(0.0);
  var c4l = vec4<f32>(0.0); var c4h = vec4<f32>(0.0); var c5l = vec4<f32>(0.0); var c5h = vec4<f32>(0.0);
  var c6l = vec4<f32>(0.0); var c6h = vec4<f32>(0.0); var c7l = vec4<f32>(0.0); var c7h = vec4<f32>(0.0);
  var c8l = vec4<f32>(0.0); var c8h = vec4<f32>(0.0); var c9l = vec4<f32>(0.0); var c9h = vec4<f32>(0.0);
  var c10l = vec4<f32>(0.0); var c10h = vec4<f32>(0.0); var c11l = vec4<f32>(0.0); var c11h = vec4<f32>(0.0);
  var c12l = vec4<f32>(0.0); var c12h = vec4<f32>(0.0); var c13l = vec4<f32>(0.0); var c13h = vec4<f32>(0.0);
  var c14l = vec4<f32>(0.0); var c14h = vec4<f32>(0.0); var c15l = vec4<f32>(0.0); var c15h = vec4<f32>(0.0);
  var c16l = vec4<f32>(0.0); var c16h = vec4<f32>(0.0); var c17l = vec4<f32>(0.0); var c17h = vec4<f32>(0.0);
  var c18l = vec4<f32>(0.0); var c18h = vec4<f32>(0.0); var c19l = vec4<f32>(0.0); var c19h = vec4<f32>(0.0);
  var c20l = vec4<f32>(0.0); var c20h = vec4<f32>(0.0); var c21l = vec4<f32>(0.0); var c21h = vec4<f32>(0.0);
  var c22l = vec4<f32>(0.0); var c22h = vec4<f32>(0.0); var c23l = vec4<f32>(0.0); var c23h = vec4<f32>(0.0);
  var c24l = vec4<f32>(0.0); var c24h = vec4<f32>(0.0); var c25l = vec4<f32>(0.0); var c25h = vec4<f32>(0.0);
  var c26l = vec4<f32>(0.0); var c26h = vec4<f32>(0.0); var c27l = vec4<f32>(0.0); var c27h = vec4<f32>(0.0);
  var c28l = vec4<f32>(0.0); var c28h = vec4<f32>(0.0); var c29l = vec4<f32>(0.0); var c29h = vec4<f32>(0.0);
  var c30l = vec4<f32>(0.0); var c30h = vec4<f32>(0.0); var c31l = vec4<f32>(0.0); var c31h = vec4<f32>(0.0);

  let K = P.K;
  for (var k = 0u; k < K; k += 8u) {
    // Columns n0..n0+7 of W0 at k..k+7, each as quads k..k+3 and k+4..k+7.
    let o0 = w(q0, k); let o1 = w(q1, k); let o2 = w(q2, k); let o3 = w(q3, k);
    let o4 = w(q4, k); let o5 = w(q5, k); let o6 = w(q6, k); let o7 = w(q7, k);
    let vl = vec4<u32>(k, k + 1u, k + 2u, k + 3u) < vec4<u32>(K);
    let vh = vec4<u32>(k + 4u, k + 5u, k + 6u, k + 7u) < vec4<u32>(K);
    var al: vec4<f32>;
    var ah: vec4<f32>;
    al = xQuad(r0 * K, k, vl); ah = xQuad(r0 * K, k + 4u, vh);
    c0l += dots2(al, ah, o0, o1, o2, o3); c0h += dots2(al, ah, o4, o5, o6, o7);
    al = xQuad(r1 * K, k, vl); ah = xQuad(r1 * K, k + 4u, vh);
    c1l += dots2(al, ah, o0, o1, o2, o3); c1h += dots2(al, ah, o4, o5, o6, o7);
    al = xQuad(r2 * K, k, vl); ah = xQuad(r2 * K, k + 4u, vh);
    c2l += dots2(al, ah, o0, o1, o2, o3); c2h += dots2(al, ah, o4, o5, o6, o7);
    al = xQuad(r3 * K, k, vl); ah = xQuad(r3 * K, k + 4u, vh);
    c3l += dots2(al, ah, o0, o1, o2, o3); c3h += dots2(al, ah, o4, o5, o6, o7);
    al = xQuad(r4 * K, k, vl); ah = xQuad(r4 * K, k + 4u, vh);
    c4l += dots2(al, ah, o0, o1, o2, o3); c4h += dots2(al, ah, o4, o5, o6, o7);
    al = xQuad(r5 * K, k, vl); ah = xQuad(r5 * K, k + 4u, vh);
    c5l += dots2(al, ah, o0, o1, o2, o3); c5h += dots2(al, ah, o4, o5, o6, o7);
    al = xQuad(r6 * K, k, vl); ah = xQuad(r6 * K, k + 4u, vh);
    c6l += dots2(al, ah, o0, o1, o2, o3); c6h += dots2(al, ah, o4, o5, o6, o7);
    al = xQuad(r7 * K, k, vl); ah = xQuad(r7 * K, k + 4u, vh);
    c7l += dots2(al, ah, o0, o1, o2, o3); c7h += dots2(al, ah, o4, o5, o6, o7);
    if (ROWS > 8u) {
      al = xQuad(r8 * K, k, vl); ah = xQuad(r8 * K, k + 4u, vh);
      c8l += dots2(al, ah, o0, o1, o2, o3); c8h += dots2(al, ah, o4, o5, o6, o7);
      al = xQuad(r9 * K, k, vl); ah = xQuad(r9 * K, k + 4u, vh);
      c9l += dots2(al, ah, o0, o1, o2, o3); c9h += dots2(al, ah, o4, o5, o6, o7);
      al = xQuad(r10 * K, k, vl); ah = xQuad(r10 * K, k + 4u, vh);
      c10l += dots2(al, ah, o0, o1, o2, o3); c10h += dots2(al, ah, o4, o5, o6, o7);
      al = xQuad(r11 * K, k, vl); ah = xQuad(r11 * K, k + 4u, vh);
      c11l += dots2(al, ah, o0, o1, o2, o3); c11h += dots2(al, ah, o4, o5, o6, o7);
      al = xQuad(r12 * K, k, vl); ah = xQuad(r12 * K, k + 4u, vh);
      c12l += dots2(al, ah, o0, o1, o2, o3); c12h += dots2(al, ah, o4, o5, o6, o7);
      al = xQuad(r13 * K, k, vl); ah = xQuad(r13 * K, k + 4u, vh);
      c13l += dots2(al, ah, o0, o1, o2, o3); c13h += dots2(al, ah, o4, o5, o6, o7);
      al = xQuad(r14 * K, k, vl); ah = xQuad(r14 * K, k + 4u, vh);
      c14l += dots2(al, ah, o0, o1, o2, o3); c14h += dots2(al, ah, o4, o5, o6, o7);
      al = xQuad(r15 * K, k, vl); ah = xQuad(r15 * K, k + 4u, vh);
      c15l += dots2(al, ah, o0, o1, o2, o3); c15h += dots2(al, ah, o4, o5, o6, o7);
      if (ROWS > 16u) {
        al = xQuad(r16 * K, k, vl); ah = xQuad(r16 * K, k + 4u, vh);
        c16l += dots2(al, ah, o0, o1, o2, o3); c16h += dots2(al, ah, o4, o5, o6, o7);
        al = xQuad(r17 * K, k, vl); ah = xQuad(r17 * K, k + 4u, vh);
        c17l += dots2(al, ah, o0, o1, o2, o3); c17h += dots2(al, ah, o4, o5, o6, o7);
        al = xQuad(r18 * K, k, vl); ah = xQuad(r18 * K, k + 4u, vh);
        c18l += dots2(al, ah, o0, o1, o2, o3); c18h += dots2(al, ah, o4, o5, o6, o7);
        al = xQuad(r19 * K, k, vl); ah = xQuad(r19 * K, k + 4u, vh);
        c19l += dots2(al, ah, o0, o1, o2, o3); c19h += dots2(al, ah, o4, o5, o6, o7);
        al = xQuad(r20 * K, k, vl); ah = xQuad(r20 * K, k + 4u, vh);
        c20l += dots2(al, ah, o0, o1, o2, o3); c20h += dots2(al, ah, o4, o5, o6, o7);
        al = xQuad(r21 * K, k, vl); ah = xQuad(r21 * K, k + 4u, vh);
        c21l += dots2(al, ah, o0, o1, o2, o3); c21h += dots2(al, ah, o4, o5, o6, o7);
        al = xQuad(r22 * K, k, vl); ah = xQuad(r22 * K, k + 4u, vh);
        c22l += dots2(al, ah, o0, o1, o2, o3); c22h += dots2(al, ah, o4, o5, o6, o7);
        al = xQuad(r23 * K, k, vl); ah = xQuad(r23 * K, k + 4u, vh);
        c23l += dots2(al, ah, o0, o1, o2, o3); c23h += dots2(al, ah, o4, o5, o6, o7);
        al = xQuad(r24 * K, k, vl); ah = xQuad(r24 * K, k + 4u, vh);
        c24l += dots2(al, ah, o0, o1, o2, o3); c24h += dots2(al, ah, o4, o5, o6, o7);
        al = xQuad(r25 * K, k, vl); ah = xQuad(r25 * K, k + 4u, vh);
        c25l += dots2(al, ah, o0, o1, o2, o3); c25h += dots2(al, ah, o4, o5, o6, o7);
        al = xQuad(r26 * K, k, vl); ah = xQuad(r26 * K, k + 4u, vh);
        c26l += dots2(al, ah, o0, o1, o2, o3); c26h += dots2(al, ah, o4, o5, o6, o7);
        al = xQuad(r27 * K, k, vl); ah = xQuad(r27 * K, k + 4u, vh);
        c27l += dots2(al, ah, o0, o1, o2, o3); c27h += dots2(al, ah, o4, o5, o6, o7);
        al = xQuad(r28 * K, k, vl); ah = xQuad(r28 * K, k + 4u, vh);
        c28l += dots2(al, ah, o0, o1, o2, o3); c28h += dots2(al, ah, o4, o5, o6, o7);
        al = xQuad(r29 * K, k, vl); ah = xQuad(r29 * K, k + 4u, vh);
        c29l += dots2(al, ah, o0, o1, o2, o3); c29h += dots2(al, ah, o4, o5, o6, o7);
        al = xQuad(r30 * K, k, vl); ah = xQuad(r30 * K, k + 4u, vh);
        c30l += dots2(al, ah, o0, o1, o2, o3); c30h += dots2(al, ah, o4, o5, o6, o7);
        al = xQuad(r31 * K, k, vl); ah = xQuad(r31 * K, k + 4u, vh);
        c31l += dots2(al, ah, o0, o1, o2, o3); c31h += dots2(al, ah, o4, o5, o6, o7);
      }
    }
  }

  // The LoRA term: r more contraction steps over [scale·xa | B]; B·A is never formed.
  let R = P.r;
  for (var j = 0u; j < R; j++) {
    let bl = vec4<f32>(loraB[q0 * R + j], loraB[q1 * R + j], loraB[q2 * R + j], loraB[q3 * R + j]);
    let bh = vec4<f32>(loraB[q4 * R + j], loraB[q5 * R + j], loraB[q6 * R + j], loraB[q7 * R + j]);
    var s: f32;
    s = P.scale * xa[r0 * R + j]; c0l += s * bl; c0h += s * bh;
    s = P.scale * xa[r1 * R + j]; c1l += s * bl; c1h += s * bh;
    s = P.scale * xa[r2 * R + j]; c2l += s * bl; c2h += s * bh;
    s = P.scale * xa[r3 * R + j]; c3l += s * bl; c3h += s * bh;
    s = P.scale * xa[r4 * R + j]; c4l += s * bl; c4h += s * bh;
    s = P.scale * xa[r5 * R + j]; c5l += s * bl; c5h += s * bh;
    s = P.scale * xa[r6 * R + j]; c6l += s * bl; c6h += s * bh;
    s = P.scale * xa[r7 * R + j]; c7l += s * bl; c7h += s * bh;
    if (ROWS > 8u) {
      s = P.scale * xa[r8 * R + j]; c8l += s * bl; c8h += s * bh;
      s = P.scale * xa[r9 * R + j]; c9l += s * bl; c9h += s * bh;
      s = P.scale * xa[r10 * R + j]; c10l += s * bl; c10h += s * bh;
      s = P.scale * xa[r11 * R + j]; c11l += s * bl; c11h += s * bh;
      s = P.scale * xa[r12 * R + j]; c12l += s * bl; c12h += s * bh;
      s = P.scale * xa[r13 * R + j]; c13l += s * bl; c13h += s * bh;
      s = P.scale * xa[r14 * R + j]; c14l += s * bl; c14h += s * bh;
      s = P.scale * xa[r15 * R + j]; c15l += s * bl; c15h += s * bh;
      if (ROWS > 16u) {
        s = P.scale * xa[r16 * R + j]; c16l += s * bl; c16h += s * bh;
        s = P.scale * xa[r17 * R + j]; c17l += s * bl; c17h += s * bh;
        s = P.scale * xa[r18 * R + j]; c18l += s * bl; c18h += s * bh;
        s = P.scale * xa[r19 * R + j]; c19l += s * bl; c19h += s * bh;
        s = P.scale * xa[r20 * R + j]; c20l += s * bl; c20h += s * bh;
        s = P.scale * xa[r21 * R + j]; c21l += s * bl; c21h += s * bh;
        s = P.scale * xa[r22 * R + j]; c22l += s * bl; c22h += s * bh;
        s = P.scale * xa[r23 * R + j]; c23l += s * bl; c23h += s * bh;
        s = P.scale * xa[r24 * R + j]; c24l += s * bl; c24h += s * bh;
        s = P.scale * xa[r25 * R + j]; c25l += s * bl; c25h += s * bh;
        s = P.scale * xa[r26 * R + j]; c26l += s * bl; c26h += s * bh;
        s = P.scale * xa[r27 * R + j]; c27l += s * bl; c27h += s * bh;
        s = P.scale * xa[r28 * R + j]; c28l += s * bl; c28h += s * bh;
        s = P.scale * xa[r29 * R + j]; c29l += s * bl; c29h += s * bh;
        s = P.scale * xa[r30 * R + j]; c30l += s * bl; c30h += s * bh;
        s = P.scale * xa[r31 * R + j]; c31l += s * bl; c31h += s * bh;
      }
    }
  }

  storeRow(m0 + 0u, n0, c0l, c0h);
  storeRow(m0 + 1u, n0, c1l, c1h);
  storeRow(m0 + 2u, n0, c2l, c2h);
  storeRow(m0 + 3u, n0, c3l, c3h);
  storeRow(m0 + 4u, n0, c4l, c4h);
  storeRow(m0 + 5u, n0, c5l, c5h);
  storeRow(m0 + 6u, n0, c6l, c6h);
  storeRow(m0 + 7u, n0, c7l, c7h);
  if (ROWS > 8u) {
    storeRow(m0 + 8u, n0, c8l, c8h);
    storeRow(m0 + 9u, n0, c9l, c9h);
    storeRow(m0 + 10u, n0, c10l, c10h);
    storeRow(m0 + 11u, n0, c11l, c11h);
    storeRow(m0 + 12u, n0, c12l, c12h);
    storeRow(m0 + 13u, n0, c13l, c13h);
    storeRow(m0 + 14u, n0, c14l, c14h);
    storeRow(m0 + 15u, n0, c15l, c15h);
    if (ROWS > 16u) {
      storeRow(m0 + 16u, n0, c16l, c16h);
      storeRow(m0 + 17u, n0, c17l, c17h);
      storeRow(m0 + 18u, n0, c18l, c18h);
      storeRow(m0 + 19u, n0, c19l, c19h);
      storeRow(m0 + 20u, n0, c20l, c20h);
      storeRow(m0 + 21u, n0, c21l, c21h);
      storeRow(m0 + 22u, n0, c22l, c22h);
      storeRow(m0 + 23u, n0, c23l, c23h);
      storeRow(m0 + 24u, n0, c24l, c24h);
      storeRow(m0 + 25u, n0, c25l, c25h);
      storeRow(m0 + 26u, n0, c26l, c26h);
      storeRow(m0 + 27u, n0, c27l, c27h);
      storeRow(m0 + 28u, n0, c28l, c28h);
      storeRow(m0 + 29u, n0, c29l, c29h);
      storeRow(m0 + 30u, n0, c30l, c30h);
      storeRow(m0 + 31u, n0, c31l, c31h);
    }
  }
}
