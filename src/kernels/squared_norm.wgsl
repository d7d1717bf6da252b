// Σ x² of each of several tensors, for global-norm gradient clipping, as a two-pass split reduction with no
// float atomics. Both entry points share one layout: binding 1 is read, binding 2 is written.
//
// `partials` (one dispatch per tensor): workgroup w of G sums the squares of x[w·256 + lid + k·G·256] over k
//   in each thread (grid stride, so reads are contiguous across the workgroup), then tree-reduces the 256
//   thread sums in workgroup memory and writes partials[base + w]. Tensor t uses slots [t·P, t·P + G_t).
// `finish` (one dispatch for all tensors): workgroup t tree-reduces partials[t·P .. t·P + P) into out[t].
//   Slots no workgroup wrote (G_t < P) read 0: the partials buffer is a fresh scratch buffer, and WebGPU
//   zero-initializes every buffer it creates.
// `whole` ('direct' profile, CPU drivers; one dispatch per tensor): a single thread sums the whole tensor into
//   dst[base], the tensor's own output. On a CPU driver the barriers of a 256-thread tree reduction cost more
//   than summing a LoRA gradient in one loop.

const WG: u32 = 256u;

struct Params {
  n: u32,      // partials: elements of this tensor;   finish: number of tensors
  base: u32,   // partials: first slot of this tensor;  finish: unused
  slots: u32,  // P, slots per tensor (≤ WG)
  _pad0: u32,
}

@group(0) @binding(0) var<uniform> U: Params;
@group(0) @binding(1) var<storage, read> src: array<f32>;
@group(0) @binding(2) var<storage, read_write> dst: array<f32>;

var<workgroup> sums: array<f32, WG>;

/** Tree reduction of sums[0..WG) into sums[0]; every invocation of the workgroup must call it. */
fn reduceWorkgroup(lid: u32) {
  for (var stride = WG / 2u; stride > 0u; stride = stride / 2u) {
    workgroupBarrier();
    if (lid < stride) { sums[lid] += sums[lid + stride]; }
  }
  workgroupBarrier();
}

@compute @workgroup_size(256)
fn partials(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
            @builtin(local_invocation_index) lid: u32) {
  let stride = nwg.x * WG;
  var acc = 0.0;
  for (var i = wid.x * WG + lid; i < U.n; i += stride) {
    let x = src[i];
    acc += x * x;
  }
  sums[lid] = acc;
  reduceWorkgroup(lid);
  if (lid == 0u) { dst[U.base + wid.x] = sums[0]; }
}

@compute @workgroup_size(256)
fn finish(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
          @builtin(local_invocation_index) lid: u32) {
  let t = wid.y * nwg.x + wid.x;
  // Uniform per workgroup, so the early return keeps the barriers in uniform control flow.
  if (t >= U.n) { return; }
  var x = 0.0;
  if (lid < U.slots) { x = src[t * U.slots + lid]; }
  sums[lid] = x;
  reduceWorkgroup(lid);
  if (lid == 0u) { dst[t] = sums[0]; }
}

// Compensated (Kahan) summation: one running f32 sum over 10⁵ squares would lose about 1e-5 of the total.
@compute @workgroup_size(1)
fn whole() {
  var acc = 0.0;
  var lost = 0.0;
  for (var i = 0u; i < U.n; i++) {
    let x = src[i];
    let y = x * x - lost;
    let t = acc + y;
    lost = (t - acc) - y;
    acc = t;
  }
  dst[U.base] = acc;
}
