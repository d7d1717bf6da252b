/**
 * An ONNX graph under construction, and its encoding as a ModelProto with onnx-proto (protobufjs and ONNX's own
 * onnx.proto). Nodes name their outputs with fresh names; weights are initializers. `encode` writes the model in
 * one protobuf, or with the initializers in an external data file (ONNX's `data_location: EXTERNAL`, with
 * `location`/`offset`/`length` entries), which models over protobuf's 2 GB limit need.
 */
import onnxProto from 'onnx-proto';

const { onnx } = onnxProto;

export type OnnxDtype = 'float32' | 'uint8' | 'int8' | 'int64' | 'bool';

/** TensorProto.DataType codes. */
const DTYPE_CODE: Record<OnnxDtype, number> = { float32: 1, uint8: 2, int8: 3, int64: 7, bool: 9 };

export type OnnxAttribute = { i: number } | { f: number } | { ints: number[] } | { s: string };

/** A dimension: a fixed size, or a symbolic name such as "batch_size". */
export type OnnxDim = number | string;

type TensorData = Float32Array | Int8Array | Uint8Array | BigInt64Array;

interface Initializer {
  name: string;
  dtype: OnnxDtype;
  dims: number[];
  bytes: Uint8Array;
}

/** The largest protobuf message: 2 GiB − 1 (protobuf's hard limit; ONNX's checker uses the same). */
export const PROTOBUF_LIMIT_BYTES = 2 ** 31 - 1;

export class OnnxTooLargeError extends Error {
  override name = 'OnnxTooLargeError';
}

function dtypeOf(data: TensorData): OnnxDtype {
  if (data instanceof Float32Array) return 'float32';
  if (data instanceof Int8Array) return 'int8';
  if (data instanceof BigInt64Array) return 'int64';
  return 'uint8';
}

function attribute(name: string, value: OnnxAttribute): InstanceType<typeof onnx.AttributeProto> {
  const T = onnx.AttributeProto.AttributeType;
  if ('i' in value) return onnx.AttributeProto.create({ name, type: T.INT, i: value.i });
  if ('f' in value) return onnx.AttributeProto.create({ name, type: T.FLOAT, f: value.f });
  if ('ints' in value) return onnx.AttributeProto.create({ name, type: T.INTS, ints: value.ints });
  return onnx.AttributeProto.create({ name, type: T.STRING, s: new TextEncoder().encode(value.s) });
}

function inlineTensor(t: Initializer) {
  return onnx.TensorProto.create({ name: t.name, dims: t.dims, dataType: DTYPE_CODE[t.dtype], rawData: t.bytes });
}

function valueInfo(name: string, dtype: OnnxDtype, dims: readonly OnnxDim[]) {
  return onnx.ValueInfoProto.create({
    name,
    type: {
      tensorType: {
        elemType: DTYPE_CODE[dtype],
        shape: { dim: dims.map((d) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d })) },
      },
    },
  });
}

export interface EncodeOptions {
  /** Write the initializers to this file next to the model instead of inside it. */
  externalData?: string | null;
  /** The protobuf size limit (tests lower it); PROTOBUF_LIMIT_BYTES by default. */
  limitBytes?: number;
  /** What to call the model in errors, e.g. "onnx/model.onnx". */
  file?: string;
}

export interface EncodedModel {
  model: Uint8Array;
  /** The external data file's bytes when `externalData` was given. */
  data: Uint8Array | null;
}

/** Alignment of tensors in an external data file. */
const EXTERNAL_ALIGN = 64;
/**
 * Smaller tensors stay inside the model (onnx's convert_model_to_external_data uses the same threshold): shape
 * constants must, since shape inference reads them before external data is loaded.
 */
const EXTERNAL_MIN_BYTES = 1024;

export class OnnxGraph {
  private readonly nodes: InstanceType<typeof onnx.NodeProto>[] = [];
  private readonly initializers: Initializer[] = [];
  private readonly inputs: InstanceType<typeof onnx.ValueInfoProto>[] = [];
  private readonly outputs: InstanceType<typeof onnx.ValueInfoProto>[] = [];
  private readonly usedNames = new Set<string>();
  private readonly opsets = new Map<string, number>();
  private counter = 0;

  constructor(
    readonly name: string,
    opset: number,
  ) {
    this.opsets.set('', opset);
  }

  private claim(name: string): string {
    if (this.usedNames.has(name)) throw new Error(`internal: ONNX value "${name}" is defined twice`);
    this.usedNames.add(name);
    return name;
  }

  /** A name not used yet, from a readable stem. */
  fresh(stem: string): string {
    let name: string;
    do name = `${stem}_${this.counter++}`;
    while (this.usedNames.has(name));
    return name;
  }

  useDomain(domain: string, version: number): void {
    this.opsets.set(domain, version);
  }

