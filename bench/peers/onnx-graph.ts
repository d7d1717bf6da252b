/**
 * The LoRA forward as an ONNX model, written by hand: a minimal protobuf writer and the five-node graph
 *
 *   y = MatMul(x, W0ᵀ) + Mul(MatMul(MatMul(x, Aᵀ), Bᵀ), s)
 *
 * with x [T, d] the only graph input and W0ᵀ [d_in, d_out], Aᵀ [d, r], Bᵀ [r, d] and s (a scalar) as
 * initializers, so that onnxruntime uploads the weights once, when the session is created.
 *
 * Field numbers follow onnx/onnx.proto (proto2):
 *   ModelProto        ir_version = 1, producer_name = 2, graph = 7, opset_import = 8
 *   OperatorSetIdProto domain = 1, version = 2
 *   GraphProto        node = 1, name = 2, initializer = 5, input = 11, output = 12
 *   NodeProto         input = 1, output = 2, name = 3, op_type = 4, attribute = 5 (unused here), domain = 7
 *   TensorProto       dims = 1, data_type = 2 (1 = FLOAT), name = 8, raw_data = 9 (little-endian)
 *   ValueInfoProto    name = 1, type = 2
 *   TypeProto         tensor_type = 1 → Tensor { elem_type = 1, shape = 2 → TensorShapeProto { dim = 1 →
 *                     Dimension { dim_value = 1 } } }
 */

const WIRE_VARINT = 0;
const WIRE_LEN = 2;

/** ONNX TensorProto.DataType.FLOAT. */
export const ONNX_FLOAT = 1;

/** Appends protobuf fields to a growing byte list. Only what ONNX models need: varints, strings, bytes, messages. */
export class ProtoWriter {
  private chunks: Uint8Array[] = [];
  private length = 0;

  private push(bytes: Uint8Array): void {
    this.chunks.push(bytes);
    this.length += bytes.length;
  }

  private varint(value: number): void {
    if (!Number.isSafeInteger(value) || value < 0) throw new RangeError(`protobuf varint: ${value} is not a non-negative safe integer`);
    const out: number[] = [];
    let v = value;
    while (v >= 0x80) {
      out.push((v % 0x80) | 0x80);
      v = Math.floor(v / 0x80);
    }
    out.push(v);
    this.push(Uint8Array.from(out));
  }

  private key(field: number, wire: number): void {
    this.varint(field * 8 + wire);
  }

  /** int32 / int64 / enum field (non-negative values only, which is all ONNX needs here). */
  int(field: number, value: number): this {
    this.key(field, WIRE_VARINT);
    this.varint(value);
    return this;
  }

  bytes(field: number, value: Uint8Array): this {
    this.key(field, WIRE_LEN);
    this.varint(value.length);
    this.push(value);
    return this;
  }

  string(field: number, value: string): this {
    return this.bytes(field, new TextEncoder().encode(value));
  }

  message(field: number, build: (w: ProtoWriter) => void): this {
    const inner = new ProtoWriter();
    build(inner);
    return this.bytes(field, inner.finish());
  }

  finish(): Uint8Array {
    const out = new Uint8Array(this.length);
    let offset = 0;
    for (const c of this.chunks) {
      out.set(c, offset);
      offset += c.length;
    }
    return out;
  }
}

export interface OnnxInitializer {
  name: string;
  dims: readonly number[];
  data: Float32Array;
}

export interface OnnxNode {
  opType: string;
  inputs: readonly string[];
  outputs: readonly string[];
  name: string;
}

export interface OnnxValue {
  name: string;
  dims: readonly number[];
}

export interface OnnxGraphSpec {
  name: string;
  nodes: readonly OnnxNode[];
  initializers: readonly OnnxInitializer[];
  inputs: readonly OnnxValue[];
  outputs: readonly OnnxValue[];
  /** ai.onnx opset; 17 by default. */
  opset?: number;
  /** IR version; 8 by default (the one that goes with opset 17). */
  irVersion?: number;
}

function float32LittleEndian(data: Float32Array): Uint8Array {
  const out = new Uint8Array(data.length * 4);
  const view = new DataView(out.buffer);
  for (let i = 0; i < data.length; i++) view.setFloat32(i * 4, data[i], true);
  return out;
}

