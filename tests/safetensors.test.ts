import { describe, expect, it } from 'vitest';
import {
  bf16BitsToF32,
  f16BitsToF32,
  f32ToBf16Bits,
  f32ToF16Bits,
  parseSafetensors,
  SafetensorsError,
  tensorToFloat32,
  writeSafetensors,
} from '../src/model-io/safetensors';

const enc = new TextEncoder();

/** The f32 value with these bits. */
function f32(bits: number): number {
  return new Float32Array(new Uint32Array([bits >>> 0]).buffer)[0];
}
function bitsOf(x: number): number {
  return new Uint32Array(new Float32Array([x]).buffer)[0];
}

/** A safetensors file from a header object (or raw header text) and data bytes, built by hand. */
function rawFile(header: unknown, data: Uint8Array = new Uint8Array(0), declaredLength?: number): Uint8Array {
  const json = typeof header === 'string' ? enc.encode(header) : enc.encode(JSON.stringify(header));
  const out = new Uint8Array(8 + json.length + data.length);
  const dv = new DataView(out.buffer);
  dv.setUint32(0, declaredLength ?? json.length, true);
  out.set(json, 8);
  out.set(data, 8 + json.length);
  return out;
}

function expectError(fn: () => unknown, ...parts: string[]): void {
  let err: unknown;
  try {
    fn();
  } catch (e) {
    err = e;
  }
  expect(err, 'expected an error').toBeInstanceOf(SafetensorsError);
  for (const p of parts) expect((err as Error).message).toContain(p);
}

describe('f16 and bf16 conversions', () => {
  const f16Cases: [number, number, string][] = [
    [1.0, 0x3c00, 'one'],
    [-2.5, 0xc100, 'negative'],
    [65504, 0x7bff, 'largest finite'],
    [65519, 0x7bff, 'just below the tie to infinity'],
    [65520, 0x7c00, 'tie between 65504 and 65536 goes to even: infinity'],
    [2 ** -24, 0x0001, 'smallest subnormal'],
    [1023 * 2 ** -24, 0x03ff, 'largest subnormal'],
    [2 ** -14, 0x0400, 'smallest normal'],
    [2 ** -25, 0x0000, 'half the smallest subnormal: tie to even (zero)'],
    [1.5 * 2 ** -25, 0x0001, 'above the tie rounds up'],
    [3 * 2 ** -25, 0x0002, 'subnormal tie 1.5 ulp goes to even (2)'],
    [5 * 2 ** -25, 0x0002, 'subnormal tie 2.5 ulp goes to even (2)'],
    [1 + 2 ** -11, 0x3c00, 'normal tie goes to even (down)'],
    [1 + 3 * 2 ** -11, 0x3c02, 'normal tie goes to even (up)'],
    [1 + 2 ** -11 + 2 ** -20, 0x3c01, 'just above a tie rounds up'],
    [-0, 0x8000, 'negative zero'],
    [1e-10, 0x0000, 'underflow'],
    [Infinity, 0x7c00, '+inf'],
    [-Infinity, 0xfc00, '-inf'],
    [1e6, 0x7c00, 'overflow'],
  ];
  it.each(f16Cases)('f32 %d -> f16 0x%s (%s)', (x, bits) => {
    expect(f32ToF16Bits(x).toString(16)).toBe(bits.toString(16));
  });

  it('f16 -> f32 decodes subnormals, infinities and NaN exactly', () => {
    expect(f16BitsToF32(0x0001)).toBe(2 ** -24);
    expect(f16BitsToF32(0x03ff)).toBe(1023 * 2 ** -24);
    expect(f16BitsToF32(0x8001)).toBe(-(2 ** -24));
    expect(f16BitsToF32(0x7bff)).toBe(65504);
    expect(f16BitsToF32(0x3555)).toBe(0.333251953125);
    expect(f16BitsToF32(0x7c00)).toBe(Infinity);
    expect(f16BitsToF32(0xfc00)).toBe(-Infinity);
    expect(Number.isNaN(f16BitsToF32(0x7e00))).toBe(true);
    expect(Number.isNaN(f16BitsToF32(0x7c01))).toBe(true);
    expect(Object.is(f16BitsToF32(0x8000), -0)).toBe(true);
    expect(Number.isNaN(f16BitsToF32(f32ToF16Bits(NaN)))).toBe(true);
  });

  it('every finite f16 survives f16 -> f32 -> f16', () => {
    for (let h = 0; h < 0x10000; h++) {
      if ((h & 0x7c00) === 0x7c00 && (h & 0x3ff) !== 0) continue; // NaNs
      if (f32ToF16Bits(f16BitsToF32(h)) !== h) throw new Error(`0x${h.toString(16)} does not round-trip`);
    }
  });

  const bf16Cases: [number, number, string][] = [
    [1.0, 0x3f80, 'one'],
    [-2.5, 0xc020, 'negative'],
    [65504, 0x4780, '65504 rounds up to 65536'],
    [f32(0x3f808000), 0x3f80, 'tie goes to even (down)'],
    [f32(0x3f818000), 0x3f82, 'tie goes to even (up)'],
    [f32(0x3f808001), 0x3f81, 'above a tie rounds up'],
    [f32(0x00000001), 0x0000, 'smallest f32 subnormal underflows'],
    [f32(0x00018000), 0x0002, 'subnormal tie goes to even'],
    [f32(0x7f7fffff), 0x7f80, 'largest f32 overflows to inf'],
    [-Infinity, 0xff80, '-inf'],
    [NaN, 0x7fc0, 'NaN stays NaN'],
  ];
  it.each(bf16Cases)('f32 %d -> bf16 0x%s (%s)', (x, bits) => {
    expect(f32ToBf16Bits(x).toString(16)).toBe(bits.toString(16));
  });

  it('bf16 -> f32 is a shift', () => {
    expect(bf16BitsToF32(0x3f80)).toBe(1);
    expect(bf16BitsToF32(0x0001)).toBe(f32(0x00010000));
    expect(bf16BitsToF32(0xff80)).toBe(-Infinity);
    expect(Number.isNaN(bf16BitsToF32(0x7fc1))).toBe(true);
  });
});

