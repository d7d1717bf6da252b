// Causal multi-head attention, forward, with grouped-query heads, one workgroup per (sequence, head, query):
//   s_j = scale · q_i·k_j        for the keys j the query may see (j ≤ its position, keyMask[j] ≠ 0)
//   p   = softmax(s)             (excluded keys get p_j = 0; a query with no keys gets p = 0 and out = 0)
//   out_i = Σ_j p_j · v_j
//   lse_i = max_j s_j + log Σ_j exp(s_j − max_j s_j)   (log-sum-exp of the visible scores)
// Query head h reads kv head h / (H / KV).
//
// The same kernel serves training (newTokens = T; k/v hold kvRows = P + T rows per sequence, a prefix of
// pastLen = P keys every query sees, then its own, and lse [B, H, T] is saved for the backward, which
// recomputes p_j = exp(s_j − lse_i) from it: attention_backward.wgsl) and KV-cache decoding (k/v are the caches
// [B, maxT, KV·hd], kvRows = maxT, new token t sits at position pastLen + t and sees cache positions
// 0 .. pastLen + t; lse is not written). Because both are this one code path, prefill plus single-token steps
// reproduce the full forward's rows bit for bit.
// A query that sees no key gets lse = NO_KEYS_LSE, the largest f32, in place of log 0 = −∞: exp(s − lse) is
// then 0 for every score, the same p = 0 the forward gives it.
//
// Two entry points compute the same formulas:
// - `main` ('tiled' profile), one workgroup per query: thread `lid` owns keys j ≡ lid (mod 64) for the scores
//   and head-dim columns d ≡ lid (mod 64) for the output; the max and the sum of the softmax are tree reductions
//   in workgroup memory.
// - `per_query` ('direct' profile, CPU drivers), one thread per query and 64 queries per workgroup, with no
//   workgroup memory and no barrier: on a CPU driver each workgroup costs about 0.1 ms to start and a barrier
//   switches between the SIMD lanes of a workgroup, so this is many times faster there. It recomputes each
//   score in three passes (max, sum, probabilities) rather than keep the row, and accumulates the output row in
//   a private array of MAX_HEAD_DIM floats.

const WG = 64u;
const MAX_HEAD_DIM = 256u; // head dimensions the per-query entry point holds; attention.ts refuses more
const MAX_KEYS = 2048u;    // keys one query can see (8 KiB of scores); attention.ts refuses more
const EXCLUDED = -3.0e38;  // score of a key the query may not see (below any real score)
const NO_KEYS_LSE = 0x1.fffffep+127f; // lse of a query that sees no key (the largest f32; see above)

struct Params {
  batch: u32, newTokens: u32, pastLen: u32, kvRows: u32,
  heads: u32, kvHeads: u32, headDim: u32, hasMask: u32,
  writeLse: u32, scale: f32, _pad0: u32, _pad1: u32,
}

@group(0) @binding(0) var<uniform> P: Params;
@group(0) @binding(1) var<storage, read> q: array<f32>;          // [B·newTokens, H·hd]
@group(0) @binding(2) var<storage, read> k: array<f32>;          // [B·kvRows, KV·hd]
@group(0) @binding(3) var<storage, read> v: array<f32>;          // [B·kvRows, KV·hd]
@group(0) @binding(4) var<storage, read> keyMask: array<u32>;    // [B·kvRows] when hasMask: 1 real, 0 padding
@group(0) @binding(5) var<storage, read_write> out: array<f32>;  // [B·newTokens, H·hd]
@group(0) @binding(6) var<storage, read_write> lse: array<f32>; // [B, H, newTokens] when writeLse

var<workgroup> p: array<f32, MAX_KEYS>; // scores, then exp(s − max), then probabilities
var<workgroup> red: array<f32, WG>;

fn reduceMax(lid: u32) {
  for (var s = WG / 2u; s > 0u; s >>= 1u) {
    if (lid < s) { red[lid] = max(red[lid], red[lid + s]); }
    workgroupBarrier();
  }
}

fn reduceSum(lid: u32) {
  for (var s = WG / 2u; s > 0u; s >>= 1u) {
    if (lid < s) { red[lid] = red[lid] + red[lid + s]; }
    workgroupBarrier();
  }
}

