// Attention backward, step 1 of 2: the gradient of the scores (before the scale), one workgroup per
// (sequence, head, query i), written over the [B, H, T, S] scratch (S = P + T keys per sequence: a prefix of P
// keys, then the sequence's own T):
//   dP_ij = dO_i · v_j
//   dS_ij = P_ij · (dP_ij − Σ_j' P_ij' dP_ij')          (softmax backward)
// P is the forward's saved probabilities: 0 for keys a query may not see (later positions, padding), so dS
// is 0 there too and a query that saw no key gets dS = 0. attention_backward.wgsl turns dS into dq, dk, dv.
// `main` ('tiled' profile) runs one workgroup per query: thread `lid` owns keys j ≡ lid (mod 64); it first
// writes dP_ij into dS, then rescales its own entries once the row sum is known, so no workgroup copy of the row
// is needed. `per_query` ('direct' profile, CPU drivers) runs one thread per query, 64 queries per workgroup,
// with no workgroup memory or barrier (see attention_forward.wgsl for why that wins on a CPU driver).

const WG = 64u;

struct Params {
  batch: u32, seqLen: u32, heads: u32, kvHeads: u32,
  headDim: u32, prefix: u32, _pad1: u32, _pad2: u32,
}

@group(0) @binding(0) var<uniform> P: Params;
@group(0) @binding(1) var<storage, read> dOut: array<f32>;     // [B·T, H·hd]
@group(0) @binding(2) var<storage, read> v: array<f32>;        // [B·S, KV·hd]
@group(0) @binding(3) var<storage, read> probs: array<f32>;    // [B, H, T, S]
@group(0) @binding(4) var<storage, read_write> dS: array<f32>; // [B, H, T, S]

var<workgroup> red: array<f32, WG>;

// Where query row = ((b·H + h)·T + i) reads dOut (its row and head) and v (its sequence and kv head), and its
// row of P and dS.
struct Query { oBase: u32, vBase: u32, rowBase: u32 }

fn queryOf(row: u32) -> Query {
  let T = P.seqLen;
  let i = row % T;
  let bh = row / T;
  let h = bh % P.heads;
  let b = bh / P.heads;
  let hd = P.headDim;
  let g = h / (P.heads / P.kvHeads);
  return Query((b * T + i) * P.heads * hd + h * hd, b * (P.prefix + T) * P.kvHeads * hd + g * hd, row * (P.prefix + T));
}

// Writes dP_ij = dO_i · v_j into dS (0 where P_ij = 0: the key is not seen) and returns P_ij · dP_ij.
fn writeDp(qr: Query, j: u32) -> f32 {
  let pj = probs[qr.rowBase + j];
  var dp = 0.0;
  if (pj != 0.0) {
    let vRow = qr.vBase + j * P.kvHeads * P.headDim;
    for (var d = 0u; d < P.headDim; d++) { dp += dOut[qr.oBase + d] * v[vRow + d]; }
  }
  dS[qr.rowBase + j] = dp;
  return pj * dp;
}

// dS_ij = P_ij · (dP_ij − Σ_j' P_ij' dP_ij') over the dP_ij already in dS.
fn finishDs(qr: Query, j: u32, rowDot: f32) {
  dS[qr.rowBase + j] = probs[qr.rowBase + j] * (dS[qr.rowBase + j] - rowDot);
}

@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
  let row = wid.y * nwg.x + wid.x; // ((b·H + h)·T + i)
  let S = P.prefix + P.seqLen;
  if (row >= P.batch * P.heads * P.seqLen) { return; }
  let qr = queryOf(row);
  var local = 0.0;
  for (var j = lid; j < S; j += WG) { local += writeDp(qr, j); }
  red[lid] = local;
  workgroupBarrier();
  for (var s = WG / 2u; s > 0u; s >>= 1u) {
    if (lid < s) { red[lid] = red[lid] + red[lid + s]; }
    workgroupBarrier();
  }
  let rowDot = red[0];
  for (var j = lid; j < S; j += WG) { finishDs(qr, j, rowDot); }
}

@compute @workgroup_size(64)
fn per_query(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
             @builtin(local_invocation_index) lid: u32) {
  let row = (wid.y * nwg.x + wid.x) * 64u + lid; // ((b·H + h)·T + i)
  let S = P.prefix + P.seqLen;
  if (row >= P.batch * P.heads * P.seqLen) { return; }
  let qr = queryOf(row);
  var rowDot = 0.0;
  for (var j = 0u; j < S; j++) { rowDot += writeDp(qr, j); }
  for (var j = 0u; j < S; j++) { finishDs(qr, j, rowDot); }
}
