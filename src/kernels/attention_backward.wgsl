// Attention backward, step 2 of 2: dq, dk and dv from dS (attention_backward_scores.wgsl) and the saved P,
// one thread per output element, no atomics (each thread sums everything its element needs). Each sequence has
// S = Pre + T keys: a prefix of Pre keys every query sees, then its own T; query i sits at key position Pre + i.
//   dq[i, h, d] = scale · Σ_{j ≤ Pre + i} dS[h, i, j] · k[j, g(h), d]
//   dk[j, g, d] = scale · Σ_{h in group g} Σ_{i ≥ j − Pre} dS[h, i, j] · q[i, h, d]
//   dv[j, g, d] =         Σ_{h in group g} Σ_{i ≥ j − Pre} P[h, i, j]  · dO[i, h, d]
// (forward: s_ij = scale·q_i·k_j, out_i = Σ_j P_ij·v_j), with g(h) = h / (H / KV) and all within one sequence.
// `main` ('tiled' profile), one thread per output element: threads [0, B·T·H·hd) compute dq; threads
// [B·T·H·hd, B·T·H·hd + B·S·KV·hd) compute one dk and one dv element each.
// `per_row` ('direct' profile, CPU drivers), one thread per row of a head: threads [0, B·T·H) compute the hd
// elements of dq for one query and head, threads [B·T·H, B·T·H + B·S·KV) those of dk and dv for one key and kv
// head, in private arrays. Each dS and P value is then read once rather than hd times, and the sums run in the
// same order as in `main`.

const MAX_HEAD_DIM = 256u; // as in attention_forward.wgsl; attention.ts refuses more

struct Params {
  batch: u32, seqLen: u32, heads: u32, kvHeads: u32,
  headDim: u32, scale: f32, prefix: u32, _pad1: u32,
}

@group(0) @binding(0) var<uniform> P: Params;
@group(0) @binding(1) var<storage, read> dS: array<f32>;       // [B, H, T, S]
@group(0) @binding(2) var<storage, read> probs: array<f32>;    // [B, H, T, S]
@group(0) @binding(3) var<storage, read> q: array<f32>;        // [B·T, H·hd]
@group(0) @binding(4) var<storage, read> k: array<f32>;        // [B·S, KV·hd]
@group(0) @binding(5) var<storage, read> dOut: array<f32>;     // [B·T, H·hd]
@group(0) @binding(6) var<storage, read_write> dq: array<f32>; // [B·T, H·hd]
@group(0) @binding(7) var<storage, read_write> dk: array<f32>; // [B·S, KV·hd]
@group(0) @binding(8) var<storage, read_write> dv: array<f32>; // [B·S, KV·hd]

@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
  let index = (wid.y * nwg.x + wid.x) * 64u + lid;
  let T = P.seqLen;
  let pre = P.prefix;
  let S = pre + T;
  let hd = P.headDim;
  let qWidth = P.heads * hd;
  let kvWidth = P.kvHeads * hd;
  let M = P.batch * T;
  let group = P.heads / P.kvHeads;
  let dqCount = M * qWidth;

  if (index < dqCount) {
    let m = index / qWidth;
    let c = index % qWidth;
    let h = c / hd;
    let d = c % hd;
    let b = m / T;
    let i = m % T;
    let g = h / group;
    let sBase = ((b * P.heads + h) * T + i) * S;
    let kBase = b * S * kvWidth + g * hd + d;
    var acc = 0.0;
    for (var j = 0u; j <= pre + i; j++) { acc += dS[sBase + j] * k[kBase + j * kvWidth]; }
    dq[index] = P.scale * acc;
    return;
  }

  let e = index - dqCount;
  if (e >= P.batch * S * kvWidth) { return; }
  let m = e / kvWidth;
  let c = e % kvWidth;
  let g = c / hd;
  let d = c % hd;
  let b = m / S;
  let j = m % S;
  // Queries i ≥ j − pre see key j (every query sees the prefix).
  let firstQuery = select(0u, j - pre, j > pre);
  var accK = 0.0;
  var accV = 0.0;
  for (var h = g * group; h < (g + 1u) * group; h++) {
    let sBase = (b * P.heads + h) * T * S + j; // [b, h, i = 0, j]
    let qBase = b * T * qWidth + h * hd + d;   // [b·T + i = 0, h, d]
    for (var i = firstQuery; i < T; i++) {
      accK += dS[sBase + i * S] * q[qBase + i * qWidth];
      accV += probs[sBase + i * S] * dOut[qBase + i * qWidth];
    }
  }
  dk[e] = P.scale * accK;
  dv[e] = accV;
}

@compute @workgroup_size(64)
fn per_row(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
           @builtin(local_invocation_index) lid: u32) {
  let index = (wid.y * nwg.x + wid.x) * 64u + lid;
  let T = P.seqLen;
  let pre = P.prefix;
  let S = pre + T;
  let hd = P.headDim;
  let qWidth = P.heads * hd;
  let kvWidth = P.kvHeads * hd;
  let M = P.batch * T;
  let group = P.heads / P.kvHeads;
  let dqRows = M * P.heads;

  if (index < dqRows) {
    let m = index / P.heads;
    let h = index % P.heads;
    let b = m / T;
    let i = m % T;
    let g = h / group;
    let sBase = ((b * P.heads + h) * T + i) * S;
    let kBase = b * S * kvWidth + g * hd;
    var acc: array<f32, MAX_HEAD_DIM>;
    for (var j = 0u; j <= pre + i; j++) {
      let ds = dS[sBase + j];
      let kRow = kBase + j * kvWidth;
      for (var d = 0u; d < hd; d++) { acc[d] += ds * k[kRow + d]; }
    }
    let out = m * qWidth + h * hd;
    for (var d = 0u; d < hd; d++) { dq[out + d] = P.scale * acc[d]; }
    return;
  }

  let e = index - dqRows;
  if (e >= P.batch * S * P.kvHeads) { return; }
  let m = e / P.kvHeads;
  let g = e % P.kvHeads;
  let b = m / S;
  let j = m % S;
  let firstQuery = select(0u, j - pre, j > pre);
  var accK: array<f32, MAX_HEAD_DIM>;
  var accV: array<f32, MAX_HEAD_DIM>;
  for (var h = g * group; h < (g + 1u) * group; h++) {
    let sBase = (b * P.heads + h) * T * S + j; // [b, h, i = 0, j]
    let qBase = b * T * qWidth + h * hd;       // [b·T + i = 0, h, 0]
    for (var i = firstQuery; i < T; i++) {
      let ds = dS[sBase + i * S];
      let p = probs[sBase + i * S];
      let row = qBase + i * qWidth;
      for (var d = 0u; d < hd; d++) {
        accK[d] += ds * q[row + d];
        accV[d] += p * dOut[row + d];
      }
    }
  }
  let out = m * kvWidth + g * hd;
  for (var d = 0u; d < hd; d++) {
    dk[out + d] = P.scale * accK[d];
    dv[out + d] = accV[d];
  }
}
