// Fused LoRA linear, backward to the input:
//   dx[M,K] = dy[M,N]·W0[N,K] + mask ⊙ (scale·g[M,r]·A[r,K]),   g = dy·B  (lora_down.wgsl)
// The LoRA branch saw dropout(x), so its part of dx passes back through the same dropout mask
// (recomputed from the seed, dropout_mask.wgsl). W0 stays frozen and packed; only the input gradient is
// produced here. With r = 0 this is the plain tiled matmul dy·W.
//
// Tiling: a workgroup of 16×16 threads computes a 64×64 block of dx (rows m, columns k); each thread owns a
// 4×4 block. The contraction runs over n in steps of 32, then over j < r for the LoRA term, which is kept in
// its own accumulators so the dropout mask can be applied to it alone.

// Params and bindings: linear_backward_input_io.wgsl.

const LANES = 16u;
const TILE = 64u; // rows of dx and columns of dx per workgroup
const BC = 32u;   // contraction step

var<workgroup> ls: array<vec4<f32>, 512>; // [BC][LANES]: dy[m0 + 4q + 0..3, c0 + c]
var<workgroup> rs: array<vec4<f32>, 512>; // [BC][LANES]: W[c0 + c, k0 + 4q + 0..3]

fn dyAt(m: u32, n: u32) -> f32 {
  if (m < P.M && n < P.N) { return dy[m * P.N + n]; }
  return 0.0;
}

fn gAt(m: u32, j: u32) -> f32 {
  if (m < P.M && j < P.r) { return P.scale * g[m * P.r + j]; }
  return 0.0;
}

fn aAt(j: u32, k: u32) -> f32 {
  if (j < P.r && k < P.K) { return loraA[j * P.K + k]; }
  return 0.0;
}

fn loadLeft(m0: u32, c0: u32, lid: u32, lora: bool) {
  let c = lid % BC;
  for (var q = lid / BC; q < LANES; q += 256u / BC) {
    let m = m0 + 4u * q;
    var v: vec4<f32>;
    if (lora) {
      v = vec4<f32>(gAt(m, c0 + c), gAt(m + 1u, c0 + c), gAt(m + 2u, c0 + c), gAt(m + 3u, c0 + c));
    } else {
      v = vec4<f32>(dyAt(m, c0 + c), dyAt(m + 1u, c0 + c), dyAt(m + 2u, c0 + c), dyAt(m + 3u, c0 + c));
    }
    ls[c * LANES + q] = v;
  }
}

fn loadLoraA(j0: u32, k0: u32, lid: u32) {
  let q = lid % LANES;
  for (var c = lid / LANES; c < BC; c += 256u / LANES) {
    let k = k0 + 4u * q;
    rs[c * LANES + q] = vec4<f32>(aAt(j0 + c, k), aAt(j0 + c, k + 1u), aAt(j0 + c, k + 2u), aAt(j0 + c, k + 3u));
  }
}

fn loadW0(n0: u32, k0: u32, lid: u32) {
  if (FORMAT == 0u) {
    if (LAYOUT == 0u) {
      // [out, in]: consecutive threads read consecutive k.
      let q = lid % LANES;
      for (var c = lid / LANES; c < BC; c += 256u / LANES) {
        let n = n0 + c;
        let k = k0 + 4u * q;
        rs[c * LANES + q] = vec4<f32>(w32At(n, k, P.N, P.K), w32At(n, k + 1u, P.N, P.K), w32At(n, k + 2u, P.N, P.K), w32At(n, k + 3u, P.N, P.K));
      }
    } else {
      // [in, out]: consecutive threads read consecutive n.
      let c = lid % BC;
      for (var q = lid / BC; q < LANES; q += 256u / BC) {
        let n = n0 + c;
        let k = k0 + 4u * q;
        rs[c * LANES + q] = vec4<f32>(w32At(n, k, P.N, P.K), w32At(n, k + 1u, P.N, P.K), w32At(n, k + 2u, P.N, P.K), w32At(n, k + 3u, P.N, P.K));
      }
    }
    return;
  }
  // Quantized: one task per (row n, word); a word holds valuesPerWord consecutive k, i.e. 1 or 2 vec4s.
  let vpw = valuesPerWord();
  let wordsInTile = TILE / vpw;
  let quadsPerWord = vpw / 4u;
  for (var t = lid; t < BC * wordsInTile; t += 256u) {
    let c = t % BC;
    let wl = t / BC;
    let n = n0 + c;
    let wcol = k0 / vpw + wl;
    var word = 0u;
    var d = 0.0;
    if (n < P.N && wcol < P.wordsPerRow) {
      word = w0[wordIndex(n, wcol, P.N, P.wordsPerRow)];
      d = w0Scales[scaleIndex(n, (wcol * vpw) / groupSize(), P.N, P.groupsPerRow)];
    }
    for (var h = 0u; h < quadsPerWord; h++) {
      let s = 4u * h;
      rs[c * LANES + wl * quadsPerWord + h] = d * vec4<f32>(
        decodeSlot(word, s), decodeSlot(word, s + 1u), decodeSlot(word, s + 2u), decodeSlot(word, s + 3u));
    }
  }
}

@compute @workgroup_size(16, 16)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let tx = lid % LANES;
  let ty = lid / LANES;
  let k0 = wid.x * TILE;
  let m0 = wid.y * TILE;

  // dy·W0
  var acc0 = vec4<f32>(0.0);
  var acc1 = vec4<f32>(0.0);
  var acc2 = vec4<f32>(0.0);
  var acc3 = vec4<f32>(0.0);
  let stepsN = (P.N + BC - 1u) / BC;
  for (var t = 0u; t < stepsN; t++) {
    loadLeft(m0, t * BC, lid, false);
    loadW0(t * BC, k0, lid);
    workgroupBarrier();
    for (var c = 0u; c < BC; c++) {
      let a = ls[c * LANES + ty];
      let b = rs[c * LANES + tx];
      acc0 += a.x * b;
      acc1 += a.y * b;
      acc2 += a.z * b;
      acc3 += a.w * b;
    }
    workgroupBarrier();
  }

  // scale·g·A, kept apart for the dropout mask.
  var lora0 = vec4<f32>(0.0);
  var lora1 = vec4<f32>(0.0);
  var lora2 = vec4<f32>(0.0);
  var lora3 = vec4<f32>(0.0);
  let stepsR = (P.r + BC - 1u) / BC;
  for (var t = 0u; t < stepsR; t++) {
    loadLeft(m0, t * BC, lid, true);
    loadLoraA(t * BC, k0, lid);
    workgroupBarrier();
    for (var c = 0u; c < BC; c++) {
      let a = ls[c * LANES + ty];
      let b = rs[c * LANES + tx];
      lora0 += a.x * b;
      lora1 += a.y * b;
      lora2 += a.z * b;
      lora3 += a.w * b;
    }
    workgroupBarrier();
  }

  let base = array<vec4<f32>, 4>(acc0, acc1, acc2, acc3);
  let lora = array<vec4<f32>, 4>(lora0, lora1, lora2, lora3);
  let k = k0 + 4u * tx;
  for (var i = 0u; i < 4u; i++) {
    let m = m0 + 4u * ty + i;
    if (m >= P.M) { break; }
    for (var j = 0u; j < 4u; j++) {
      if (k + j < P.K) {
        let o = m * P.K + k + j;
        let prior = select(0.0, dx[o], P.accumulate != 0u);
        dx[o] = prior + base[i][j] + lora[i][j] * dropoutFactor(P.seed, o, P.dropoutP);
      }
    }
  }
}
