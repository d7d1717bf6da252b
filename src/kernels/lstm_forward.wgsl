// One direction of one LSTM layer over a whole sequence in ONE workgroup (torch.nn.LSTM, gates i, f, g, o):
//   pre_t = xProj_t + b_hh + W_hh·h_{t−1}      xProj = x·W_ihᵀ + b_ih for all steps, computed before (a matmul)
//   i = σ(pre_i), f = σ(pre_f), g = tanh(pre_g), o = σ(pre_o)
//   c_t = f·c_{t−1} + i·g,   h_t = o·tanh(c_t),   h_{−1} = c_{−1} = 0
// The workgroup loops over the steps (t = 0 … n−1, or n−1 … 0 when reverse). Thread `lid` owns the hidden units
// u = lid, lid + WG, …: it computes their four gates, c and h. h of the previous step is read by every thread,
// so it lives in workgroup memory, double-buffered (read one half, write the other: one barrier per step); c is
// only read by its owner and lives there too. Workgroup memory: 3·CAP floats.
// Saved for the backward: gates after activation, c_t, and h of the step before (hPrev, zero for the first).
// h_t goes to column outOffset + u of row t of `out` (a [n, 2h] bidirectional output takes both directions).
// safeTanh, sigmoid: activation_fns.wgsl.

override CAP: u32;  // capacity of the workgroup arrays, ≥ h
override WG: u32;   // threads, ≤ CAP

struct Params {
  n: u32, h: u32, reverse: u32, outStride: u32,
  outOffset: u32, _pad0: u32, _pad1: u32, _pad2: u32,
}

@group(0) @binding(0) var<uniform> U: Params;
@group(0) @binding(1) var<storage, read> xProj: array<f32>;        // [n, 4h]
@group(0) @binding(2) var<storage, read> whh: array<f32>;          // [4h, h]
@group(0) @binding(3) var<storage, read> bhh: array<f32>;          // [4h]
@group(0) @binding(4) var<storage, read_write> out: array<f32>;    // [n, outStride]
@group(0) @binding(5) var<storage, read_write> gates: array<f32>;  // [n, 4h]
@group(0) @binding(6) var<storage, read_write> cell: array<f32>;   // [n, h]
@group(0) @binding(7) var<storage, read_write> hPrev: array<f32>;  // [n, h]

var<workgroup> hBuf: array<f32, 2 * CAP>;
var<workgroup> cBuf: array<f32, CAP>;

@compute @workgroup_size(WG)
fn main(@builtin(local_invocation_index) lid: u32) {
  let h = U.h;
  for (var u = lid; u < h; u += WG) {
    hBuf[u] = 0.0;
    cBuf[u] = 0.0;
  }
  workgroupBarrier();
  for (var s = 0u; s < U.n; s++) {
    let t = select(s, U.n - 1u - s, U.reverse != 0u);
    let cur = (s & 1u) * CAP; // h_{t−1} is in hBuf[cur ..], h_t goes to the other half
    let nxt = CAP - cur;
    let g0 = t * 4u * h;
    for (var u = lid; u < h; u += WG) {
      var a = vec4<f32>(xProj[g0 + u] + bhh[u], xProj[g0 + h + u] + bhh[h + u],
                        xProj[g0 + 2u * h + u] + bhh[2u * h + u], xProj[g0 + 3u * h + u] + bhh[3u * h + u]);
      let rI = u * h;
      let rF = (h + u) * h;
      let rG = (2u * h + u) * h;
      let rO = (3u * h + u) * h;
      for (var k = 0u; k < h; k++) {
        a += vec4<f32>(whh[rI + k], whh[rF + k], whh[rG + k], whh[rO + k]) * hBuf[cur + k];
      }
      let i = sigmoid(a.x);
      let f = sigmoid(a.y);
      let g = safeTanh(a.z);
      let o = sigmoid(a.w);
      let c = f * cBuf[u] + i * g;
      let hv = o * safeTanh(c);
      cBuf[u] = c;
      hBuf[nxt + u] = hv;
      hPrev[t * h + u] = hBuf[cur + u];
      gates[g0 + u] = i;
      gates[g0 + h + u] = f;
      gates[g0 + 2u * h + u] = g;
      gates[g0 + 3u * h + u] = o;
      cell[t * h + u] = c;
      out[t * U.outStride + U.outOffset + u] = hv;
    }
    workgroupBarrier();
  }
}
