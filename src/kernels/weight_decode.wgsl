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
