/**
 * The safetensors format (https://github.com/huggingface/safetensors): an 8-byte little-endian header length N,
 * N bytes of UTF-8 JSON, then the tensor data. The JSON maps each tensor name to
 * `{"dtype", "shape", "data_offsets": [begin, end]}` (offsets relative to the start of the data section) and may
 * hold a `"__metadata__"` object of string values.
 *
 * The reader validates the whole header before returning, with the Rust reader's exact byte accounting, and refuses
 * NaN and ±Infinity while converting a tensor to f32; the writer produces exactly what the Rust/Python `safetensors`
 * library writes for the same tensors and metadata.
 */

export class SafetensorsError extends Error {
  override name = 'SafetensorsError';
}

/** Dtypes this module converts to and from f32. */
export const SUPPORTED_DTYPES = ['F32', 'F16', 'BF16'] as const;
export type SafetensorsDtype = (typeof SUPPORTED_DTYPES)[number];

/** Every dtype of the safetensors spec, with its size in bytes (the F4/F6 packed types are not listed). */
const SPEC_DTYPE_BYTES: Record<string, number> = {
  BOOL: 1, U8: 1, I8: 1, F8_E5M2: 1, F8_E4M3: 1, F8_E8M0: 1,
  I16: 2, U16: 2, F16: 2, BF16: 2,
  I32: 4, U32: 4, F32: 4,
  F64: 8, I64: 8, U64: 8,
};

export interface SafetensorsTensorInfo {
  name: string;
  /** As stored; any spec dtype is accepted by the parser, but only SUPPORTED_DTYPES convert to f32. */
  dtype: string;
  shape: number[];
  /** [begin, end) relative to the data section, as in the header. */
  dataOffsets: [number, number];
  /** Absolute byte offset of the tensor's data in the file. */
  byteOffset: number;
  byteLength: number;
}

export interface SafetensorsFile {
  /** Names the file in errors. */
  file: string;
  bytes: Uint8Array;
  headerLength: number;
  /** Absolute offset of the data section (8 + header length). */
  dataStart: number;
  metadata: Record<string, string> | null;
  /** Tensors by name, in header order. */
  tensors: Map<string, SafetensorsTensorInfo>;
}

