// Softmax cross-entropy of the LM head, fused with its gradient, per row (token) m:
//   rowLoss[m]   = log Σ_j exp(logits[m, j]) − logits[m, t],   t = targets[m]
//   dLogits[m,j] = (softmax(logits[m])_j − [j = t])·invCount
// An ignored row (t = −100, or any t outside [0, V), which the host check refuses) gets rowLoss 0 and a
// zero gradient row. In place (inPlace = 1, when the wrapper is given dLogits = logits) the gradient is
// written over the logits. Two shapes of the same formula:
// - `main` (the 'tiled' profile, for GPUs), one workgroup per row. Numerically stable: each thread keeps an
//   online (max, Σ exp(x − max)) pair over its strided share of the row, and the pairs are combined in a
//   workgroup tree reduction. In place is safe: every logit is read in the first pass, before the reduction's
//   barriers; the target logit is saved to workgroup memory there; and in the second pass each thread rewrites
//   only the elements it reads.
// - `main_rows` (the 'direct' profile, for CPU drivers), one thread per row, ROWS rows to a workgroup, with no
//   workgroup memory and no barriers: there a workgroup costs a fixed overhead whatever its work, and each
//   barrier switches between the workgroup's SIMD lanes. The thread takes the row's max, then Σ exp(x − max) in
//   blocks of SUM_BLOCK terms (so that the rounding error of the f32 sum grows with SUM_BLOCK + V / SUM_BLOCK
//   rather than with V), then writes the gradient. In place is safe because the thread is the only one that
//   touches its row, and it reads the target logit before the gradient pass.

const WG: u32 = 256u;
const ROWS: u32 = 64u;
const SUM_BLOCK: u32 = 64u;
const LOWEST: f32 = -3.402823e38;

struct Params {
  M: u32, V: u32, inPlace: u32, _pad0: u32,
  invCount: f32, _pad1: u32, _pad2: u32, _pad3: u32,
}

@group(0) @binding(0) var<uniform> U: Params;
@group(0) @binding(1) var<storage, read_write> logits: array<f32>;   // [M, V]; dLogits when in place
@group(0) @binding(2) var<storage, read> targets: array<i32>;        // [M]
@group(0) @binding(3) var<storage, read_write> rowLoss: array<f32>;  // [M]
@group(0) @binding(4) var<storage, read_write> dLogits: array<f32>;  // [M, V], or a placeholder in place

var<workgroup> redMax: array<f32, WG>;
var<workgroup> redSum: array<f32, WG>;
var<workgroup> rowTarget: i32;
var<workgroup> targetLogit: f32;

fn writeGrad(i: u32, v: f32) {
  if (U.inPlace != 0u) { logits[i] = v; } else { dLogits[i] = v; }
}

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
  let row = wid.y * nwg.x + wid.x;
  if (row >= U.M) { return; }
  let base = row * U.V;
  if (lid == 0u) { rowTarget = targets[row]; }
  let t = workgroupUniformLoad(&rowTarget);
  if (t < 0 || t >= i32(U.V)) {
    for (var j = lid; j < U.V; j += WG) { writeGrad(base + j, 0.0); }
    if (lid == 0u) { rowLoss[row] = 0.0; }
    return;
  }
  let tu = u32(t);

  // Pass 1: online max and sum of exponentials; the target's logit is kept before anything is overwritten.
  var mx = LOWEST;
  var sum = 0.0;
  for (var j = lid; j < U.V; j += WG) {
    let v = logits[base + j];
    if (j == tu) { targetLogit = v; }
    if (v > mx) {
      sum = sum * exp(mx - v) + 1.0;
      mx = v;
    } else {
      sum += exp(v - mx);
    }
  }
  redMax[lid] = mx;
  redSum[lid] = sum;
  workgroupBarrier();
  for (var s = WG / 2u; s > 0u; s = s >> 1u) {
    if (lid < s) {
      let m1 = redMax[lid];
      let m2 = redMax[lid + s];
      let m = max(m1, m2);
      redSum[lid] = redSum[lid] * exp(m1 - m) + redSum[lid + s] * exp(m2 - m);
      redMax[lid] = m;
    }
    workgroupBarrier();
  }
  let rowMax = redMax[0];
  let rowSum = redSum[0];
  let xt = targetLogit;

  // Pass 2: the gradient.
  let scale = U.invCount / rowSum;
  for (var j = lid; j < U.V; j += WG) {
    let p = exp(logits[base + j] - rowMax) * scale;
    writeGrad(base + j, select(p, p - U.invCount, j == tu));
  }
  if (lid == 0u) { rowLoss[row] = (rowMax - xt) + log(rowSum); }
}

@compute @workgroup_size(ROWS)
fn main_rows(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
             @builtin(local_invocation_index) lid: u32) {
  let row = (wid.y * nwg.x + wid.x) * ROWS + lid;
  if (row >= U.M) { return; }
  let base = row * U.V;
  let t = targets[row];
  if (t < 0 || t >= i32(U.V)) {
    for (var j = 0u; j < U.V; j++) { writeGrad(base + j, 0.0); }
    rowLoss[row] = 0.0;
    return;
  }
  let tu = u32(t);
  let xt = logits[base + tu];

  var rowMax = LOWEST;
  for (var j = 0u; j < U.V; j++) { rowMax = max(rowMax, logits[base + j]); }
  var rowSum = 0.0;
  for (var j0 = 0u; j0 < U.V; j0 += SUM_BLOCK) {
    let end = min(j0 + SUM_BLOCK, U.V);
    var block = 0.0;
    for (var j = j0; j < end; j++) { block += exp(logits[base + j] - rowMax); }
    rowSum += block;
  }

  let scale = U.invCount / rowSum;
  for (var j = 0u; j < U.V; j++) {
    let p = exp(logits[base + j] - rowMax) * scale;
    writeGrad(base + j, select(p, p - U.invCount, j == tu));
  }
  rowLoss[row] = (rowMax - xt) + log(rowSum);
}
