// Attention backward, step 2 of 2 (after attention_backward_index.wgsl and attention_backward_stats.wgsl):
// dq, dk and dv with the probabilities recomputed from the forward's lse, never stored (memory-efficient
// attention, as FlashAttention's backward). For query i (row = (b·H + h)·T + i) and a key j it sees:
//   P_ij  = exp(scale·q_i·k_j − lse_i)
//   dS_ij = P_ij · (dOut_i·v_j − D_i)                        (D_i = dOut_i·out_i, from stats)
//   dq_i  = scale · Σ_j dS_ij · k_j
//   dk_j  = scale · Σ_{h in group g} Σ_{i that see j} dS_ij · q_i
//   dv_j  =         Σ_{h in group g} Σ_{i that see j} P_ij · dOut_i
// Two kernels, each with a 'tiled' and a 'direct' entry point computing the same sums:
// - query kernels (bindings 1..7, binding 7 is dq): `dq` ('tiled'), one workgroup per query row: the 64 threads
//   take 64 keys at a time, each computing one dS_ij into workgroup memory, then each thread adds the chunk into
//   the head-dim columns d ≡ lid (mod 64) it owns. `dq_per_query` ('direct'), one thread per query row, 64 rows per
//   workgroup, the row of dq in a private array.
// - key kernels (bindings 1..8: dk at 7, dv at 8), per key row e = (b·S + j)·KV + g: `dkv` ('tiled'), one
//   workgroup per key row: 64 (head, query) pairs at a time, each thread computing P_ij and dS_ij of one pair,
//   then each thread adding the chunk into its own columns. `dkv_per_key` ('direct'), one thread per key row.
//   A padding key is seen by no query: its dk and dv are 0.
// The 'direct' entry points use no workgroup memory and no barrier (see attention_forward.wgsl for why that wins
// on a CPU driver).

const WG = 64u;
const COLS = MAX_HEAD_DIM / WG; // head-dim columns per thread in the tiled entry points

@group(0) @binding(1) var<storage, read> q: array<f32>;             // [B·T, H·hd]
@group(0) @binding(2) var<storage, read> k: array<f32>;             // [B·S, KV·hd]
@group(0) @binding(3) var<storage, read> v: array<f32>;             // [B·S, KV·hd]
@group(0) @binding(4) var<storage, read> keyMask: array<u32>;       // [B·S] when hasMask: 1 real, 0 padding
@group(0) @binding(5) var<storage, read> dOut: array<f32>;          // [B·T, H·hd]
@group(0) @binding(6) var<storage, read> stats: array<vec2<f32>>;   // [B, H, T]: (lse, D)
@group(0) @binding(7) var<storage, read_write> dqk: array<f32>;     // dq [B·T, H·hd] (query kernels), dk [B·S, KV·hd] (key kernels)
@group(0) @binding(8) var<storage, read_write> dv: array<f32>;      // [B·S, KV·hd] (key kernels)

var<workgroup> chunkP: array<f32, WG>;   // key kernels: P of each pair of the chunk
var<workgroup> chunkDs: array<f32, WG>;  // dS of each key (query kernels) or pair (key kernels) of the chunk
var<workgroup> chunkRow: array<u32, WG>; // key kernels: where each pair's query row starts in q and dOut

// Whether key j of sequence b is a real token.
fn seen(b: u32, j: u32) -> bool {
  return P.hasMask == 0u || keyMask[b * (P.prefix + P.seqLen) + j] != 0u;
}

// (P_ij, dS_ij) of the query row starting at qBase in q and dOut, with its stats st = (lse, D), and the key at
// kRow in k and v. The score is summed as the forward sums it.
fn probAndDs(qBase: u32, kRow: u32, st: vec2<f32>) -> vec2<f32> {
  var dot = 0.0;
  var dp = 0.0;
  for (var d = 0u; d < P.headDim; d++) {
    dot += q[qBase + d] * k[kRow + d];
    dp += dOut[qBase + d] * v[kRow + d];
  }
  let p = exp(P.scale * dot - st.x);
  return vec2<f32>(p, p * (dp - st.y));
}

// The (head, query) pair n of key kr, n = (h − g·groupSize)·span + (i − first): its stats row and its offset in q, dOut.
fn pairOf(kr: Key, n: u32) -> vec2<u32> {
  let span = P.seqLen - kr.first;
  let h = kr.g * kr.groupSize + n / span;
  let i = kr.first + n % span;
  return vec2<u32>((kr.b * P.heads + h) * P.seqLen + i, rowBase(kr.b, i, h));
}