  input(name: string, dtype: OnnxDtype, dims: readonly OnnxDim[]): string {
    this.inputs.push(valueInfo(this.claim(name), dtype, dims));
    return name;
  }

  /** Declares `value` a graph output under `name` (an Identity when the value has another name). */
  output(value: string, name: string, dtype: OnnxDtype, dims: readonly OnnxDim[]): void {
    if (value !== name) this.op('Identity', [value], {}, { outputs: [name] });
    this.outputs.push(valueInfo(name, dtype, dims));
  }

  /** A weight (initializer) named `name`; returns the name. */
  weight(name: string, dims: readonly number[], data: TensorData): string {
    const count = dims.reduce((a, b) => a * b, 1);
    if (data.length !== count) throw new Error(`internal: initializer "${name}" has ${data.length} values for dims [${dims.join(', ')}]`);
    const bytes = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
    this.initializers.push({ name: this.claim(name), dtype: dtypeOf(data), dims: [...dims], bytes });
    return name;
  }

  /** A constant float32 tensor (a scalar when dims is []). */
  constFloat(values: readonly number[], dims: readonly number[] = [values.length]): string {
    return this.weight(this.fresh('const_f'), dims, Float32Array.from(values));
  }

  /** A constant int64 tensor (a scalar when dims is []). */
  constInt(values: readonly number[], dims: readonly number[] = [values.length]): string {
    return this.weight(this.fresh('const_i'), dims, BigInt64Array.from(values.map((v) => BigInt(v))));
  }

  /** Adds a node; returns its first output (the others are in `opts.outputs` when given). */
  op(opType: string, inputs: readonly string[], attrs: Record<string, OnnxAttribute> = {}, opts: { outputs?: string[]; domain?: string } = {}): string {
    const outputs = opts.outputs ?? [this.fresh(opType.toLowerCase())];
    for (const o of outputs) this.claim(o);
    this.nodes.push(
      onnx.NodeProto.create({
        opType,
        domain: opts.domain ?? '',
        name: this.fresh(`${opType}_node`),
        input: [...inputs],
        output: outputs,
        attribute: Object.entries(attrs).map(([k, v]) => attribute(k, v)),
      }),
    );
    return outputs[0];
  }

  /** Bytes of all initializers. */
  weightBytes(): number {
    return this.initializers.reduce((n, t) => n + t.bytes.byteLength, 0);
  }

  encode(opts: EncodeOptions = {}): EncodedModel {
    const limit = opts.limitBytes ?? PROTOBUF_LIMIT_BYTES;
    const external = opts.externalData ?? null;
    const file = opts.file ?? `${this.name}.onnx`;
    // Everything but the weights is small (names, nodes): a megabyte covers it.
    const estimate = (external ? 0 : this.weightBytes()) + 1_000_000;
    if (estimate > limit) {
      throw new OnnxTooLargeError(
        `${file}: the weights take ${(this.weightBytes() / 1e9).toFixed(2)} GB, over protobuf's ${(limit / 1e9).toFixed(2)} GB limit for one ONNX file; ` +
          'export with external data (the weights in a separate .onnx_data file)',
      );
    }
    let dataBytes: Uint8Array | null = null;
    const tensors = [];
    if (external) {
      let size = 0;
      const offsets = this.initializers.map((t) => {
        if (t.bytes.byteLength < EXTERNAL_MIN_BYTES) return -1;
        size = Math.ceil(size / EXTERNAL_ALIGN) * EXTERNAL_ALIGN;
        const at = size;
        size += t.bytes.byteLength;
        return at;
      });
      dataBytes = new Uint8Array(size);
      for (const [i, t] of this.initializers.entries()) {
        if (offsets[i] < 0) {
          tensors.push(inlineTensor(t));
          continue;
        }
        dataBytes.set(t.bytes, offsets[i]);
        tensors.push(
          onnx.TensorProto.create({
            name: t.name,
            dims: t.dims,
            dataType: DTYPE_CODE[t.dtype],
            dataLocation: onnx.TensorProto.DataLocation.EXTERNAL,
            externalData: [
              { key: 'location', value: external },
              { key: 'offset', value: String(offsets[i]) },
              { key: 'length', value: String(t.bytes.byteLength) },
            ],
          }),
        );
      }
    } else {
      for (const t of this.initializers) tensors.push(inlineTensor(t));
    }
    const model = onnx.ModelProto.create({
      irVersion: 8,
      producerName: 'peft-studio',
      opsetImport: [...this.opsets].map(([domain, version]) => ({ domain, version })),
      graph: { name: this.name, node: this.nodes, initializer: tensors, input: this.inputs, output: this.outputs },
    });
    const bytes = onnx.ModelProto.encode(model).finish();
    if (bytes.byteLength > limit) {
      throw new OnnxTooLargeError(`${file}: the model takes ${bytes.byteLength} bytes, over protobuf's ${limit}-byte limit; export with external data`);
    }
    return { model: bytes, data: dataBytes };
  }
}
