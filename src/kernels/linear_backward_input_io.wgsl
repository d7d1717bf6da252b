// The fused LoRA linear backward-to-input's parameters and bindings, shared by linear_backward_input.wgsl
// (tiled) and linear_backward_input_direct.wgsl (CPU drivers); linear.ts writes one uniform for both.

struct Params {
  M: u32, N: u32, K: u32, r: u32,
  wordsPerRow: u32, groupsPerRow: u32, accumulate: u32, seed: u32,
  scale: f32, dropoutP: f32, _pad0: u32, _pad1: u32,
}

@group(0) @binding(0) var<uniform> P: Params;
@group(0) @binding(1) var<storage, read> dy: array<f32>;       // [M, N]
@group(0) @binding(2) var<storage, read> w0: array<u32>;       // packed W0, see weight-format.ts
@group(0) @binding(3) var<storage, read> w0Scales: array<f32>;
@group(0) @binding(4) var<storage, read> g: array<f32>;        // [M, r] = dy·B
@group(0) @binding(5) var<storage, read> loraA: array<f32>;    // [r, K]
@group(0) @binding(6) var<storage, read_write> dx: array<f32>; // [M, K]