function fail(msg: string): never {
  throw new SafetensorsError(msg);
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function product(shape: number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

/** The reference reader's limit on the header (safetensors' MAX_HEADER_SIZE). */
const MAX_HEADER_BYTES = 100_000_000;

/**
 * Parses and validates a safetensors file with the reference Rust reader's byte accounting: a u64 LE header
 * length, a header that starts with "{" (JSON whitespace may only pad its end), and a data section covered exactly
 * by the tensors' data_offsets sorted by start: no hole, no overlap, no trailing byte. `file` names it in errors.
 * Tensor data is not copied.
 */
export function parseSafetensors(bytes: Uint8Array, file: string): SafetensorsFile {
  if (bytes.byteLength < 8) {
    fail(`${file}: not a safetensors file: it is ${bytes.byteLength} bytes long, shorter than the 8-byte header length field`);
  }
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const lo = dv.getUint32(0, true);
  const hi = dv.getUint32(4, true);
  const headerLength = hi * 2 ** 32 + lo;
  if (headerLength > bytes.byteLength - 8) {
    fail(
      `${file}: header length ${headerLength} runs past the end of the file (${bytes.byteLength} bytes; at most ${bytes.byteLength - 8} ` +
        `expected); the file is truncated or not a safetensors file`,
    );
  }
  if (headerLength > MAX_HEADER_BYTES) fail(`${file}: header length ${headerLength} is over the ${MAX_HEADER_BYTES}-byte limit of the safetensors reader`);
  if (headerLength < 2) fail(`${file}: header length ${headerLength} is too short for a JSON object`);
  // The Rust reader refuses anything but "{" here (InvalidHeaderStart); padding belongs at the end.
  if (bytes[8] !== 0x7b) {
    fail(`${file}: the header starts with byte 0x${bytes[8].toString(16).padStart(2, '0')}; expected "{" (a JSON object, padded at its end only)`);
  }
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(8, 8 + headerLength));
  } catch {
    fail(`${file}: the ${headerLength}-byte header is not valid UTF-8; expected a JSON object`);
  }
  let header: unknown;
  try {
    header = JSON.parse(text);
  } catch (e) {
    fail(`${file}: the ${headerLength}-byte header is not valid JSON (${(e as Error).message}); expected a JSON object`);
  }
  if (!isPlainObject(header)) fail(`${file}: the header is JSON but not an object; expected {"tensor name": {...}, ...}`);

  const dataStart = 8 + headerLength;
  const dataLength = bytes.byteLength - dataStart;
  let metadata: Record<string, string> | null = null;
  const tensors = new Map<string, SafetensorsTensorInfo>();
  for (const [name, entry] of Object.entries(header)) {
    if (name === '__metadata__') {
      if (!isPlainObject(entry)) fail(`${file}: "__metadata__" must be an object of string values, got ${JSON.stringify(entry)}`);
      metadata = {};
      for (const [k, v] of Object.entries(entry)) {
        if (typeof v !== 'string') fail(`${file}: "__metadata__"."${k}" must be a string, got ${JSON.stringify(v)}`);
        metadata[k] = v;
      }
      continue;
    }
    const where = `${file}: tensor "${name}"`;
    if (!isPlainObject(entry)) fail(`${where}: expected {"dtype", "shape", "data_offsets"}, got ${JSON.stringify(entry)}`);
    const { dtype, shape, data_offsets: offsets } = entry;
    if (typeof dtype !== 'string') fail(`${where}: "dtype" must be a string, got ${JSON.stringify(dtype)}`);
    const elemBytes = SPEC_DTYPE_BYTES[dtype];
    if (elemBytes === undefined) {
      fail(`${where}: unknown dtype "${dtype}"; supported dtypes: ${SUPPORTED_DTYPES.join(', ')}`);
    }
    if (!Array.isArray(shape) || !shape.every((d) => typeof d === 'number' && Number.isSafeInteger(d) && d >= 0)) {
      fail(`${where}: "shape" must be an array of non-negative integers, got ${JSON.stringify(shape)}`);
    }
    if (
      !Array.isArray(offsets) ||
      offsets.length !== 2 ||
      !offsets.every((o) => typeof o === 'number' && Number.isSafeInteger(o) && o >= 0)
    ) {
      fail(`${where}: "data_offsets" must be [begin, end] with non-negative integers, got ${JSON.stringify(offsets)}`);
    }
    const [begin, end] = offsets as [number, number];
    if (end < begin) fail(`${where}: data_offsets [${begin}, ${end}] end before they begin`);
    if (end > dataLength) {
      fail(`${where}: data_offsets [${begin}, ${end}] are out of range: the data section is ${dataLength} bytes`);
    }
    const dims = shape as number[];
    const expectedBytes = byteSize(dims, elemBytes);
    if (end - begin !== expectedBytes) {
      const needs = expectedBytes === null ? 'more than 2^53' : `${expectedBytes}`;
      fail(
        `${where}: data_offsets [${begin}, ${end}] span ${end - begin} bytes, but dtype ${dtype} (${elemBytes} bytes) × shape ` +
          `[${dims.join(', ')}] needs ${needs}`,
      );
    }
    tensors.set(name, {
      name,
      dtype,
      shape: dims.slice(),
      dataOffsets: [begin, end],
      byteOffset: dataStart + begin,
      byteLength: end - begin,
    });
  }
  checkDataCoverage(file, tensors, dataLength);
  return { file, bytes, headerLength, dataStart, metadata, tensors };
}

/** product(shape) × elemBytes, or null when it passes 2^53 and stops being exact (the Rust reader's checked_mul). */
function byteSize(shape: number[], elemBytes: number): number | null {
  if (shape.includes(0)) return 0;
  let n = elemBytes;
  for (const d of shape) {
    n *= d;
    if (n > Number.MAX_SAFE_INTEGER) return null;
  }
  return n;
}

/**
 * As the Rust reader validates: the tensors sorted by (begin, end) must tile [0, dataLength) exactly. A hole or
 * trailing bytes would be data no tensor owns (a shortened header length leaves such bytes), an overlap two
 * tensors sharing bytes.
 */
