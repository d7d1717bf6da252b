// Backward of one direction of one LSTM layer (lstm_forward.wgsl) in ONE workgroup, through time in reverse:
// for the forward's steps from last to first, with dh = dOut_t + dh_rec and the saved gates i, f, g, o and c,
//   dc = dh·o·(1 − tanh²c_t) + dc_rec,   dc_rec ← dc·f
//   dPre = (dc·g·i(1 − i),  dc·c_{t−1}·f(1 − f),  dc·i·(1 − g²),  dh·tanh(c_t)·o(1 − o))   → dGates row t
//   dh_rec ← W_hhᵀ·dPre
// dGates is the gradient of the pre-activations, hence of xProj = x·W_ihᵀ + b_ih: dW_ih, dW_hh and the input's
// gradient follow from it with matmuls. The biases' gradients Σ_t dPre are summed here, into both dbIh and
// dbHh (added to what they hold when accumulate).
// Thread `lid` owns units u = lid, lid + WG, …: their dc_rec and dh_rec live in workgroup memory (2·CAP floats).
// Every thread needs the whole dPre row for W_hhᵀ·dPre; it goes through dGates itself (written, then read after
// a storage barrier), so the 4h floats of a row need no workgroup memory.
// safeTanh: activation_fns.wgsl.

override CAP: u32;
override WG: u32;

struct Params {
  n: u32, h: u32, reverse: u32, dOutStride: u32,
  dOutOffset: u32, accumulate: u32, _pad0: u32, _pad1: u32,
}

@group(0) @binding(0) var<uniform> U: Params;
@group(0) @binding(1) var<storage, read> dOut: array<f32>;          // [n, dOutStride]
@group(0) @binding(2) var<storage, read> gates: array<f32>;         // [n, 4h]
@group(0) @binding(3) var<storage, read> cell: array<f32>;          // [n, h]
@group(0) @binding(4) var<storage, read> whh: array<f32>;           // [4h, h]
@group(0) @binding(5) var<storage, read_write> dGates: array<f32>;  // [n, 4h]
@group(0) @binding(6) var<storage, read_write> dbIh: array<f32>;    // [4h]
@group(0) @binding(7) var<storage, read_write> dbHh: array<f32>;    // [4h]

var<workgroup> dhRec: array<f32, CAP>;
var<workgroup> dcRec: array<f32, CAP>;

@compute @workgroup_size(WG)
fn main(@builtin(local_invocation_index) lid: u32) {
  let h = U.h;
  let keep = U.accumulate != 0u;
  for (var u = lid; u < h; u += WG) {
    dhRec[u] = 0.0;
    dcRec[u] = 0.0;
    for (var q = 0u; q < 4u; q++) {
      dbIh[q * h + u] = select(0.0, dbIh[q * h + u], keep);
      dbHh[q * h + u] = select(0.0, dbHh[q * h + u], keep);
    }
  }
  for (var s = 0u; s < U.n; s++) {
    let p = U.n - 1u - s; // the forward's step p visited time t; its step p − 1 visited tp
    let t = select(p, U.n - 1u - p, U.reverse != 0u);
    let tp = select(p - 1u, U.n - p, U.reverse != 0u);
    let g0 = t * 4u * h;
    for (var u = lid; u < h; u += WG) {
      let i = gates[g0 + u];
      let f = gates[g0 + h + u];
      let g = gates[g0 + 2u * h + u];
      let o = gates[g0 + 3u * h + u];
      let c = cell[t * h + u];
      var cPrev = 0.0;
      if (p > 0u) { cPrev = cell[tp * h + u]; }
      let tc = safeTanh(c);
      let dh = dOut[t * U.dOutStride + U.dOutOffset + u] + dhRec[u];
      let dc = dh * o * (1.0 - tc * tc) + dcRec[u];
      dcRec[u] = dc * f;
      let d = vec4<f32>(dc * g * i * (1.0 - i), dc * cPrev * f * (1.0 - f), dc * i * (1.0 - g * g), dh * tc * o * (1.0 - o));
      for (var q = 0u; q < 4u; q++) {
        let j = q * h + u;
        dGates[g0 + j] = d[q];
        dbIh[j] += d[q];
        dbHh[j] += d[q];
      }
    }
    storageBarrier();
    for (var k = lid; k < h; k += WG) {
      var a = vec4<f32>(0.0);
      for (var m = 0u; m < h; m++) {
        let w = vec4<f32>(whh[m * h + k], whh[(h + m) * h + k], whh[(2u * h + m) * h + k], whh[(3u * h + m) * h + k]);
        let d = vec4<f32>(dGates[g0 + m], dGates[g0 + h + m], dGates[g0 + 2u * h + m], dGates[g0 + 3u * h + m]);
        a += w * d;
      }
      dhRec[k] = (a.x + a.y) + (a.z + a.w);
    }
  }
}
