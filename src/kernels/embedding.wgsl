// Token (and learned position) embedding lookup, one thread per output element:
//   out[m, j] = table[ids[m], j] + (hasPos ? positionTable[positions[m], j] : 0)
// Ids are validated on the host (checkTokenIds); an id ≥ V (or a negative i32 read as u32) is clamped to
// V − 1 here, and a position ≥ P to P − 1, so a bad index never reads outside its table.

struct Params {
  M: u32, d: u32, V: u32, P: u32,
  hasPos: u32, _pad0: u32, _pad1: u32, _pad2: u32,
}

@group(0) @binding(0) var<uniform> U: Params;
@group(0) @binding(1) var<storage, read> table: array<f32>;          // [V, d]
@group(0) @binding(2) var<storage, read> ids: array<u32>;            // [M]
@group(0) @binding(3) var<storage, read> positionTable: array<f32>;  // [P, d], or a placeholder
@group(0) @binding(4) var<storage, read> positions: array<u32>;      // [M], or a placeholder
@group(0) @binding(5) var<storage, read_write> out: array<f32>;      // [M, d]

@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
  let i = (wid.y * nwg.x + wid.x) * 64u + lid;
  if (i >= U.M * U.d) { return; }
  let m = i / U.d;
  let j = i % U.d;
  let id = min(ids[m], U.V - 1u);
  var v = table[id * U.d + j];
  if (U.hasPos != 0u) {
    let p = min(positions[m], U.P - 1u);
    v += positionTable[p * U.d + j];
  }
  out[i] = v;
}