function checkDataCoverage(file: string, tensors: Map<string, SafetensorsTensorInfo>, dataLength: number): void {
  const sorted = [...tensors.values()].sort((a, b) => a.dataOffsets[0] - b.dataOffsets[0] || a.dataOffsets[1] - b.dataOffsets[1]);
  let covered = 0;
  let prev: SafetensorsTensorInfo | null = null;
  for (const t of sorted) {
    const [begin, end] = t.dataOffsets;
    if (begin < covered) {
      fail(
        `${file}: tensor "${t.name}" (data_offsets [${begin}, ${end}]) overlaps tensor "${prev!.name}" ` +
          `(data_offsets [${prev!.dataOffsets.join(', ')}]); expected disjoint byte ranges`,
      );
    }
    if (begin > covered) {
      fail(
        `${file}: bytes [${covered}, ${begin}) of the data section belong to no tensor (a hole before tensor "${t.name}", ` +
          `data_offsets [${begin}, ${end}]); expected the tensors to cover the data exactly`,
      );
    }
    covered = end;
    prev = t;
  }
  if (covered !== dataLength) {
    fail(
      `${file}: the data section is ${dataLength} bytes, but the tensors cover only [0, ${covered}); ` +
        `${dataLength - covered} trailing byte(s) belong to no tensor (is the header length right?)`,
    );
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Float conversions (bit-exact, little-endian storage)

const f32Scratch = new Float32Array(1);
const u32Scratch = new Uint32Array(f32Scratch.buffer);
const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/** The f32 bit pattern of an f16 bit pattern (exact: subnormals, infinities and NaN payloads kept). */
export function f16BitsToF32Bits(h: number): number {
  const sign = (h & 0x8000) << 16;
  const exp = (h >>> 10) & 0x1f;
  let mant = h & 0x3ff;
  if (exp === 0x1f) return (sign | 0x7f800000 | (mant << 13)) >>> 0;
  if (exp !== 0) return (sign | ((exp + 112) << 23) | (mant << 13)) >>> 0;
  if (mant === 0) return sign >>> 0;
  // Subnormal f16: normalize into an f32 normal.
  let e = 113;
  while ((mant & 0x400) === 0) {
    mant <<= 1;
    e--;
  }
  return (sign | (e << 23) | ((mant & 0x3ff) << 13)) >>> 0;
}

export function f16BitsToF32(h: number): number {
  u32Scratch[0] = f16BitsToF32Bits(h);
  return f32Scratch[0];
}

/** The f16 bit pattern nearest to `x` (first rounded to f32), round-to-nearest-even; overflow gives ±inf. */
export function f32ToF16Bits(x: number): number {
  f32Scratch[0] = x;
  const u = u32Scratch[0];
  const sign = (u >>> 16) & 0x8000;
  const exp = (u >>> 23) & 0xff;
  const mant = u & 0x7fffff;
  if (exp === 0xff) return mant !== 0 ? sign | 0x7e00 | (mant >>> 13) : sign | 0x7c00;
  if (exp > 142) return sign | 0x7c00;
  if (exp >= 113) {
    let r = ((exp - 112) << 10) | (mant >>> 13);
    const rest = mant & 0x1fff;
    if (rest > 0x1000 || (rest === 0x1000 && (r & 1) === 1)) r++; // a carry into the exponent is correct rounding
    return sign | r;
  }
  if (exp < 102) return sign; // below half the smallest subnormal (ties at exactly half go to even, i.e. 0)
  const m = mant | 0x800000;
  const shift = 126 - exp; // 14..24
  let r = m >>> shift;
  const rest = m & ((1 << shift) - 1);
  const half = 1 << (shift - 1);
  if (rest > half || (rest === half && (r & 1) === 1)) r++;
  return sign | r;
}

/** The bf16 bit pattern nearest to `x` (first rounded to f32), round-to-nearest-even; NaN stays NaN. */
export function f32ToBf16Bits(x: number): number {
  f32Scratch[0] = x;
  const u = u32Scratch[0];
  if ((u & 0x7f800000) === 0x7f800000 && (u & 0x7fffff) !== 0) return (u >>> 16) | 0x40;
  return ((u + 0x7fff + ((u >>> 16) & 1)) >>> 16) & 0xffff;
}

export function bf16BitsToF32(b: number): number {
  u32Scratch[0] = (b & 0xffff) << 16;
  return f32Scratch[0];
}

let f16Table: Uint32Array | null = null;
function f16ToF32Table(): Uint32Array {
  if (!f16Table) {
    f16Table = new Uint32Array(65536);
    for (let h = 0; h < 65536; h++) f16Table[h] = f16BitsToF32Bits(h);
  }
  return f16Table;
}

/** Index of the first NaN or ±Infinity in `data`, or -1. */
export function firstNonFiniteIndex(data: Float32Array): number {
  for (let i = 0; i < data.length; i++) if (!Number.isFinite(data[i])) return i;
  return -1;
}

/**
 * "value at index 3 is NaN": the words every refusal of a non-finite value uses (checkpoints, adapters on import and
 * export). A NaN's stored bits are shown when given, so that a signalling NaN or a payload can be told apart.
 */
export function nonFiniteValueText(index: number, value: number, storedBits?: { dtype: string; bits: number }): string {
  const bits = storedBits && Number.isNaN(value) ? ` (${storedBits.dtype} bits 0x${storedBits.bits.toString(16).padStart(storedBits.dtype === 'F32' ? 8 : 4, '0')})` : '';
  return `value at index ${index} is ${value}${bits}`;
}

export interface TensorReadOptions {
  /** Return NaN and ±Infinity as stored instead of refusing them (for tests of the format itself). */
  allowNonFinite?: boolean;
}

/**
 * A tensor's values as a new Float32Array (F32, F16 or BF16, converted exactly). A NaN or ±Infinity is refused with a
 * SafetensorsError naming the file, the tensor, the first bad index and its value: no weight, norm or adapter tensor
 * may hold one, and a check here, on the exponent bits while converting, costs nearly nothing.
 */
export function tensorToFloat32(file: SafetensorsFile, name: string, opts: TensorReadOptions = {}): Float32Array {
  const t = file.tensors.get(name);
  if (!t) fail(`${file.file}: no tensor "${name}"`);
  const n = t.byteLength / (SPEC_DTYPE_BYTES[t.dtype] ?? 1);
  const out = new Float32Array(n);
  const outBits = new Uint32Array(out.buffer);
  const src = file.bytes;
  const base = src.byteOffset + t.byteOffset;
  const dv = new DataView(src.buffer, src.byteOffset, src.byteLength);
  const check = !opts.allowNonFinite;
  // An all-ones exponent is ±Infinity or NaN in every float format.
  const nonFinite = (i: number, bits: number): never =>
    fail(`${file.file}: tensor "${name}": ${nonFiniteValueText(i, out[i], { dtype: t.dtype, bits })}; weights must be finite`);
  switch (t.dtype) {
    case 'F32':
      if (LITTLE_ENDIAN) {
        new Uint8Array(out.buffer).set(src.subarray(t.byteOffset, t.byteOffset + t.byteLength));
      } else {
        for (let i = 0; i < n; i++) out[i] = dv.getFloat32(t.byteOffset + 4 * i, true);
      }
      if (check) for (let i = 0; i < n; i++) if ((outBits[i] & 0x7f800000) === 0x7f800000) nonFinite(i, outBits[i]);
      return out;
    case 'F16': {
      const table = f16ToF32Table();
      const h = LITTLE_ENDIAN && base % 2 === 0 ? new Uint16Array(src.buffer, base, n) : null;
      for (let i = 0; i < n; i++) {
        const v = h ? h[i] : dv.getUint16(t.byteOffset + 2 * i, true);
        outBits[i] = table[v];
        if (check && (v & 0x7c00) === 0x7c00) nonFinite(i, v);
      }
      return out;
    }
    case 'BF16': {
      const h = LITTLE_ENDIAN && base % 2 === 0 ? new Uint16Array(src.buffer, base, n) : null;
      for (let i = 0; i < n; i++) {
        const v = h ? h[i] : dv.getUint16(t.byteOffset + 2 * i, true);
        outBits[i] = v << 16;
        if (check && (v & 0x7f80) === 0x7f80) nonFinite(i, v);
      }
      return out;
    }
    default:
      fail(`${file.file}: tensor "${name}" has dtype ${t.dtype}, which is not supported for reading; supported dtypes: ${SUPPORTED_DTYPES.join(', ')}`);
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Writer

export interface TensorToWrite {
  name: string;
  dtype: SafetensorsDtype;
  shape: number[];
  /** Values in row-major order; converted to `dtype` with round-to-nearest-even. */
  data: Float32Array;
}

const DTYPE_BYTES: Record<SafetensorsDtype, number> = { F32: 4, F16: 2, BF16: 2 };
/** Rank of each dtype in the Rust library's `Dtype` enum order (used to sort by alignment, largest first). */
const DTYPE_RANK: Record<SafetensorsDtype, number> = { F16: 0, BF16: 1, F32: 2 };

function compareUtf8(a: string, b: string): number {
  if (a === b) return 0;
  const enc = new TextEncoder();
  const x = enc.encode(a);
  const y = enc.encode(b);
  const n = Math.min(x.length, y.length);
  for (let i = 0; i < n; i++) if (x[i] !== y[i]) return x[i] - y[i];
  return x.length - y.length;
}

/**
 * Serializes tensors as the `safetensors` library does (`safetensors.torch.save_file` /
 * `serialize`): tensors ordered by dtype alignment (largest first) then by name, data contiguous in that order,
 * compact header JSON with `__metadata__` first (keys sorted), padded with spaces to a multiple of 8 bytes.
 */
export function writeSafetensors(tensors: TensorToWrite[], metadata?: Record<string, string>): Uint8Array<ArrayBuffer> {
  const seen = new Set<string>();
  for (const t of tensors) {
    if (t.name === '__metadata__') fail(`writeSafetensors: "__metadata__" cannot be a tensor name`);
    if (t.name.length === 0) fail(`writeSafetensors: a tensor has an empty name`);
    if (seen.has(t.name)) fail(`writeSafetensors: tensor "${t.name}" is given twice`);
    seen.add(t.name);
    if (!(t.dtype in DTYPE_BYTES)) {
      fail(`writeSafetensors: tensor "${t.name}" has dtype ${String(t.dtype)}; supported dtypes: ${SUPPORTED_DTYPES.join(', ')}`);
    }
    if (!t.shape.every((d) => Number.isSafeInteger(d) && d >= 0)) {
      fail(`writeSafetensors: tensor "${t.name}" has shape [${t.shape.join(', ')}]; expected non-negative integers`);
    }
    if (product(t.shape) !== t.data.length) {
      fail(`writeSafetensors: tensor "${t.name}" has shape [${t.shape.join(', ')}] (${product(t.shape)} values) but ${t.data.length} values`);
    }
  }
  const order = tensors
    .slice()
    .sort((a, b) => DTYPE_RANK[b.dtype] - DTYPE_RANK[a.dtype] || compareUtf8(a.name, b.name));

  const header: Record<string, unknown> = {};
  if (metadata) {
    const meta: Record<string, string> = {};
    for (const k of Object.keys(metadata).sort(compareUtf8)) {
      const v = metadata[k];
      if (typeof v !== 'string') fail(`writeSafetensors: metadata "${k}" must be a string, got ${JSON.stringify(v)}`);
      meta[k] = v;
    }
    header.__metadata__ = meta;
  }
  let offset = 0;
  for (const t of order) {
    const len = t.data.length * DTYPE_BYTES[t.dtype];
    header[t.name] = { dtype: t.dtype, shape: t.shape, data_offsets: [offset, offset + len] };
    offset += len;
  }
  // JSON object keys that look like array indices ("0", "1", ...) would be reordered by JS; build the text by hand.
  const parts: string[] = [];
  if (header.__metadata__) parts.push(`"__metadata__":${JSON.stringify(header.__metadata__)}`);
  for (const t of order) parts.push(`${JSON.stringify(t.name)}:${JSON.stringify(header[t.name])}`);
  const json = new TextEncoder().encode(`{${parts.join(',')}}`);
  const padded = json.length + ((8 - (json.length % 8)) % 8);

  const out = new Uint8Array(8 + padded + offset);
  const dv = new DataView(out.buffer);
  dv.setUint32(0, padded % 2 ** 32, true);
  dv.setUint32(4, Math.floor(padded / 2 ** 32), true);
  out.set(json, 8);
  out.fill(0x20, 8 + json.length, 8 + padded);
  let pos = 8 + padded;
  for (const t of order) {
    const n = t.data.length;
    if (t.dtype === 'F32') {
      if (LITTLE_ENDIAN) out.set(new Uint8Array(t.data.buffer, t.data.byteOffset, n * 4), pos);
      else for (let i = 0; i < n; i++) dv.setFloat32(pos + 4 * i, t.data[i], true);
      pos += 4 * n;
    } else {
      const conv = t.dtype === 'F16' ? f32ToF16Bits : f32ToBf16Bits;
      for (let i = 0; i < n; i++) dv.setUint16(pos + 2 * i, conv(t.data[i]), true);
      pos += 2 * n;
    }
  }
  return out;
}