describe('writeSafetensors / parseSafetensors', () => {
  it('writes the exact bytes of the reference library for a known case', () => {
    // safetensors' own serialization test: one F32 tensor "attn.0" of shape [1, 2, 3] holding 0..5.
    const out = writeSafetensors([{ name: 'attn.0', dtype: 'F32', shape: [1, 2, 3], data: Float32Array.from([0, 1, 2, 3, 4, 5]) }]);
    const header = '{"attn.0":{"dtype":"F32","shape":[1,2,3],"data_offsets":[0,24]}}';
    expect(header.length).toBe(64);
    const expected = new Uint8Array(8 + 64 + 24);
    expected[0] = 64;
    expected.set(enc.encode(header), 8);
    expected.set(new Uint8Array(Float32Array.from([0, 1, 2, 3, 4, 5]).buffer), 72);
    expect([...out]).toEqual([...expected]);
  });

  it('pads the header with spaces to 8 bytes, puts __metadata__ first and orders tensors by dtype then name', () => {
    const out = writeSafetensors(
      [
        { name: 'b', dtype: 'F16', shape: [2], data: Float32Array.from([1, -2.5]) },
        { name: 'z', dtype: 'F32', shape: [1], data: Float32Array.from([3]) },
        { name: 'a', dtype: 'F16', shape: [1], data: Float32Array.from([65504]) },
        { name: 'c', dtype: 'BF16', shape: [1, 1], data: Float32Array.from([1]) },
      ],
      { version: '1', format: 'pt' },
    );
    const n = new DataView(out.buffer).getUint32(0, true);
    expect(new DataView(out.buffer).getUint32(4, true)).toBe(0);
    expect(n % 8).toBe(0);
    const text = new TextDecoder().decode(out.subarray(8, 8 + n));
    const json =
      '{"__metadata__":{"format":"pt","version":"1"},' +
      '"z":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},' +
      '"c":{"dtype":"BF16","shape":[1,1],"data_offsets":[4,6]},' +
      '"a":{"dtype":"F16","shape":[1],"data_offsets":[6,8]},' +
      '"b":{"dtype":"F16","shape":[2],"data_offsets":[8,12]}}';
    expect(text).toBe(json + ' '.repeat(n - json.length));
    expect(n - json.length).toBeLessThan(8);
    const data = out.subarray(8 + n);
    expect([...data]).toEqual([0x00, 0x00, 0x40, 0x40, 0x80, 0x3f, 0xff, 0x7b, 0x00, 0x3c, 0x00, 0xc1]);
  });

  it.each(['F32', 'F16', 'BF16'] as const)('round-trips %s with exact bits', (dtype) => {
    const values = Float32Array.from([1, -2.5, 65504, 2 ** -24, 3 * 2 ** -25, 1 + 2 ** -11, 1e-30, -0, Infinity, -Infinity, NaN, 0.1]);
    const conv = (x: number) => (dtype === 'F32' ? x : dtype === 'F16' ? f16BitsToF32(f32ToF16Bits(x)) : bf16BitsToF32(f32ToBf16Bits(x)));
    const bytes = writeSafetensors([{ name: 'w', dtype, shape: [3, 4], data: values }], { format: 'pt' });
    const file = parseSafetensors(bytes, 'test.safetensors');
    expect(file.metadata).toEqual({ format: 'pt' });
    const info = file.tensors.get('w')!;
    expect(info.dtype).toBe(dtype);
    expect(info.shape).toEqual([3, 4]);
    const back = tensorToFloat32(file, 'w', { allowNonFinite: true });
    for (let i = 0; i < values.length; i++) {
      const want = conv(values[i]);
      if (Number.isNaN(want)) expect(Number.isNaN(back[i])).toBe(true);
      else expect(bitsOf(back[i]).toString(16), `value ${values[i]}`).toBe(bitsOf(want).toString(16));
    }
    if (dtype === 'F16') expect([...back.slice(0, 6)]).toEqual([1, -2.5, 65504, 2 ** -24, 2 ** -23, 1]);
    if (dtype === 'BF16') expect([...back.slice(0, 3)]).toEqual([1, -2.5, 65536]);
  });

  it('reads tensors at odd offsets and zero-sized tensors', () => {
    // An F16 tensor at an odd absolute offset (header length 7 is not a multiple of 8 for hand-made files), after a U8 byte.
    const header = {
      e: { dtype: 'F32', shape: [0], data_offsets: [0, 0] },
      b: { dtype: 'U8', shape: [1], data_offsets: [0, 1] },
      h: { dtype: 'F16', shape: [2], data_offsets: [1, 5] },
    };
    const data = new Uint8Array([0xaa, 0x00, 0x3c, 0x01, 0x00]);
    const json = JSON.stringify(header);
    const bytes = rawFile(json + (json.length % 2 === 1 ? ' ' : ''), data); // even header: 'h' starts at an odd offset
    const file = parseSafetensors(bytes, 'odd.safetensors');
    expect([...tensorToFloat32(file, 'h')]).toEqual([1, 2 ** -24]);
    expect(tensorToFloat32(file, 'e').length).toBe(0);
  });

  it('refuses bad tensors in the writer', () => {
    expect(() => writeSafetensors([{ name: 'a', dtype: 'F32', shape: [2, 2], data: new Float32Array(3) }])).toThrow(/"a".*\[2, 2\].*3 values/);
    expect(() =>
      writeSafetensors([
        { name: 'a', dtype: 'F32', shape: [1], data: new Float32Array(1) },
        { name: 'a', dtype: 'F32', shape: [1], data: new Float32Array(1) },
      ]),
    ).toThrow(/"a" is given twice/);
  });
});