@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
  let row = wid.y * nwg.x + wid.x; // ((b·H + h)·newTokens + t)
  if (row >= P.batch * P.heads * P.newTokens) { return; }
  let qr = queryOf(row);
  let keys = qr.keys;                     // causal: positions 0 ..= pastLen + t
  let hd = P.headDim;

  // Scores, and this thread's max over the keys it owns.
  var localMax = EXCLUDED;
  for (var j = lid; j < keys; j += WG) {
    let s = score(qr, j);
    if (s > EXCLUDED) { localMax = max(localMax, s); }
    p[j] = s;
  }
  red[lid] = localMax;
  workgroupBarrier();
  reduceMax(lid);
  let rowMax = workgroupUniformLoad(&red[0]);
  workgroupBarrier(); // everyone has read red[0] before it is reused

  var localSum = 0.0;
  for (var j = lid; j < keys; j += WG) {
    let s = p[j];
    let e = select(exp(s - rowMax), 0.0, s <= EXCLUDED);
    p[j] = e;
    localSum += e;
  }
  red[lid] = localSum;
  workgroupBarrier();
  reduceSum(lid);
  let rowSum = workgroupUniformLoad(&red[0]);
  // A query that sees no key at all: every e is 0, and so is every probability (no 0/0).
  let inv = select(0.0, 1.0 / rowSum, rowSum > 0.0);
  if (lid == 0u) { writeLse(row, rowMax, rowSum); }

  for (var j = lid; j < keys; j += WG) { p[j] = p[j] * inv; }
  workgroupBarrier();

  for (var d = lid; d < hd; d += WG) {
    var acc = 0.0;
    for (var j = 0u; j < keys; j++) { acc += p[j] * v[qr.kvBase + j * qr.kvWidth + d]; }
    out[qr.qBase + d] = acc;
  }
}

// The index arithmetic both entry points share for query `row` = ((b·H + h)·newTokens + t).
struct Query { b: u32, t: u32, keys: u32, qBase: u32, kvBase: u32, kvWidth: u32 }

fn queryOf(row: u32) -> Query {
  let t = row % P.newTokens;
  let bh = row / P.newTokens;
  let h = bh % P.heads;
  let b = bh / P.heads;
  let hd = P.headDim;
  let g = h / (P.heads / P.kvHeads);
  let kvWidth = P.kvHeads * hd;
  return Query(b, t, P.pastLen + t + 1u, (b * P.newTokens + t) * P.heads * hd + h * hd, b * P.kvRows * kvWidth + g * hd, kvWidth);
}

// The scaled score of key j for query `qr`, or EXCLUDED when the key is padding.
fn score(qr: Query, j: u32) -> f32 {
  if (P.hasMask != 0u && keyMask[qr.b * P.kvRows + j] == 0u) { return EXCLUDED; }
  var dot = 0.0;
  let kRow = qr.kvBase + j * qr.kvWidth;
  for (var d = 0u; d < P.headDim; d++) { dot += q[qr.qBase + d] * k[kRow + d]; }
  return P.scale * dot;
}

// Saves lse for query `row` (training only) from the row's max score and its sum of exp(s − max).
fn writeLse(row: u32, rowMax: f32, rowSum: f32) {
  if (P.writeLse != 0u) { lse[row] = select(NO_KEYS_LSE, rowMax + log(rowSum), rowSum > 0.0); }
}

@compute @workgroup_size(64)
fn per_query(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
             @builtin(local_invocation_index) lid: u32) {
  let row = (wid.y * nwg.x + wid.x) * 64u + lid;
  if (row >= P.batch * P.heads * P.newTokens) { return; }
  let qr = queryOf(row);

  var rowMax = EXCLUDED;
  for (var j = 0u; j < qr.keys; j++) { rowMax = max(rowMax, score(qr, j)); }
  var rowSum = 0.0;
  for (var j = 0u; j < qr.keys; j++) {
    let s = score(qr, j);
    rowSum += select(exp(s - rowMax), 0.0, s <= EXCLUDED);
  }
  let inv = select(0.0, 1.0 / rowSum, rowSum > 0.0);
  writeLse(row, rowMax, rowSum);

  var acc: array<f32, MAX_HEAD_DIM>;
  let hd = P.headDim;
  for (var j = 0u; j < qr.keys; j++) {
    let s = score(qr, j);
    let pj = select(exp(s - rowMax), 0.0, s <= EXCLUDED) * inv;
    let vRow = qr.kvBase + j * qr.kvWidth;
    for (var d = 0u; d < hd; d++) { acc[d] += pj * v[vRow + d]; }
  }
  for (var d = 0u; d < hd; d++) { out[qr.qBase + d] = acc[d]; }
}
