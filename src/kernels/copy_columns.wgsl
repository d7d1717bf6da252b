// Copies a block of columns between row-major matrices:
//   dst[m, dstOffset + j] = (accumulate ? dst[m, dstOffset + j] : 0) + src[m, srcOffset + j],  j < width
// GPT-2's fused c_attn output [M, 3d] is split into q, k and v with it, and their gradients are merged back.

struct Params {
  rows: u32, width: u32, srcStride: u32, srcOffset: u32,
  dstStride: u32, dstOffset: u32, accumulate: u32, _pad0: u32,
}

@group(0) @binding(0) var<uniform> U: Params;
@group(0) @binding(1) var<storage, read> src: array<f32>;
@group(0) @binding(2) var<storage, read_write> dst: array<f32>;

@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
  let i = (wid.y * nwg.x + wid.x) * 64u + lid;
  if (i >= U.rows * U.width) { return; }
  let m = i / U.width;
  let j = i % U.width;
  let o = m * U.dstStride + U.dstOffset + j;
  dst[o] = select(0.0, dst[o], U.accumulate != 0u) + src[m * U.srcStride + U.srcOffset + j];
}
