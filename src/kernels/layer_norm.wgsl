// LayerNorm over the last dimension (nn.LayerNorm, GPT-2's ln_1/ln_2/ln_f).
//   forward:  mean = Σx/d, var = Σ(x − mean)²/d (biased, as PyTorch), rstd = 1/√(var + eps)
//             y = (x − mean)·rstd·weight + bias;  stats[m] = (mean, rstd) is kept for the backward
//   backward (weight and bias frozen, so dx only), with x̂ = (x − mean)·rstd and g = dy·weight:
//             dx = rstd·(g − Σg/d − x̂·Σ(g·x̂)/d)      (+ dx when accumulate)
// The mean is subtracted before squaring. Two shapes of the same formula: `forward` and `backward` reduce each
// row in one workgroup, in workgroup memory (tree of WG partial sums; the 'tiled' profile, for GPUs);
// `forward_rows` and `backward_rows` give each thread a whole row, looping over its d elements, ROWS rows to a
// workgroup (the 'direct' profile). On CPU drivers a workgroup costs a fixed overhead whatever its work, and each
// barrier of the tree reduction switches between the workgroup's SIMD lanes, so one workgroup per row spends
// most of its time on neither the arithmetic nor the memory.

const WG: u32 = 128u;
const ROWS: u32 = 64u;

struct Params {
  M: u32, d: u32, accumulate: u32, _pad0: u32,
  eps: f32, _pad1: u32, _pad2: u32, _pad3: u32,
}

@group(0) @binding(0) var<uniform> U: Params;
// forward
@group(0) @binding(1) var<storage, read> x: array<f32>;             // [M, d]
@group(0) @binding(2) var<storage, read> weight: array<f32>;        // [d]
@group(0) @binding(3) var<storage, read> bias: array<f32>;          // [d]
@group(0) @binding(4) var<storage, read_write> y: array<f32>;       // [M, d]
@group(0) @binding(5) var<storage, read_write> stats: array<f32>;   // [M, 2]
// backward: x and weight as above
@group(0) @binding(3) var<storage, read> dy: array<f32>;            // [M, d]
@group(0) @binding(4) var<storage, read_write> dx: array<f32>;      // [M, d]
@group(0) @binding(5) var<storage, read> savedStats: array<f32>;    // [M, 2]

var<workgroup> red: array<vec2<f32>, WG>;

// Sum of `v` over the workgroup; every invocation gets the total. Call from uniform control flow.
fn workgroupSum(v: vec2<f32>, lid: u32) -> vec2<f32> {
  red[lid] = v;
  workgroupBarrier();
  for (var s = WG / 2u; s > 0u; s = s >> 1u) {
    if (lid < s) { red[lid] += red[lid + s]; }
    workgroupBarrier();
  }
  let total = red[0];
  workgroupBarrier();
  return total;
}

@compute @workgroup_size(WG)
fn forward(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
           @builtin(local_invocation_index) lid: u32) {
  let row = wid.y * nwg.x + wid.x;
  if (row >= U.M) { return; }
  let base = row * U.d;
  let n = f32(U.d);
  var s = 0.0;
  for (var j = lid; j < U.d; j += WG) { s += x[base + j]; }
  let mean = workgroupSum(vec2<f32>(s, 0.0), lid).x / n;
  var q = 0.0;
  for (var j = lid; j < U.d; j += WG) {
    let c = x[base + j] - mean;
    q += c * c;
  }
  let rstd = 1.0 / sqrt(workgroupSum(vec2<f32>(q, 0.0), lid).x / n + U.eps);
  for (var j = lid; j < U.d; j += WG) {
    y[base + j] = (x[base + j] - mean) * rstd * weight[j] + bias[j];
  }
  if (lid == 0u) {
    stats[2u * row] = mean;
    stats[2u * row + 1u] = rstd;
  }
}

@compute @workgroup_size(WG)
fn backward(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
            @builtin(local_invocation_index) lid: u32) {
  let row = wid.y * nwg.x + wid.x;
  if (row >= U.M) { return; }
  let base = row * U.d;
  let n = f32(U.d);
  let mean = savedStats[2u * row];
  let rstd = savedStats[2u * row + 1u];
  var acc = vec2<f32>(0.0, 0.0); // (Σg, Σg·x̂)
  for (var j = lid; j < U.d; j += WG) {
    let g = dy[base + j] * weight[j];
    acc += vec2<f32>(g, g * (x[base + j] - mean) * rstd);
  }
  let sums = workgroupSum(acc, lid) / n;
  for (var j = lid; j < U.d; j += WG) {
    let g = dy[base + j] * weight[j];
    let xhat = (x[base + j] - mean) * rstd;
    var v = rstd * (g - sums.x - xhat * sums.y);
    if (U.accumulate != 0u) { v += dx[base + j]; }
    dx[base + j] = v;
  }
}

// The row of this invocation in the per-row entry points: workgroups of ROWS rows, the grid folded as in grid1d.
fn rowOf(wid: vec3<u32>, nwg: vec3<u32>, lid: u32) -> u32 {
  return (wid.y * nwg.x + wid.x) * ROWS + lid;
}

@compute @workgroup_size(ROWS)
fn forward_rows(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                @builtin(local_invocation_index) lid: u32) {
  let row = rowOf(wid, nwg, lid);
  if (row >= U.M) { return; }
  let base = row * U.d;
  let n = f32(U.d);
  var s = 0.0;
  for (var j = 0u; j < U.d; j++) { s += x[base + j]; }
  let mean = s / n;
  var q = 0.0;
  for (var j = 0u; j < U.d; j++) {
    let c = x[base + j] - mean;
    q += c * c;
  }
  let rstd = 1.0 / sqrt(q / n + U.eps);
  for (var j = 0u; j < U.d; j++) {
    y[base + j] = (x[base + j] - mean) * rstd * weight[j] + bias[j];
  }
  stats[2u * row] = mean;
  stats[2u * row + 1u] = rstd;
}

@compute @workgroup_size(ROWS)
fn backward_rows(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                 @builtin(local_invocation_index) lid: u32) {
  let row = rowOf(wid, nwg, lid);
  if (row >= U.M) { return; }
  let base = row * U.d;
  let n = f32(U.d);
  let mean = savedStats[2u * row];
  let rstd = savedStats[2u * row + 1u];
  var acc = vec2<f32>(0.0, 0.0); // (Σg, Σg·x̂)
  for (var j = 0u; j < U.d; j++) {
    let g = dy[base + j] * weight[j];
    acc += vec2<f32>(g, g * (x[base + j] - mean) * rstd);
  }
  let sums = acc / n;
  for (var j = 0u; j < U.d; j++) {
    let g = dy[base + j] * weight[j];
    let xhat = (x[base + j] - mean) * rstd;
    var v = rstd * (g - sums.x - xhat * sums.y);
    if (U.accumulate != 0u) { v += dx[base + j]; }
    dx[base + j] = v;
  }
}
