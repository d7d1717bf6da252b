// DoRA's weight norm (PEFT tuners/lora/dora.py, DoraLinearLayer.get_weight_norm), one workgroup per output feature n:
//   norm[n] = ‖W0[n, :] + scale·B[n, :]·A‖  over the input dimension k < K (W0 decoded from its packed format, any
//             layout: W[n, k] is the logical nn.Linear element, so GPT-2's Conv1D weights count as transposed)
//   g[n]    = m[n] / norm[n]
// The rank-r product B[n, :]·A[:, k] is computed on the fly; B·A is never formed. Prepended: weight_decode.wgsl.

const WG: u32 = 64u;

struct Params {
  N: u32, K: u32, r: u32, wordsPerRow: u32,
  groupsPerRow: u32, scale: f32, _pad0: u32, _pad1: u32,
}

@group(0) @binding(0) var<uniform> U: Params;
@group(0) @binding(1) var<storage, read> w0: array<u32>;
@group(0) @binding(2) var<storage, read> w0Scales: array<f32>;
@group(0) @binding(3) var<storage, read> loraA: array<f32>; // [r, K]
@group(0) @binding(4) var<storage, read> loraB: array<f32>; // [N, r]
@group(0) @binding(5) var<storage, read> magnitude: array<f32>; // [N]
@group(0) @binding(6) var<storage, read_write> normOut: array<f32>; // [N]
@group(0) @binding(7) var<storage, read_write> gOut: array<f32>; // [N]

var<workgroup> sums: array<f32, WG>;

// W[n, k] of the logical [N, K] weight, k < K.
fn w0At(n: u32, k: u32) -> f32 {
  if (FORMAT == 0u) { return w32At(n, k, U.N, U.K); }
  let vpw = valuesPerWord();
  let word = w0[wordIndex(n, k / vpw, U.N, U.wordsPerRow)];
  let d = w0Scales[scaleIndex(n, k / groupSize(), U.N, U.groupsPerRow)];
  return decodeSlot(word, k % vpw) * d;
}

@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
  let n = wid.y * nwg.x + wid.x;
  // Uniform per workgroup, so the early return keeps the barriers in uniform control flow.
  if (n >= U.N) { return; }
  var acc = 0.0;
  for (var k = lid; k < U.K; k += WG) {
    var v = w0At(n, k);
    for (var j = 0u; j < U.r; j++) { v += U.scale * loraB[n * U.r + j] * loraA[j * U.K + k]; }
    acc += v * v;
  }
  sums[lid] = acc;
  for (var stride = WG / 2u; stride > 0u; stride = stride / 2u) {
    workgroupBarrier();
    if (lid < stride) { sums[lid] += sums[lid + stride]; }
  }
  workgroupBarrier();
  if (lid == 0u) {
    let norm = sqrt(sums[0]);
    normOut[n] = norm;
    gOut[n] = magnitude[n] / norm;
  }
}
