// Fused LoRA linear, forward:   y[M,N] = x[M,K]·W0[N,K]ᵀ + bias[N] + scale·xa[M,r]·B[N,r]ᵀ
// (PEFT: result = base_layer(x) + lora_B(lora_A(dropout(x))) · scaling, with xa = lora_A(dropout(x))).
//
// W0 is frozen and stays packed (weight_decode.wgsl): it is decoded while its tile is loaded into workgroup
// memory, so no full-precision copy of it exists. The LoRA term runs as extra contraction steps over
// [scale·xa | B] after the K steps over [x | W0], so the rank-r product B·A is never formed.
// With r = 0 and no bias this is the plain tiled matmul x·Wᵀ.
//
// Tiling: a workgroup of 16×16 threads computes a 64×64 block of y; each thread owns a 4×4 block held in four
// vec4 accumulators (unrolled by hand: run-time indexed accumulator arrays are slow on some drivers).

// Params and bindings: linear_forward_io.wgsl.

const LANES = 16u; // threads per side of the workgroup
const TILE = 64u;  // rows (and columns) of y per workgroup = 4 · LANES
const BK = 32u;    // contraction step

var<workgroup> xs: array<vec4<f32>, 512>; // [BK][LANES]: x[m0 + 4q + 0..3, k0 + kk]
var<workgroup> ws: array<vec4<f32>, 512>; // [BK][LANES]: W[n0 + 4q + 0..3, k0 + kk]

fn xAt(m: u32, k: u32) -> f32 {
  if (m < P.M && k < P.K) { return x[m * P.K + k]; }
  return 0.0;
}

fn xaAt(m: u32, j: u32) -> f32 {
  if (m < P.M && j < P.r) { return P.scale * xa[m * P.r + j]; }
  return 0.0;
}

fn bAt(n: u32, j: u32) -> f32 {
  if (n < P.N && j < P.r) { return loraB[n * P.r + j]; }
  return 0.0;
}

// Loads x[m0.., k0..] (phase 0) or scale·xa[m0.., j0..] (LoRA phase) into xs.
fn loadLeft(m0: u32, k0: u32, lid: u32, lora: bool) {
  let kk = lid % BK;
  for (var q = lid / BK; q < LANES; q += 256u / BK) {
    let m = m0 + 4u * q;
    var v: vec4<f32>;
    if (lora) {
      v = vec4<f32>(xaAt(m, k0 + kk), xaAt(m + 1u, k0 + kk), xaAt(m + 2u, k0 + kk), xaAt(m + 3u, k0 + kk));
    } else {
      v = vec4<f32>(xAt(m, k0 + kk), xAt(m + 1u, k0 + kk), xAt(m + 2u, k0 + kk), xAt(m + 3u, k0 + kk));
    }
    xs[kk * LANES + q] = v;
  }
}

// Loads B[n0.., j0..] into ws (LoRA phase).
fn loadLoraB(n0: u32, j0: u32, lid: u32) {
  let jj = lid % BK;
  for (var q = lid / BK; q < LANES; q += 256u / BK) {
    let n = n0 + 4u * q;
    ws[jj * LANES + q] = vec4<f32>(bAt(n, j0 + jj), bAt(n + 1u, j0 + jj), bAt(n + 2u, j0 + jj), bAt(n + 3u, j0 + jj));
  }
}

// Loads W0[n0.., k0..] into ws, decoding the packed format.
fn loadW0(n0: u32, k0: u32, lid: u32) {
  if (FORMAT == 0u) {
    if (LAYOUT == 0u) {
      // [out, in]: consecutive threads read consecutive k.
      let kk = lid % BK;
      for (var q = lid / BK; q < LANES; q += 256u / BK) {
        let n = n0 + 4u * q;
        let k = k0 + kk;
        ws[kk * LANES + q] = vec4<f32>(w32At(n, k, P.N, P.K), w32At(n + 1u, k, P.N, P.K), w32At(n + 2u, k, P.N, P.K), w32At(n + 3u, k, P.N, P.K));
      }
    } else {
      // [in, out]: consecutive threads read consecutive n.
      let q = lid % LANES;
      for (var kk = lid / LANES; kk < BK; kk += 256u / LANES) {
        let n = n0 + 4u * q;
        let k = k0 + kk;
        ws[kk * LANES + q] = vec4<f32>(w32At(n, k, P.N, P.K), w32At(n + 1u, k, P.N, P.K), w32At(n + 2u, k, P.N, P.K), w32At(n + 3u, k, P.N, P.K));
      }
    }
    return;
  }
  // Quantized: one task per (row n, word); a word holds valuesPerWord consecutive k of row n.
  let vpw = valuesPerWord();
  let wordsInTile = BK / vpw;
  for (var t = lid; t < TILE * wordsInTile; t += 256u) {
    let nl = t % TILE;
    let wl = t / TILE;
    let n = n0 + nl;
    let wcol = k0 / vpw + wl;
    var word = 0u;
    var d = 0.0;
    if (n < P.N && wcol < P.wordsPerRow) {
      word = w0[wordIndex(n, wcol, P.N, P.wordsPerRow)];
      d = w0Scales[scaleIndex(n, (wcol * vpw) / groupSize(), P.N, P.groupsPerRow)];
    }
    for (var s = 0u; s < vpw; s++) {
      ws[(wl * vpw + s) * LANES + nl / 4u][nl % 4u] = decodeSlot(word, s) * d;
    }
  }
}

@compute @workgroup_size(16, 16)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let tx = lid % LANES;
  let ty = lid / LANES;
  let n0 = wid.x * TILE;
  let m0 = wid.y * TILE;

  var acc0 = vec4<f32>(0.0);
  var acc1 = vec4<f32>(0.0);
  var acc2 = vec4<f32>(0.0);
  var acc3 = vec4<f32>(0.0);

  let stepsK = (P.K + BK - 1u) / BK;
  let stepsR = (P.r + BK - 1u) / BK;
  for (var t = 0u; t < stepsK + stepsR; t++) {
    if (t < stepsK) {
      loadLeft(m0, t * BK, lid, false);
      loadW0(n0, t * BK, lid);
    } else {
      loadLeft(m0, (t - stepsK) * BK, lid, true);
      loadLoraB(n0, (t - stepsK) * BK, lid);
    }
    workgroupBarrier();
    for (var kk = 0u; kk < BK; kk++) {
      let a = xs[kk * LANES + ty];
      let b = ws[kk * LANES + tx];
      acc0 += a.x * b;
      acc1 += a.y * b;
      acc2 += a.z * b;
      acc3 += a.w * b;
    }
    workgroupBarrier();
  }

  let n = n0 + 4u * tx;
  var biasV = vec4<f32>(0.0);
  if (P.hasBias != 0u) {
    for (var j = 0u; j < 4u; j++) {
      if (n + j < P.N) { biasV[j] = bias[n + j]; }
    }
  }
  let rows = array<vec4<f32>, 4>(acc0 + biasV, acc1 + biasV, acc2 + biasV, acc3 + biasV);
  for (var i = 0u; i < 4u; i++) {
    let m = m0 + 4u * ty + i;
    if (m >= P.M) { break; }
    for (var j = 0u; j < 4u; j++) {
      if (n + j < P.N) {
        let o = m * P.N + n + j;
        let prior = select(0.0, y[o], P.accumulate != 0u);
        y[o] = prior + rows[i][j];
      }
    }
  }
}
