/**
 * Safetensors files taken apart and put back together at the byte level, for mutations that the project's own
 * writer refuses to make: holes, overlaps, trailing bytes, a header length that lies, values that are not finite.
 */
import { bf16BitsToF32, f16BitsToF32, f32ToBf16Bits, f32ToF16Bits } from '../src/model-io/safetensors';

export interface RawEntry {
  dtype: string;
  shape: number[];
  data_offsets: [number, number];
}

export interface RawSafetensors {
  header: Record<string, RawEntry | Record<string, string>>;
  data: Uint8Array;
}

/** Splits a well-formed file into its header object and data region. */
export function splitSafetensors(bytes: Uint8Array): RawSafetensors {
  const n = Number(new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getBigUint64(0, true));
  const header = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + n)));
  return { header, data: bytes.slice(8 + n) };
}

/** A file from a header object (as given, offsets untouched) and a data region; the header padded with spaces to 8 bytes. */
export function joinSafetensors(raw: RawSafetensors, opts: { prefix?: string } = {}): Uint8Array {
  let text = (opts.prefix ?? '') + JSON.stringify(raw.header);
  while ((8 + new TextEncoder().encode(text).length) % 8 !== 0) text += ' ';
  const head = new TextEncoder().encode(text);
  const out = new Uint8Array(8 + head.length + raw.data.length);
  new DataView(out.buffer).setBigUint64(0, BigInt(head.length), true);
  out.set(head, 8);
  out.set(raw.data, 8 + head.length);
  return out;
}

/** The tensors' names, sorted by where their data starts. */
export function tensorNames(raw: RawSafetensors): string[] {
  return Object.keys(raw.header)
    .filter((k) => k !== '__metadata__')
    .sort((a, b) => (raw.header[a] as RawEntry).data_offsets[0] - (raw.header[b] as RawEntry).data_offsets[0]);
}

export const DTYPE_BYTES: Record<string, number> = { F32: 4, F16: 2, BF16: 2 };

/** Writes x into element i of a tensor of the data region, in its dtype (NaN/Inf kept as such). */
export function writeElement(raw: RawSafetensors, name: string, i: number, x: number, signalling = false): void {
  const e = raw.header[name] as RawEntry;
  const view = new DataView(raw.data.buffer, raw.data.byteOffset, raw.data.byteLength);
  const at = e.data_offsets[0] + i * DTYPE_BYTES[e.dtype];
  if (e.dtype === 'F32') {
    if (signalling) view.setUint32(at, 0x7fa00000, true);
    else view.setFloat32(at, x, true);
  } else if (e.dtype === 'F16') {
    view.setUint16(at, signalling ? 0x7d00 : f32ToF16Bits(x), true);
  } else {
    view.setUint16(at, signalling ? 0x7fa0 : f32ToBf16Bits(x), true);
  }
}

/** The value of the element that holds data byte `byte` (its tensor, index and value), or null outside every tensor. */
export function elementAtByte(raw: RawSafetensors, byte: number): { name: string; index: number; value: number } | null {
  const view = new DataView(raw.data.buffer, raw.data.byteOffset, raw.data.byteLength);
  for (const name of tensorNames(raw)) {
    const e = raw.header[name] as RawEntry;
    const [b, end] = e.data_offsets;
    if (byte < b || byte >= end) continue;
    const size = DTYPE_BYTES[e.dtype];
    const index = Math.floor((byte - b) / size);
    const at = b + index * size;
    const value = e.dtype === 'F32' ? view.getFloat32(at, true) : e.dtype === 'F16' ? f16BitsToF32(view.getUint16(at, true)) : bf16BitsToF32(view.getUint16(at, true));
    return { name, index, value };
  }
  return null;
}