@compute @workgroup_size(64)
fn dq(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
      @builtin(local_invocation_index) lid: u32) {
  let row = wid.y * nwg.x + wid.x;
  if (row >= queryRows()) { return; }
  let qr = queryOf(row);
  let st = stats[row];
  let kvW = kvWidth();
  var acc: array<f32, COLS>;
  for (var j0 = 0u; j0 < qr.keys; j0 += WG) {
    let j = j0 + lid;
    var ds = 0.0;
    if (j < qr.keys && seen(qr.b, j)) { ds = probAndDs(qr.qBase, qr.kvBase + j * kvW, st).y; }
    chunkDs[lid] = ds;
    workgroupBarrier();
    let n = min(WG, qr.keys - j0);
    for (var c = 0u; c < COLS; c++) {
      let d = lid + c * WG;
      if (d < P.headDim) {
        for (var jj = 0u; jj < n; jj++) { acc[c] += chunkDs[jj] * k[qr.kvBase + (j0 + jj) * kvW + d]; }
      }
    }
    workgroupBarrier();
  }
  for (var c = 0u; c < COLS; c++) {
    let d = lid + c * WG;
    if (d < P.headDim) { dqk[qr.qBase + d] = P.scale * acc[c]; }
  }
}

@compute @workgroup_size(64)
fn dq_per_query(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                @builtin(local_invocation_index) lid: u32) {
  let row = (wid.y * nwg.x + wid.x) * 64u + lid;
  if (row >= queryRows()) { return; }
  let qr = queryOf(row);
  let st = stats[row];
  let kvW = kvWidth();
  var acc: array<f32, MAX_HEAD_DIM>;
  for (var j = 0u; j < qr.keys; j++) {
    if (!seen(qr.b, j)) { continue; }
    let kRow = qr.kvBase + j * kvW;
    let ds = probAndDs(qr.qBase, kRow, st).y;
    for (var d = 0u; d < P.headDim; d++) { acc[d] += ds * k[kRow + d]; }
  }
  for (var d = 0u; d < P.headDim; d++) { dqk[qr.qBase + d] = P.scale * acc[d]; }
}

@compute @workgroup_size(64)
fn dkv(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
       @builtin(local_invocation_index) lid: u32) {
  let e = wid.y * nwg.x + wid.x;
  if (e >= keyRows()) { return; }
  let kr = keyOf(e);
  let isReal = seen(kr.b, kr.j);
  let pairs = kr.groupSize * (P.seqLen - kr.first);
  var accK: array<f32, COLS>;
  var accV: array<f32, COLS>;
  for (var n0 = 0u; n0 < pairs; n0 += WG) {
    let n = n0 + lid;
    var pv = vec2<f32>(0.0, 0.0);
    var base = 0u;
    if (n < pairs) {
      let pr = pairOf(kr, n);
      base = pr.y;
      if (isReal) { pv = probAndDs(base, kr.kvBase, stats[pr.x]); }
    }
    chunkP[lid] = pv.x;
    chunkDs[lid] = pv.y;
    chunkRow[lid] = base;
    workgroupBarrier();
    let m = min(WG, pairs - n0);
    for (var c = 0u; c < COLS; c++) {
      let d = lid + c * WG;
      if (d < P.headDim) {
        for (var nn = 0u; nn < m; nn++) {
          accK[c] += chunkDs[nn] * q[chunkRow[nn] + d];
          accV[c] += chunkP[nn] * dOut[chunkRow[nn] + d];
        }
      }
    }
    workgroupBarrier();
  }
  for (var c = 0u; c < COLS; c++) {
    let d = lid + c * WG;
    if (d < P.headDim) {
      dqk[kr.kvBase + d] = P.scale * accK[c];
      dv[kr.kvBase + d] = accV[c];
    }
  }
}

@compute @workgroup_size(64)
fn dkv_per_key(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
               @builtin(local_invocation_index) lid: u32) {
  let e = (wid.y * nwg.x + wid.x) * 64u + lid;
  if (e >= keyRows()) { return; }
  let kr = keyOf(e);
  var accK: array<f32, MAX_HEAD_DIM>;
  var accV: array<f32, MAX_HEAD_DIM>;
  if (seen(kr.b, kr.j)) {
    let pairs = kr.groupSize * (P.seqLen - kr.first);
    for (var n = 0u; n < pairs; n++) {
      let pr = pairOf(kr, n);
      let pv = probAndDs(pr.y, kr.kvBase, stats[pr.x]);
      for (var d = 0u; d < P.headDim; d++) {
        accK[d] += pv.y * q[pr.y + d];
        accV[d] += pv.x * dOut[pr.y + d];
      }
    }
  }
  for (var d = 0u; d < P.headDim; d++) {
    dqk[kr.kvBase + d] = P.scale * accK[d];
    dv[kr.kvBase + d] = accV[d];
  }
}
