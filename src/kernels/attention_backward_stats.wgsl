// Attention backward, step 1 of 2 (after attention_backward_index.wgsl): per query row = ((b·H + h)·T + i),
// the two numbers the recomputation needs, into stats [B·H·T] (a scratch buffer):
//   stats_i = (lse_i, D_i),  D_i = dOut_i · out_i  (= Σ_j P_ij dP_ij, the softmax backward's row term)
// lse comes from the forward; keeping both in one buffer lets attention_backward.wgsl read them through one
// binding (its dk/dv kernel already uses the 8 storage buffers WebGPU guarantees). One thread per row, 64 rows
// per workgroup, on both kernel profiles: the work is hd multiply-adds per row.

@group(0) @binding(1) var<storage, read> dOut: array<f32>;             // [B·T, H·hd]
@group(0) @binding(2) var<storage, read> out: array<f32>;              // [B·T, H·hd], the forward's output
@group(0) @binding(3) var<storage, read> lse: array<f32>;              // [B, H, T]
@group(0) @binding(4) var<storage, read_write> stats: array<vec2<f32>>; // [B, H, T]: (lse, D)

@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
  let row = (wid.y * nwg.x + wid.x) * 64u + lid;
  if (row >= queryRows()) { return; }
  let base = queryOf(row).qBase;
  var D = 0.0;
  for (var d = 0u; d < P.headDim; d++) { D += dOut[base + d] * out[base + d]; }
  stats[row] = vec2<f32>(lse[row], D);
}
