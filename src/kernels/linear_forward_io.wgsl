// The fused LoRA linear forward's parameters and bindings, shared by linear_forward.wgsl (tiled) and
// linear_forward_direct.wgsl (CPU drivers); linear.ts writes one uniform for both.

struct Params {
  M: u32, N: u32, K: u32, r: u32,
  wordsPerRow: u32, groupsPerRow: u32, hasBias: u32, accumulate: u32,
  scale: f32, _pad0: u32, _pad1: u32, _pad2: u32,
}

@group(0) @binding(0) var<uniform> P: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;        // [M, K]
@group(0) @binding(2) var<storage, read> w0: array<u32>;       // packed W0, see weight-format.ts
@group(0) @binding(3) var<storage, read> w0Scales: array<f32>; // one per group (unused for f32)
@group(0) @binding(4) var<storage, read> bias: array<f32>;     // [N] when hasBias
@group(0) @binding(5) var<storage, read> xa: array<f32>;       // [M, r] = dropout(x)·Aᵀ
@group(0) @binding(6) var<storage, read> loraB: array<f32>;    // [N, r]
@group(0) @binding(7) var<storage, read_write> y: array<f32>;  // [M, N]
