// LoRA dropout's keep mask, recomputed from (seed, element index) wherever it is needed.
// Identical to dropout-mask.ts; both must change together.

fn pcgHash(v: u32) -> u32 {
  let state = v * 747796405u + 2891336453u;
  let word = ((state >> ((state >> 28u) + 4u)) ^ state) * 277803737u;
  return (word >> 22u) ^ word;
}

// 0 when element `index` is dropped, 1/(1 - p) when kept; 1 when p == 0.
fn dropoutFactor(seed: u32, index: u32, p: f32) -> f32 {
  if (p <= 0.0) { return 1.0; }
  let u = f32(pcgHash(index ^ pcgHash(seed)) >> 8u) / 16777216.0;
  return select(0.0, 1.0 / (1.0 - p), u >= p);
}
