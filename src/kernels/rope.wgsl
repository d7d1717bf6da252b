// Rotary position embedding, HF rotate-half convention (LlamaRotaryEmbedding + apply_rotary_pos_emb), in place.
// x is [M, heads·hd] (q or k after projection, head h in columns h·hd … h·hd + hd − 1). One thread per
// rotated pair (m, h, i), i < hd/2:
//   (x1, x2) = (x[i], x[i + hd/2])  →  (x1·cos − x2·sin, x2·cos + x1·sin),  angle = pos·theta^(−2i/hd)
// cos/sin come from table[pos, i] (ropeTable in rope.ts). inverse = 1 rotates by −angle: that is the
// backward (the rotation is orthogonal, so dx = Rᵀ·dy). A position ≥ maxPos is clamped to maxPos − 1.

struct Params {
  M: u32, heads: u32, half: u32, maxPos: u32,
  inverse: u32, _pad0: u32, _pad1: u32, _pad2: u32,
}

@group(0) @binding(0) var<uniform> U: Params;
@group(0) @binding(1) var<storage, read_write> x: array<f32>;     // [M, heads·hd]
@group(0) @binding(2) var<storage, read> positions: array<u32>;   // [M]
@group(0) @binding(3) var<storage, read> table: array<f32>;       // [maxPos, hd/2, 2]: cos, sin

@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
  let index = (wid.y * nwg.x + wid.x) * 64u + lid;
  let pairsPerRow = U.heads * U.half;
  if (index >= U.M * pairsPerRow) { return; }
  let m = index / pairsPerRow;
  let rest = index % pairsPerRow;
  let h = rest / U.half;
  let i = rest % U.half;
  let pos = min(positions[m], U.maxPos - 1u);
  let c = table[(pos * U.half + i) * 2u];
  var s = table[(pos * U.half + i) * 2u + 1u];
  if (U.inverse != 0u) { s = -s; }
  let base = m * pairsPerRow * 2u + h * U.half * 2u + i;
  let x1 = x[base];
  let x2 = x[base + U.half];
  x[base] = x1 * c - x2 * s;
  x[base + U.half] = x2 * c + x1 * s;
}
