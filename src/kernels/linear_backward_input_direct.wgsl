// Fused LoRA linear, backward to the input, for CPU adapters (SwiftShader, llvmpipe):
//   dx[M,K] = dy[M,N]·W0[N,K] + mask ⊙ (scale·g[M,r]·A[r,K])        (same math as linear_backward_input.wgsl)
//
// As in linear_forward_direct.wgsl: no workgroup memory and no barriers, operands read straight from the
// storage buffers, a ROWS×8 block of dx per thread (rows m, columns k; k0 is a multiple of 8, so a block's 8
// columns share one 4-bit word and one scale group); a workgroup of WG threads covers ROWS rows and 8·WG
// columns. The LoRA term is accumulated first, multiplied by the dropout mask (recomputed from the seed,
// dropout_mask.wgsl), and the contraction over n then adds dy·W0. The last step along n zeroes dy past N
// (MASK_TAIL); rows and columns past the edge are computed and never stored.

// Params and bindings: linear_backward_input_io.wgsl.

// 1 when the last step along N needs dy zeroed past N (N not a multiple of 4; linear.ts).
override MASK_TAIL: u32 = 1u;

// dy[row, n..n+3] from the row's offset; slots past N (mask false) are 0 when MASK_TAIL.
fn dyQuad(rowOffset: u32, n: u32, valid: vec4<bool>) -> vec4<f32> {
  let o = rowOffset + n;
  let v = vec4<f32>(dy[o], dy[o + 1u], dy[o + 2u], dy[o + 3u]);
  if (MASK_TAIL == 0u) { return v; }
  return select(vec4<f32>(0.0), v, valid);
}

fn w(n: u32, k: u32) -> mat2x4<f32> {
  return w0Oct(n, k, P.N, P.K, P.wordsPerRow, P.groupsPerRow);
}

// A[j, k..k+3], 0 past K.
fn aQuad(j: u32, k: u32) -> vec4<f32> {
  var v = vec4<f32>(0.0);
  for (var c = 0u; c < 4u; c++) {
    if (k + c < P.K) { v[c] = loraA[j * P.K + k + c]; }
  }
  return v;
}

// Keep factors of the dropout mask for dx[m, k..k+3].
fn maskQuad(m: u32, k: u32) -> vec4<f32> {
  let o = m * P.K + k;
  return vec4<f32>(dropoutFactor(P.seed, o, P.dropoutP), dropoutFactor(P.seed, o + 1u, P.dropoutP),
                   dropoutFactor(P.seed, o + 2u, P.dropoutP), dropoutFactor(P.seed, o + 3u, P.dropoutP));
}

fn storeRow(m: u32, k0: u32, lo: vec4<f32>, hi: vec4<f32>) {
  if (m >= P.M) { return; }
  let v = array<vec4<f32>, 2>(lo, hi);
  for (var j = 0u; j < 8u; j++) {
    let k = k0 + j;
    if (k < P.K) {
      let o = m * P.K + k;
      var out = v[j / 4u][j % 4u];
      if (P.accumulate != 0u) { out += dx[o]; }
      dx[o] = out;
    }
  }
}

