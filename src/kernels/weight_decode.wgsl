// Decoding of the frozen weight W0. Prepended to the kernels that read W0; the bit layout is the contract
// written down in weight-format.ts (packers: quantize.ts). The including kernel declares the packed plane as
// `w0: array<u32>`.

override FORMAT: u32 = 0u; // 0 f32, 1 q8, 2 q4, 3 nf4
override LAYOUT: u32 = 0u; // 0 nn.Linear [out, in]; 1 GPT-2 Conv1D [in, out]

// QLoRA's NormalFloat-4 code book.
const NF4 = array<f32, 16>(
  -1.0, -0.6961928009986877, -0.5250730514526367, -0.39491748809814453,
  -0.28444138169288635, -0.18477343022823334, -0.09105003625154495, 0.0,
  0.07958029955625534, 0.16093020141124725, 0.24611230194568634, 0.33791524171829224,
  0.44070982933044434, 0.5626170039176941, 0.7229568362236023, 1.0);

// The code book as a table of each invocation, filled once, for the direct kernels' decoder (w0Oct). Indexing
// the `const` at run time makes the compiler materialise it at every use; in Chromium's SwiftShader this table
// made the nf4 forward 0.90–0.95× of the f32 speed where the `const` gave 0.85× (bench:peers, T=512 d=768).
var<private> nf4Table: array<f32, 16> = NF4;

fn valuesPerWord() -> u32 {
  if (FORMAT == 1u) { return 4u; }
  if (FORMAT >= 2u) { return 8u; }
  return 1u;
}

fn groupSize() -> u32 {
  if (FORMAT == 3u) { return 64u; }
  if (FORMAT != 0u) { return 32u; }
  return 1u;
}

// Index of the packed word holding W[n, k-column word wcol]. `wordsPerRow` = paddedIn / valuesPerWord.
fn wordIndex(n: u32, wcol: u32, N: u32, wordsPerRow: u32) -> u32 {
  if (LAYOUT == 0u) { return n * wordsPerRow + wcol; }
  return wcol * N + n;
}

// Index of the scale of group g of row n. `groupsPerRow` = paddedIn / groupSize.
fn scaleIndex(n: u32, g: u32, N: u32, groupsPerRow: u32) -> u32 {
  if (LAYOUT == 0u) { return n * groupsPerRow + g; }
  return g * N + n;
}

// Unscaled value in slot s of a quantized word.
fn decodeSlot(word: u32, s: u32) -> f32 {
  if (FORMAT == 1u) { return f32(extractBits(bitcast<i32>(word), s * 8u, 8u)); }
  let nibble = extractBits(word, s * 4u, 4u);
  if (FORMAT == 2u) { return f32(i32(nibble) - 8); }
  return NF4[nibble];
}

// W[n, k] of an f32 weight (FORMAT 0) of logical size [N, K], or 0 outside it.
fn w32At(n: u32, k: u32, N: u32, K: u32) -> f32 {
  if (n >= N || k >= K) { return 0.0; }
  if (LAYOUT == 0u) { return bitcast<f32>(w0[n * K + k]); }
  return bitcast<f32>(w0[k * N + n]);
}

// W[n, k..k+7] as two quads (the matrix's columns), for a row n < N and k a multiple of 8 below the padded row
// length: the direct kernels' decoder. Shifts are constants and integers convert as signed, which CPU drivers
// turn into single vector instructions. For f32, slots past K read a neighbouring element or, at the end of
// the buffer, a clamped one: always a finite weight, so callers zero the other factor there.
fn w0Oct(n: u32, k: u32, N: u32, K: u32, wordsPerRow: u32, groupsPerRow: u32) -> mat2x4<f32> {
  if (FORMAT == 0u) {
    if (LAYOUT == 0u) {
      let o = n * K + k;
      return mat2x4<f32>(
        bitcast<f32>(w0[o]), bitcast<f32>(w0[o + 1u]), bitcast<f32>(w0[o + 2u]), bitcast<f32>(w0[o + 3u]),
        bitcast<f32>(w0[o + 4u]), bitcast<f32>(w0[o + 5u]), bitcast<f32>(w0[o + 6u]), bitcast<f32>(w0[o + 7u]));
    }
    let o = k * N + n;
    return mat2x4<f32>(
      bitcast<f32>(w0[o]), bitcast<f32>(w0[o + N]), bitcast<f32>(w0[o + 2u * N]), bitcast<f32>(w0[o + 3u * N]),
      bitcast<f32>(w0[o + 4u * N]), bitcast<f32>(w0[o + 5u * N]), bitcast<f32>(w0[o + 6u * N]), bitcast<f32>(w0[o + 7u * N]));
  }
  let d = w0Scales[scaleIndex(n, k / groupSize(), N, groupsPerRow)];
  if (FORMAT == 1u) {
    // Two words of four signed bytes, slot 0 in the low bits: each byte shifted to the top, then down.
    let w = k / 4u;
    let lo = vec4<i32>(bitcast<i32>(w0[wordIndex(n, w, N, wordsPerRow)]));
    let hi = vec4<i32>(bitcast<i32>(w0[wordIndex(n, w + 1u, N, wordsPerRow)]));
    let up = vec4<u32>(24u, 16u, 8u, 0u);
    return mat2x4<f32>(d * vec4<f32>((lo << up) >> vec4<u32>(24u)), d * vec4<f32>((hi << up) >> vec4<u32>(24u)));
  }
  // One word of eight nibbles.
  let word = vec4<u32>(w0[wordIndex(n, k / 8u, N, wordsPerRow)]);
  let lo = vec4<i32>((word >> vec4<u32>(0u, 4u, 8u, 12u)) & vec4<u32>(15u));
  let hi = vec4<i32>((word >> vec4<u32>(16u, 20u, 24u, 28u)) & vec4<u32>(15u));
  if (FORMAT == 2u) { return mat2x4<f32>(d * vec4<f32>(lo - vec4<i32>(8)), d * vec4<f32>(hi - vec4<i32>(8))); }
  return mat2x4<f32>(d * vec4<f32>(nf4Table[lo.x], nf4Table[lo.y], nf4Table[lo.z], nf4Table[lo.w]), d * vec4<f32>(nf4Table[hi.x], nf4Table[hi.y], nf4Table[hi.z], nf4Table[hi.w]));
}
