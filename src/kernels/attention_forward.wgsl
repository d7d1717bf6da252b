// Causal multi-head attention, forward, with grouped-query heads, one workgroup per (sequence, head, query):
//   s_j = scale · q_i·k_j        for the keys j the query may see (j ≤ its position, keyMask[j] ≠ 0)
//   p   = softmax(s)             (excluded keys get p_j = 0; a query with no keys gets p = 0 and out = 0)
//   out_i = Σ_j p_j · v_j
// Query head h reads kv head h / (H / KV).
//
// The same kernel serves training (pastLen = 0, newTokens = kvRows = T; k/v are [B·T, KV·hd] and p is saved
// in probs [B, H, T, T] for the backward) and KV-cache decoding (k/v are the caches [B, maxT, KV·hd],
// kvRows = maxT, new token t sits at position pastLen + t and sees cache positions 0 .. pastLen + t; probs
// are not written). Because both are this one code path, prefill plus single-token steps reproduce the
// full forward's rows bit for bit.
//
// Within a workgroup, thread `lid` owns keys j ≡ lid (mod WG) for the scores and head-dim columns
// d ≡ lid (mod WG) for the output; the max and the sum of the softmax are tree reductions in workgroup memory.
// WG is 64 on GPUs and 1 on CPU drivers (the 'direct' profile), where a barrier switches between the lanes a
// workgroup runs on and one thread per query is much faster; the reductions then do nothing.

override WG: u32 = 64u;
const MAX_KEYS = 2048u;    // keys one query can see (8 KiB of scores); attention.ts refuses more
const EXCLUDED = -3.0e38;  // score of a key the query may not see (below any real score)

struct Params {
  batch: u32, newTokens: u32, pastLen: u32, kvRows: u32,
  heads: u32, kvHeads: u32, headDim: u32, hasMask: u32,
  writeProbs: u32, scale: f32, _pad0: u32, _pad1: u32,
}

@group(0) @binding(0) var<uniform> P: Params;
@group(0) @binding(1) var<storage, read> q: array<f32>;          // [B·newTokens, H·hd]
@group(0) @binding(2) var<storage, read> k: array<f32>;          // [B·kvRows, KV·hd]
@group(0) @binding(3) var<storage, read> v: array<f32>;          // [B·kvRows, KV·hd]
@group(0) @binding(4) var<storage, read> keyMask: array<u32>;    // [B·kvRows] when hasMask: 1 real, 0 padding
@group(0) @binding(5) var<storage, read_write> out: array<f32>;  // [B·newTokens, H·hd]
@group(0) @binding(6) var<storage, read_write> probs: array<f32>; // [B, H, newTokens, pastLen + newTokens] when writeProbs

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

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
  let row = wid.y * nwg.x + wid.x; // ((b·H + h)·newTokens + t)
  if (row >= P.batch * P.heads * P.newTokens) { return; }
  let t = row % P.newTokens;
  let bh = row / P.newTokens;
  let h = bh % P.heads;
  let b = bh / P.heads;
  let hd = P.headDim;
  let g = h / (P.heads / P.kvHeads);
  let keys = P.pastLen + t + 1u;          // causal: positions 0 ..= pastLen + t
  let qBase = (b * P.newTokens + t) * P.heads * hd + h * hd;
  let kvWidth = P.kvHeads * hd;
  let kvBase = b * P.kvRows * kvWidth + g * hd;

  // Scores, and this thread's max over the keys it owns.
  var localMax = EXCLUDED;
  for (var j = lid; j < keys; j += WG) {
    var s = EXCLUDED;
    if (P.hasMask == 0u || keyMask[b * P.kvRows + j] != 0u) {
      var dot = 0.0;
      let kRow = kvBase + j * kvWidth;
      for (var d = 0u; d < hd; d++) { dot += q[qBase + d] * k[kRow + d]; }
      s = P.scale * dot;
      localMax = max(localMax, s);
    }
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

  let probsWidth = P.pastLen + P.newTokens;
  let probsBase = row * probsWidth;
  for (var j = lid; j < probsWidth; j += WG) {
    var pj = 0.0;
    if (j < keys) {
      pj = p[j] * inv;
      p[j] = pj;
    }
    if (P.writeProbs != 0u) { probs[probsBase + j] = pj; }
  }
  workgroupBarrier();

  for (var d = lid; d < hd; d += WG) {
    var acc = 0.0;
    for (var j = 0u; j < keys; j++) { acc += p[j] * v[kvBase + j * kvWidth + d]; }
    out[qBase + d] = acc;
  }
}
