// RMSNorm over the last dimension (HF LlamaRMSNorm).
//   forward:  rstd = 1/√(Σx²/d + eps),  y = x·rstd·weight;  rstd[m] is kept for the backward
//   backward (weight frozen, so dx only), with g = dy·weight:
//             dx = rstd·g − x·rstd³·Σ(g·x)/d      (+ dx when accumulate)
// Two shapes of the same formula: `forward` and `backward` reduce each row in one workgroup of WG threads
// (the 'tiled' profile, for GPUs); `forward_rows` and `backward_rows` give each thread a whole row, looping over
// its d elements, ROWS rows to a workgroup (the 'direct' profile). On CPU drivers a workgroup costs a fixed
// overhead whatever its work, and each barrier of the tree reduction switches between the workgroup's SIMD
// lanes, so one workgroup per row spends most of its time on neither the arithmetic nor the memory.

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
@group(0) @binding(3) var<storage, read_write> y: array<f32>;       // [M, d]
@group(0) @binding(4) var<storage, read_write> rstdOut: array<f32>; // [M]
// backward: x and weight as above
@group(0) @binding(3) var<storage, read> dy: array<f32>;            // [M, d]
@group(0) @binding(4) var<storage, read> savedRstd: array<f32>;     // [M]
@group(0) @binding(5) var<storage, read_write> dx: array<f32>;      // [M, d]

var<workgroup> red: array<f32, WG>;

// Sum of `v` over the workgroup; every invocation gets the total. Call from uniform control flow.
fn workgroupSum(v: f32, lid: u32) -> f32 {
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
  var q = 0.0;
  for (var j = lid; j < U.d; j += WG) {
    let v = x[base + j];
    q += v * v;
  }
  let rstd = 1.0 / sqrt(workgroupSum(q, lid) / f32(U.d) + U.eps);
  for (var j = lid; j < U.d; j += WG) {
    y[base + j] = x[base + j] * rstd * weight[j];
  }
  if (lid == 0u) { rstdOut[row] = rstd; }
}

@compute @workgroup_size(WG)
fn backward(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
            @builtin(local_invocation_index) lid: u32) {
  let row = wid.y * nwg.x + wid.x;
  if (row >= U.M) { return; }
  let base = row * U.d;
  let rstd = savedRstd[row];
  var gx = 0.0;
  for (var j = lid; j < U.d; j += WG) { gx += dy[base + j] * weight[j] * x[base + j]; }
  let c = workgroupSum(gx, lid) / f32(U.d) * rstd * rstd * rstd;
  for (var j = lid; j < U.d; j += WG) {
    var v = rstd * dy[base + j] * weight[j] - x[base + j] * c;
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
  var q = 0.0;
  for (var j = 0u; j < U.d; j++) {
    let v = x[base + j];
    q += v * v;
  }
  let rstd = 1.0 / sqrt(q / f32(U.d) + U.eps);
  for (var j = 0u; j < U.d; j++) {
    y[base + j] = x[base + j] * rstd * weight[j];
  }
  rstdOut[row] = rstd;
}

@compute @workgroup_size(ROWS)
fn backward_rows(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                 @builtin(local_invocation_index) lid: u32) {
  let row = rowOf(wid, nwg, lid);
  if (row >= U.M) { return; }
  let base = row * U.d;
  let rstd = savedRstd[row];
  var gx = 0.0;
  for (var j = 0u; j < U.d; j++) { gx += dy[base + j] * weight[j] * x[base + j]; }
  let c = gx / f32(U.d) * rstd * rstd * rstd;
  for (var j = 0u; j < U.d; j++) {
    var v = rstd * dy[base + j] * weight[j] - x[base + j] * c;
    if (U.accumulate != 0u) { v += dx[base + j]; }
    dx[base + j] = v;
  }
}
