// Attention backward: the parameters and index arithmetic shared by attention_backward_stats.wgsl and
// attention_backward.wgsl (attention.ts puts this file in front of each). Each sequence b has S = Pre + T keys:
// a prefix of Pre keys every query sees, then its own T; query i sits at key position Pre + i and sees keys
// j ≤ Pre + i whose keyMask is not 0. Query head h reads kv head g = h / (H / KV).
// Layout (row-major per token): q, dOut, out, dq [B·T, H·hd]; k, v, dk, dv [B·S, KV·hd]; lse [B, H, T].

const MAX_HEAD_DIM = 256u; // as in attention_forward.wgsl; attention.ts refuses more

struct Params {
  batch: u32, seqLen: u32, heads: u32, kvHeads: u32,
  headDim: u32, prefix: u32, hasMask: u32, scale: f32,
}

@group(0) @binding(0) var<uniform> P: Params;

// Query row = ((b·H + h)·T + i), the index of its lse: its offset qBase in q, dOut, out and dq, and kvBase, the
// offset of key 0 of its sequence and kv head in k and v (key j is kvWidth() further per position).
struct Query { b: u32, i: u32, keys: u32, qBase: u32, kvBase: u32 }

fn queryRows() -> u32 { return P.batch * P.heads * P.seqLen; }
fn kvWidth() -> u32 { return P.kvHeads * P.headDim; }

fn queryOf(row: u32) -> Query {
  let T = P.seqLen;
  let i = row % T;
  let bh = row / T;
  let h = bh % P.heads;
  let b = bh / P.heads;
  let g = h / (P.heads / P.kvHeads);
  return Query(b, i, P.prefix + i + 1u, rowBase(b, i, h), b * (P.prefix + T) * kvWidth() + g * P.headDim);
}

// Where query i of sequence b, head h starts in q, dOut, out and dq.
fn rowBase(b: u32, i: u32, h: u32) -> u32 { return (b * P.seqLen + i) * P.heads * P.headDim + h * P.headDim; }

// Key row e = ((b·S + j)·KV + g): key j of sequence b, kv head g, at kvBase in k, v, dk and dv. The queries that
// see it (if it is not padding) are i = first .. T − 1 of the groupSize heads g·groupSize .. (g + 1)·groupSize − 1.
struct Key { b: u32, j: u32, g: u32, kvBase: u32, first: u32, groupSize: u32 }

fn keyRows() -> u32 { return P.batch * (P.prefix + P.seqLen) * P.kvHeads; }

fn keyOf(e: u32) -> Key {
  let m = e / P.kvHeads;
  let g = e % P.kvHeads;
  let S = P.prefix + P.seqLen;
  let j = m % S;
  return Key(m / S, j, g, m * kvWidth() + g * P.headDim, select(0u, j - P.prefix, j > P.prefix), P.heads / P.kvHeads);
}
