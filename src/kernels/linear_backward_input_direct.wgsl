// Fused LoRA linear, backward to the input, for CPU adapters (SwiftShader, llvmpipe):
//   dx[M,K] = dy[M,N]·W0[N,K] + mask ⊙ (scale·g[M,r]·A[r,K])        (same math as linear_backward_input.wgsl)
//
// As in linear_forward_direct.wgsl: no workgroup memory and no barriers, operands read straight from the
// storage buffers, an 8×8 block of dx per thread (rows m, columns k; k0 is a multiple of 8, so a block's 8
// columns share one 4-bit word and one scale group). The LoRA term is accumulated first, multiplied by the
// dropout mask (recomputed from the seed, dropout_mask.wgsl), and the contraction over n then adds dy·W0.
// The last step along n zeroes dy past N; rows and columns past the edge are computed and never stored.

struct Params {
  M: u32, N: u32, K: u32, r: u32,
  wordsPerRow: u32, groupsPerRow: u32, accumulate: u32, seed: u32,
  scale: f32, dropoutP: f32, _pad0: u32, _pad1: u32,
}

@group(0) @binding(0) var<uniform> P: Params;
@group(0) @binding(1) var<storage, read> dy: array<f32>;       // [M, N]
@group(0) @binding(2) var<storage, read> w0: array<u32>;       // packed W0, see weight-format.ts
@group(0) @binding(3) var<storage, read> w0Scales: array<f32>;
@group(0) @binding(4) var<storage, read> g: array<f32>;        // [M, r] = dy·B
@group(0) @binding(5) var<storage, read> loraA: array<f32>;    // [r, K]
@group(0) @binding(6) var<storage, read_write> dx: array<f32>; // [M, K]

// dy[row, n..n+3] from the row's offset; slots past N (mask false) are 0.
fn dyQuad(rowOffset: u32, n: u32, valid: vec4<bool>) -> vec4<f32> {
  let o = rowOffset + n;
  return select(vec4<f32>(0.0), vec4<f32>(dy[o], dy[o + 1u], dy[o + 2u], dy[o + 3u]), valid);
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

@compute @workgroup_size(8, 8)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
  let k0 = wid.x * 64u + 8u * lid.x;
  let m0 = wid.y * 64u + 8u * lid.y;
  let mLast = P.M - 1u;
  let r0 = min(m0, mLast);      let r1 = min(m0 + 1u, mLast); let r2 = min(m0 + 2u, mLast); let r3 = min(m0 + 3u, mLast);
  let r4 = min(m0 + 4u, mLast); let r5 = min(m0 + 5u, mLast); let r6 = min(m0 + 6u, mLast); let r7 = min(m0 + 7u, mLast);
  // Columns past K read finite neighbouring (or robustness-clamped) weights and are never stored.
  let kl = k0;
  let kh = k0 + 4u;

  // Row i, columns k0..k0+3 (l) and k0+4..k0+7 (h).
  var c0l = vec4<f32>(0.0); var c0h = vec4<f32>(0.0); var c1l = vec4<f32>(0.0); var c1h = vec4<f32>(0.0);
  var c2l = vec4<f32>(0.0); var c2h = vec4<f32>(0.0); var c3l = vec4<f32>(0.0); var c3h = vec4<f32>(0.0);
  var c4l = vec4<f32>(0.0); var c4h = vec4<f32>(0.0); var c5l = vec4<f32>(0.0); var c5h = vec4<f32>(0.0);
  var c6l = vec4<f32>(0.0); var c6h = vec4<f32>(0.0); var c7l = vec4<f32>(0.0); var c7h = vec4<f32>(0.0);

  // scale·g·A, then the dropout mask on it alone.
  let R = P.r;
  if (R > 0u) {
    for (var j = 0u; j < R; j++) {
      let al = aQuad(j, kl);
      let ah = aQuad(j, kh);
      var s = P.scale * g[r0 * R + j]; c0l += s * al; c0h += s * ah;
      s = P.scale * g[r1 * R + j]; c1l += s * al; c1h += s * ah;
      s = P.scale * g[r2 * R + j]; c2l += s * al; c2h += s * ah;
      s = P.scale * g[r3 * R + j]; c3l += s * al; c3h += s * ah;
      s = P.scale * g[r4 * R + j]; c4l += s * al; c4h += s * ah;
      s = P.scale * g[r5 * R + j]; c5l += s * al; c5h += s * ah;
      s = P.scale * g[r6 * R + j]; c6l += s * al; c6h += s * ah;
      s = P.scale * g[r7 * R + j]; c7l += s * al; c7h += s * ah;
    }
    if (P.dropoutP > 0.0) {
      c0l *= maskQuad(r0, kl); c0h *= maskQuad(r0, kh); c1l *= maskQuad(r1, kl); c1h *= maskQuad(r1, kh);
      c2l *= maskQuad(r2, kl); c2h *= maskQuad(r2, kh); c3l *= maskQuad(r3, kl); c3h *= maskQuad(r3, kh);
      c4l *= maskQuad(r4, kl); c4h *= maskQuad(r4, kh); c5l *= maskQuad(r5, kl); c5h *= maskQuad(r5, kh);
      c6l *= maskQuad(r6, kl); c6h *= maskQuad(r6, kh); c7l *= maskQuad(r7, kl); c7h *= maskQuad(r7, kh);
    }
  }

  // dy·W0: rows n..n+3 of W0, each as its columns k0..k0+7.
  let N = P.N;
  let nLast = N - 1u;
  for (var n = 0u; n < N; n += 4u) {
    let valid = vec4<u32>(n, n + 1u, n + 2u, n + 3u) < vec4<u32>(N);
    let n1 = min(n + 1u, nLast);
    let n2 = min(n + 2u, nLast);
    let n3 = min(n + 3u, nLast);
    let w0o = w(n, k0);  let w0l = w0o[0]; let w0h = w0o[1];
    let w1o = w(n1, k0); let w1l = w1o[0]; let w1h = w1o[1];
    let w2o = w(n2, k0); let w2l = w2o[0]; let w2h = w2o[1];
    let w3o = w(n3, k0); let w3l = w3o[0]; let w3h = w3o[1];
    var a = dyQuad(r0 * N, n, valid);
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
  }

  storeRow(m0, k0, c0l, c0h);
  storeRow(m0 + 1u, k0, c1l, c1h);
  storeRow(m0 + 2u, k0, c2l, c2h);
  storeRow(m0 + 3u, k0, c3l, c3h);
  storeRow(m0 + 4u, k0, c4l, c4h);
  storeRow(m0 + 5u, k0, c5l, c5h);
  storeRow(m0 + 6u, k0, c6l, c6h);
  storeRow(m0 + 7u, k0, c7l, c7h);
}