describe('parseSafetensors rejects malformed files with messages that name the file and tensor', () => {
  const f32Bytes = (n: number) => new Uint8Array(4 * n);

  it('a file shorter than the length field', () => {
    expectError(() => parseSafetensors(new Uint8Array(5), 'short.safetensors'), 'short.safetensors', '5 bytes', '8-byte header length');
  });

  it('a header length past the end of the file', () => {
    const bytes = rawFile({ a: { dtype: 'F32', shape: [1], data_offsets: [0, 4] } }, f32Bytes(1), 1000);
    expectError(() => parseSafetensors(bytes, 'big.safetensors'), 'big.safetensors', 'header length 1000 runs past the end', `${bytes.length} bytes`);
    const huge = rawFile('{}');
    new DataView(huge.buffer).setUint32(4, 1, true); // 2^32 + 2
    expectError(() => parseSafetensors(huge, 'huge.safetensors'), 'header length 4294967298');
  });

  it('a header that is not JSON', () => {
    expectError(() => parseSafetensors(rawFile('{"a": nope}'), 'bad.safetensors'), 'bad.safetensors', 'not valid JSON');
    expectError(() => parseSafetensors(rawFile('[1, 2]'), 'arr.safetensors'), 'arr.safetensors', 'starts with byte 0x5b; expected "{"');
  });

  it('offsets past the end of the data', () => {
    const bytes = rawFile({ w: { dtype: 'F32', shape: [4], data_offsets: [0, 16] } }, f32Bytes(2));
    expectError(() => parseSafetensors(bytes, 'm.safetensors'), 'm.safetensors', 'tensor "w"', '[0, 16]', 'out of range', '8 bytes');
  });

  it('overlapping tensors', () => {
    const bytes = rawFile(
      { a: { dtype: 'F32', shape: [2], data_offsets: [0, 8] }, b: { dtype: 'F32', shape: [2], data_offsets: [4, 12] } },
      f32Bytes(3),
    );
    expectError(() => parseSafetensors(bytes, 'm.safetensors'), 'm.safetensors', 'tensor "b"', 'overlaps tensor "a"');
  });

  it('offsets that do not match dtype size × shape', () => {
    const bytes = rawFile({ w: { dtype: 'F16', shape: [3, 2], data_offsets: [0, 8] } }, f32Bytes(2));
    expectError(() => parseSafetensors(bytes, 'm.safetensors'), 'tensor "w"', 'span 8 bytes', 'F16 (2 bytes) × shape [3, 2] needs 12');
  });

  it('malformed entries', () => {
    expectError(() => parseSafetensors(rawFile({ w: { dtype: 'F32', shape: [-1], data_offsets: [0, 0] } }), 'm.safetensors'), 'tensor "w"', '"shape"');
    expectError(() => parseSafetensors(rawFile({ w: { dtype: 'F32', shape: [1], data_offsets: [4] } }), 'm.safetensors'), 'tensor "w"', '"data_offsets"');
    expectError(() => parseSafetensors(rawFile({ w: { dtype: 'F32', shape: [1], data_offsets: [4, 0] } }), 'm.safetensors'), 'end before they begin');
    expectError(() => parseSafetensors(rawFile({ __metadata__: { n: 1 } }), 'm.safetensors'), '"__metadata__"."n" must be a string');
  });

  it('an unknown dtype', () => {
    const bytes = rawFile({ w: { dtype: 'F33', shape: [1], data_offsets: [0, 4] } }, f32Bytes(1));
    expectError(() => parseSafetensors(bytes, 'm.safetensors'), 'm.safetensors', 'tensor "w"', 'unknown dtype "F33"', 'F32, F16, BF16');
  });

  it('a spec dtype that cannot be converted parses, and conversion names it', () => {
    const bytes = rawFile({ ids: { dtype: 'I64', shape: [2], data_offsets: [0, 16] } }, f32Bytes(4));
    const file = parseSafetensors(bytes, 'm.safetensors');
    expect(file.tensors.get('ids')!.dtype).toBe('I64');
    expectError(() => tensorToFloat32(file, 'ids'), 'm.safetensors', 'tensor "ids"', 'dtype I64', 'not supported', 'F32, F16, BF16');
    expectError(() => tensorToFloat32(file, 'nope'), 'no tensor "nope"');
  });
});
