// Parameters and bindings of the rank-r products xa and g, shared by lora_down.wgsl and
// lora_down_blocked.wgsl (CPU drivers); lora-rank.ts writes one uniform for both.

struct Params {
  M: u32, C: u32, r: u32, seed: u32,
  dropoutP: f32, _pad0: u32, _pad1: u32, _pad2: u32,
}

@group(0) @binding(0) var<uniform> P: Params;
@group(0) @binding(1) var<storage, read> left: array<f32>;       // [M, C]
@group(0) @binding(2) var<storage, read> right: array<f32>;      // A [r, C], or B [C, r] when TRANSPOSE_R
@group(0) @binding(3) var<storage, read_write> out: array<f32>;  // [M, r]