// Threads per workgroup (linear.ts, directWorkgroupSize): each owns 8 columns of the workgroup's ROWS rows.
override WG: u32 = 64u;
// Rows per thread (linear.ts, directRows): 16, or 8 for a few rows, where more would be wasted.
override ROWS: u32 = 16u;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let k0 = (wid.x * WG + lid) * 8u;
  // The rows depend on the workgroup alone, so drivers that track uniformity (llvmpipe) load each value of
  // the row side once for all lanes instead of gathering it per lane.
  let m0 = wid.y * ROWS;
  let mLast = P.M - 1u;
  let r0 = min(m0 + 0u, mLast); let r1 = min(m0 + 1u, mLast); let r2 = min(m0 + 2u, mLast); let r3 = min(m0 + 3u, mLast);
  let r4 = min(m0 + 4u, mLast); let r5 = min(m0 + 5u, mLast); let r6 = min(m0 + 6u, mLast); let r7 = min(m0 + 7u, mLast);
  let r8 = min(m0 + 8u, mLast); let r9 = min(m0 + 9u, mLast); let r10 = min(m0 + 10u, mLast); let r11 = min(m0 + 11u, mLast);
  let r12 = min(m0 + 12u, mLast); let r13 = min(m0 + 13u, mLast); let r14 = min(m0 + 14u, mLast); let r15 = min(m0 + 15u, mLast);
  // Columns past K read finite neighbouring (or robustness-clamped) weights and are never stored.
  let kl = k0;
  let kh = k0 + 4u;

  // Row i, columns k0..k0+3 (l) and k0+4..k0+7 (h).
  var c0l = vec4<f32>(0.0); var c0h = vec4<f32>(0.0); var c1l = vec4<f32>(0.0); var c1h = vec4<f32>(0.0);
  var c2l = vec4<f32>(0.0); var c2h = vec4<f32>(0.0); var c3l = vec4<f32>(0.0); var c3h = vec4<f32>(0.0);
  var c4l = vec4<f32>(0.0); var c4h = vec4<f32>(0.0); var c5l = vec4<f32>(0.0); var c5h = vec4<f32>(0.0);
  var c6l = vec4<f32>(0.0); var c6h = vec4<f32>(0.0); var c7l = vec4<f32>(0.0); var c7h = vec4<f32>(0.0);
  var c8l = vec4<f32>(0.0); var c8h = vec4<f32>(0.0); var c9l = vec4<f32>(0.0); var c9h = vec4<f32>(0.0);
  var c10l = vec4<f32>(0.0); var c10h = vec4<f32>(0.0); var c11l = vec4<f32>(0.0); var c11h = vec4<f32>(0.0);
  var c12l = vec4<f32>(0.0); var c12h = vec4<f32>(0.0); var c13l = vec4<f32>(0.0); var c13h = vec4<f32>(0.0);
  var c14l = vec4<f32>(0.0); var c14h = vec4<f32>(0.0); var c15l = vec4<f32>(0.0); var c15h = vec4<f32>(0.0);

  // scale·g·A, then the dropout mask on it alone.
  let R = P.r;
  if (R > 0u) {
    for (var j = 0u; j < R; j++) {
      let al = aQuad(j, kl);
      let ah = aQuad(j, kh);
      var s: f32;
      s = P.scale * g[r0 * R + j]; c0l += s * al; c0h += s * ah;
      s = P.scale * g[r1 * R + j]; c1l += s * al; c1h += s * ah;
      s = P.scale * g[r2 * R + j]; c2l += s * al; c2h += s * ah;
      s = P.scale * g[r3 * R + j]; c3l += s * al; c3h += s * ah;
      s = P.scale * g[r4 * R + j]; c4l += s * al; c4h += s * ah;
      s = P.scale * g[r5 * R + j]; c5l += s * al; c5h += s * ah;
      s = P.scale * g[r6 * R + j]; c6l += s * al; c6h += s * ah;
      s = P.scale * g[r7 * R + j]; c7l += s * al; c7h += s * ah;
      if (ROWS > 8u) {
        s = P.scale * g[r8 * R + j]; c8l += s * al; c8h += s * ah;
        s = P.scale * g[r9 * R + j]; c9l += s * al; c9h += s * ah;
        s = P.scale * g[r10 * R + j]; c10l += s * al; c10h += s * ah;
        s = P.scale * g[r11 * R + j]; c11l += s * al; c11h += s * ah;
        s = P.scale * g[r12 * R + j]; c12l += s * al; c12h += s * ah;
        s = P.scale * g[r13 * R + j]; c13l += s * al; c13h += s * ah;
        s = P.scale * g[r14 * R + j]; c14l += s * al; c14h += s * ah;
        s = P.scale * g[r15 * R + j]; c15l += s * al; c15h += s * ah;
      }
    }
    if (P.dropoutP > 0.0) {
      c0l *= maskQuad(r0, kl); c0h *= maskQuad(r0, kh);
      c1l *= maskQuad(r1, kl); c1h *= maskQuad(r1, kh);
      c2l *= maskQuad(r2, kl); c2h *= maskQuad(r2, kh);
      c3l *= maskQuad(r3, kl); c3h *= maskQuad(r3, kh);
      c4l *= maskQuad(r4, kl); c4h *= maskQuad(r4, kh);
      c5l *= maskQuad(r5, kl); c5h *= maskQuad(r5, kh);
      c6l *= maskQuad(r6, kl); c6h *= maskQuad(r6, kh);
      c7l *= maskQuad(r7, kl); c7h *= maskQuad(r7, kh);
      if (ROWS > 8u) {
        c8l *= maskQuad(r8, kl); c8h *= maskQuad(r8, kh);
        c9l *= maskQuad(r9, kl); c9h *= maskQuad(r9, kh);
        c10l *= maskQuad(r10, kl); c10h *= maskQuad(r10, kh);
        c11l *= maskQuad(r11, kl); c11h *= maskQuad(r11, kh);
        c12l *= maskQuad(r12, kl); c12h *= maskQuad(r12, kh);
        c13l *= maskQuad(r13, kl); c13h *= maskQuad(r13, kh);
        c14l *= maskQuad(r14, kl); c14h *= maskQuad(r14, kh);
        c15l *= maskQuad(r15, kl); c15h *= maskQuad(r15, kh);
      }
    }
  }

  // dy·W0: rows n..n+3 of W0, each as its columns k0..k0+7.
  let N = P.N;
  let nLast = N - 1u;
  for (var n = 0u; n < N; n += 4u) {
    let valid = vec4<u32>(n, n + 1u, n + 2u, n + 3u) < vec4<u32>(N);
    let w0o = w(n, k0);                 let w0l = w0o[0]; let w0h = w0o[1];
    let w1o = w(min(n + 1u, nLast), k0); let w1l = w1o[0]; let w1h = w1o[1];
    let w2o = w(min(n + 2u, nLast), k0); let w2l = w2o[0]; let w2h = w2o[1];
    let w3o = w(min(n + 3u, nLast), k0); let w3l = w3o[0]; let w3h = w3o[1];
    var a: vec4<f32>;
    a = dyQuad(r0 * N, n, valid);
    c0l += a.x * w0l + a.y * w1l + a.z * w2l + a.w * w3l; c0h += a.x * w0h + a.y * w1h + a.z * w2h + a.w * w3h;
    a = dyQuad(r1 * N, n, valid);
    c1l += a.x * w0l + a.y * w1l + a.z * w2l + a.w * w3l; c1h += a.x * w0h + a.y * w1h + a.z * w2h + a.w * w3h;
    a = dyQuad(r2 * N, n, valid);
    c2l += a.x * w0l + a.y * w1l + a.z * w2l + a.w * w3l; c2h += a.x * w0h + a.y * w1h + a.z * w2h + a.w * w3h;
    a = dyQuad(r3 * N, n, valid);
    c3l += a.x * w0l + a.y * w1l + a.z * w2l + a.w * w3l; c3h += a.x * w0h + a.y * w1h + a.z * w2h + a.w * w3h;
    a = dyQuad(r4 * N, n, valid);
    c4l += a.x * w0l + a.y * w1l + a.z * w2l + a.w * w3l; c4h += a.x * w0h + a.y * w1h + a.z * w2h + a.w * w3h;
    a = dyQuad(r5 * N, n, valid);
    c5l += a.x * w0l + a.y * w1l + a.z * w2l + a.w * w3l; c5h += a.x * w0h + a.y * w1h + a.z * w2h + a.w * w3h;
    a = dyQuad(r6 * N, n, valid);
    c6l += a.x * w0l + a.y * w1l + a.z * w2l + a.w * w3l; c6h += a.x * w0h + a.y * w1h + a.z * w2h + a.w * w3h;
    a = dyQuad(r7 * N, n, valid);
    c7l += a.x * w0l + a.y * w1l + a.z * w2l + a.w * w3l; c7h += a.x * w0h + a.y * w1h + a.z * w2h + a.w * w3h;
    if (ROWS > 8u) {
      a = dyQuad(r8 * N, n, valid);
      c8l += a.x * w0l + a.y * w1l + a.z * w2l + a.w * w3l; c8h += a.x * w0h + a.y * w1h + a.z * w2h + a.w * w3h;
      a = dyQuad(r9 * N, n, valid);
      c9l += a.x * w0l + a.y * w1l + a.z * w2l + a.w * w3l; c9h += a.x * w0h + a.y * w1h + a.z * w2h + a.w * w3h;
      a = dyQuad(r10 * N, n, valid);
      c10l += a.x * w0l + a.y * w1l + a.z * w2l + a.w * w3l; c10h += a.x * w0h + a.y * w1h + a.z * w2h + a.w * w3h;
      a = dyQuad(r11 * N, n, valid);
      c11l += a.x * w0l + a.y * w1l + a.z * w2l + a.w * w3l; c11h += a.x * w0h + a.y * w1h + a.z * w2h + a.w * w3h;
      a = dyQuad(r12 * N, n, valid);
      c12l += a.x * w0l + a.y * w1l + a.z * w2l + a.w * w3l; c12h += a.x * w0h + a.y * w1h + a.z * w2h + a.w * w3h;
      a = dyQuad(r13 * N, n, valid);
      c13l += a.x * w0l + a.y * w1l + a.z * w2l + a.w * w3l; c13h += a.x * w0h + a.y * w1h + a.z * w2h + a.w * w3h;
      a = dyQuad(r14 * N, n, valid);
      c14l += a.x * w0l + a.y * w1l + a.z * w2l + a.w * w3l; c14h += a.x * w0h + a.y * w1h + a.z * w2h + a.w * w3h;
      a = dyQuad(r15 * N, n, valid);
      c15l += a.x * w0l + a.y * w1l + a.z * w2l + a.w * w3l; c15h += a.x * w0h + a.y * w1h + a.z * w2h + a.w * w3h;
    }
  }

  storeRow(m0 + 0u, k0, c0l, c0h);
  storeRow(m0 + 1u, k0, c1l, c1h);
  storeRow(m0 + 2u, k0, c2l, c2h);
  storeRow(m0 + 3u, k0, c3l, c3h);
  storeRow(m0 + 4u, k0, c4l, c4h);
  storeRow(m0 + 5u, k0, c5l, c5h);
  storeRow(m0 + 6u, k0, c6l, c6h);
  storeRow(m0 + 7u, k0, c7l, c7h);
  if (ROWS > 8u) {
    storeRow(m0 + 8u, k0, c8l, c8h);
    storeRow(m0 + 9u, k0, c9l, c9h);
    storeRow(m0 + 10u, k0, c10l, c10h);
    storeRow(m0 + 11u, k0, c11l, c11h);
    storeRow(m0 + 12u, k0, c12l, c12h);
    storeRow(m0 + 13u, k0, c13l, c13h);
    storeRow(m0 + 14u, k0, c14l, c14h);
    storeRow(m0 + 15u, k0, c15l, c15h);
  }
}
