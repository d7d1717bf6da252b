// Parameters and bindings of the LoRA weight gradients dA and dB, shared by lora_weight_grad.wgsl and
// lora_weight_grad_blocked.wgsl (CPU drivers); lora-rank.ts writes one uniform for both.

struct Params {
  M: u32, P: u32, Q: u32, splits: u32,
  chunk: u32, seed: u32, accumulate: u32, _pad0: u32,
  scale: f32, dropoutP: f32, _pad1: u32, _pad2: u32,
}

@group(0) @binding(0) var<uniform> U: Params;
@group(0) @binding(1) var<storage, read> left: array<f32>;       // [M, P]
@group(0) @binding(2) var<storage, read> right: array<f32>;      // [M, Q]
@group(0) @binding(3) var<storage, read_write> dst: array<f32>;  // [P, Q], or partials [splits, P, Q]
