// Plain matmul, one thread per output, no tiling: C[M,N] = alpha·op(A)[M,K]·op(B)[K,N] (+ C when accumulate).
// op(A) = A[M,K] or, with transA, A[K,M]ᵀ; op(B) = B[K,N] or, with transB, B[N,K]ᵀ.
// It is the baseline the tiled and fused kernels are measured against, and the building block of the
// unfused LoRA path.

struct Params {
  M: u32, N: u32, K: u32, transA: u32,
  transB: u32, accumulate: u32, _pad0: u32, _pad1: u32,
  alpha: f32, _pad2: u32, _pad3: u32, _pad4: u32,
}

@group(0) @binding(0) var<uniform> U: Params;
@group(0) @binding(1) var<storage, read> a: array<f32>;
@group(0) @binding(2) var<storage, read> b: array<f32>;
@group(0) @binding(3) var<storage, read_write> c: array<f32>;

@compute @workgroup_size(8, 8)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let n = gid.x;
  let m = gid.y;
  if (m >= U.M || n >= U.N) { return; }
  var acc = 0.0;
  for (var k = 0u; k < U.K; k++) {
    let av = select(a[m * U.K + k], a[k * U.M + m], U.transA != 0u);
    let bv = select(b[k * U.N + n], b[n * U.K + k], U.transB != 0u);
    acc += av * bv;
  }
  let o = m * U.N + n;
  c[o] = select(0.0, c[o], U.accumulate != 0u) + U.alpha * acc;
}