function writeTensor(w: ProtoWriter, t: OnnxInitializer): void {
  const count = t.dims.reduce((a, b) => a * b, 1);
  if (count !== t.data.length) throw new RangeError(`ONNX initializer "${t.name}": ${t.data.length} values for dims [${t.dims.join(', ')}]`);
  for (const d of t.dims) w.int(1, d);
  w.int(2, ONNX_FLOAT);
  w.string(8, t.name);
  w.bytes(9, float32LittleEndian(t.data));
}

function writeValueInfo(w: ProtoWriter, v: OnnxValue): void {
  w.string(1, v.name);
  w.message(2, (type) =>
    type.message(1, (tensor) => {
      tensor.int(1, ONNX_FLOAT);
      tensor.message(2, (shape) => {
        for (const d of v.dims) shape.message(1, (dim) => dim.int(1, d));
      });
    }),
  );
}

/** Serializes a ModelProto holding one graph of float tensors. */
export function encodeOnnxModel(spec: OnnxGraphSpec): Uint8Array {
  const model = new ProtoWriter();
  model.int(1, spec.irVersion ?? 8);
  model.string(2, 'peft-studio bench/peers');
  model.message(7, (g) => {
    for (const n of spec.nodes) {
      g.message(1, (node) => {
        for (const i of n.inputs) node.string(1, i);
        for (const o of n.outputs) node.string(2, o);
        node.string(3, n.name);
        node.string(4, n.opType);
      });
    }
    g.string(2, spec.name);
    for (const t of spec.initializers) g.message(5, (tensor) => writeTensor(tensor, t));
    for (const v of spec.inputs) g.message(11, (vi) => writeValueInfo(vi, v));
    for (const v of spec.outputs) g.message(12, (vi) => writeValueInfo(vi, v));
  });
  model.message(8, (opset) => {
    opset.string(1, '');
    opset.int(2, spec.opset ?? 17);
  });
  return model.finish();
}

/** Row-major transpose of a [rows, cols] matrix. */
export function transpose(data: ArrayLike<number>, rows: number, cols: number): Float32Array {
  const out = new Float32Array(rows * cols);
  for (let i = 0; i < rows; i++) {
    for (let j = 0; j < cols; j++) out[j * rows + i] = data[i * cols + j];
  }
  return out;
}

export interface LoraOnnxParams {
  T: number;
  d: number;
  r: number;
  /** W0 [d_out, d_in] (nn.Linear layout), already dequantized for the quantized rows. */
  w0: Float32Array;
  /** lora_A.weight [r, d]. */
  a: Float32Array;
  /** lora_B.weight [d, r]. */
  b: Float32Array;
  scale: number;
}

/** Graph input and output names of `loraForwardModel`. */
export const LORA_ONNX_INPUT = 'x';
export const LORA_ONNX_OUTPUT = 'y';

/**
 * The LoRA forward y = x·W0ᵀ + s·(x·Aᵀ)·Bᵀ as five ONNX nodes (MatMul ×3, Mul, Add), the weights as
 * initializers (stored transposed, so that every MatMul is a plain [M, K]·[K, N]).
 */
export function loraForwardModel(p: LoraOnnxParams): Uint8Array {
  const { T, d, r } = p;
  return encodeOnnxModel({
    name: 'lora_linear_forward',
    inputs: [{ name: LORA_ONNX_INPUT, dims: [T, d] }],
    outputs: [{ name: LORA_ONNX_OUTPUT, dims: [T, d] }],
    initializers: [
      { name: 'w0_t', dims: [d, d], data: transpose(p.w0, d, d) },
      { name: 'lora_a_t', dims: [d, r], data: transpose(p.a, r, d) },
      { name: 'lora_b_t', dims: [r, d], data: transpose(p.b, d, r) },
      { name: 'scale', dims: [], data: Float32Array.of(p.scale) },
    ],
    nodes: [
      { name: 'base', opType: 'MatMul', inputs: [LORA_ONNX_INPUT, 'w0_t'], outputs: ['base'] },
      { name: 'lora_down', opType: 'MatMul', inputs: [LORA_ONNX_INPUT, 'lora_a_t'], outputs: ['xa'] },
      { name: 'lora_up', opType: 'MatMul', inputs: ['xa', 'lora_b_t'], outputs: ['lora'] },
      { name: 'lora_scale', opType: 'Mul', inputs: ['lora', 'scale'], outputs: ['lora_scaled'] },
      { name: 'sum', opType: 'Add', inputs: ['base', 'lora_scaled'], outputs: [LORA_ONNX_OUTPUT] },
    ],
  });
}
