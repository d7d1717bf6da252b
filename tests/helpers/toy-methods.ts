/**
 * Small test-only methods at the hook points no PEFT method of the studio uses yet, each written twice: on the
 * GPU (engine/method-hooks.ts) and on the float64 reference (model/reference/method-hooks.ts), from the same
 * parameter values. They test the seams, not a method:
 * - virtual tokens: n trainable embeddings [n, d] in front of every sequence;
 * - an attention prefix: trainable keys and values [P, KV·hd] per layer;
 * - a sublayer shift: y = out + b_(layer, sublayer), a trainable vector per sublayer.
 * Their gradients land in GPU buffers (`grads`) the tests read back.
 */
import { encodeElementwise } from '../../src/kernels/plain-ops';
import { encodeLoraWeightGrad } from '../../src/kernels/lora-rank';
import { readTensor, tensorFrom, zerosTensor, type GpuTensor } from '../../src/kernels/tensor';
import type { AttentionPrefixHook, MethodHooks, PassContext, SublayerAdapter, VirtualTokensHook } from '../../src/engine/method-hooks';
import type { ModelConfig } from '../../src/model/config';
import type { Sublayer } from '../../src/model/architecture';
import type { ReferenceHooks, ReferenceMethod } from '../../src/model/reference/method-hooks';
import { add, type Var } from '../../src/model/reference/tape';
import { matmulNT } from '../../src/model/reference/tape-ops';
import { randomNormal } from '../../src/util/random';

export interface ToyValues {
  /** [n, d] */
  virtual: Float32Array | null;
  /** Per layer: k and v [P, KV·hd]. */
  prefix: { k: Float32Array; v: Float32Array }[] | null;
  /** By "layer/sublayer": [d]. */
  shifts: Map<string, Float32Array> | null;
}

export function randomToyValues(c: ModelConfig, opts: { virtual: number; prefix: number; shifts: boolean }, seed: number): ToyValues {
  const d = c.hiddenSize;
  const kvDim = c.numKvHeads * c.headDim;
  let s = seed;
  const rnd = (n: number, std: number) => randomNormal(n, s++, std);
  return {
    virtual: opts.virtual > 0 ? rnd(opts.virtual * d, 0.3) : null,
    prefix: opts.prefix > 0 ? Array.from({ length: c.numLayers }, () => ({ k: rnd(opts.prefix * kvDim, 0.5), v: rnd(opts.prefix * kvDim, 0.5) })) : null,
    shifts: opts.shifts
      ? new Map(Array.from({ length: c.numLayers }, (_, l) => (['attention', 'mlp'] as const).map((sub) => [`${l}/${sub}`, rnd(d, 0.2)] as const)).flat())
      : null,
  };
}

/** The toy methods on the GPU, with their gradients' buffers by parameter name. */
export class GpuToyMethod implements MethodHooks {
  readonly params = new Map<string, GpuTensor>();
  readonly grads = new Map<string, GpuTensor>();
  virtualTokens?: VirtualTokensHook;
  attentionPrefix?: AttentionPrefixHook;
  linear?: MethodHooks['linear'];

  /** `inner` adds another method's linear-layer hook (LoRA), so that all four places run in one pass. */
  constructor(
    private readonly device: GPUDevice,
    c: ModelConfig,
    values: ToyValues,
    inner?: MethodHooks,
  ) {
    if (inner?.linear) this.linear = inner.linear.bind(inner);
    const d = c.hiddenSize;
    const kvDim = c.numKvHeads * c.headDim;
    const param = (name: string, data: Float32Array, shape: number[]) => {
      this.params.set(name, tensorFrom(device, data, shape, name));
      this.grads.set(name, zerosTensor(device, shape, `${name}.grad`));
      return this.params.get(name)!;
    };
    /** Gradients are stored (the tests run one pass per method). */
    const store = (ctx: PassContext, name: string, g: GpuTensor) => {
      const dst = this.grads.get(name)!;
      ctx.rec.encoder.copyBufferToBuffer(g.buffer, 0, dst.buffer, 0, dst.buffer.size);
    };
    if (values.virtual) {
      const n = values.virtual.length / d;
      const emb = param('virtual', values.virtual, [n, d]);
      this.virtualTokens = { count: n, forward: () => emb, backward: (ctx, g) => store(ctx, 'virtual', g) };
    }
    if (values.prefix) {
      const P = values.prefix[0].k.length / kvDim;
      values.prefix.forEach((kv, l) => {
        param(`prefix.${l}.k`, kv.k, [P, kvDim]);
        param(`prefix.${l}.v`, kv.v, [P, kvDim]);
      });
      this.attentionPrefix = {
        length: P,
        forward: (_ctx, l) => ({ k: this.params.get(`prefix.${l}.k`)!, v: this.params.get(`prefix.${l}.v`)! }),
        backward: (ctx, l, dk, dv) => {
          store(ctx, `prefix.${l}.k`, dk);
          store(ctx, `prefix.${l}.v`, dv);
        },
      };
    }
    if (values.shifts) {
      for (const [key, b] of values.shifts) param(`shift.${key}`, b, [d]);
    }
  }

  sublayerOutput(layer: number, sublayer: Sublayer): SublayerAdapter | null {
    const name = `shift.${layer}/${sublayer}`;
    const b = this.params.get(name);
    if (!b) return null;
    return {
      forward: (ctx, out) => {
        const y = ctx.tensor(out.shape, `${name} output`);
        encodeElementwise(ctx.rec, { a: out, bias: b, out: y });
        return { y, saved: null };
      },
      backward: (ctx, _saved, dy) => {
        // d b = Σ over rows of dy; d out = dy.
        encodeLoraWeightGrad(ctx.rec, `${name} grad`, { left: ctx.ones(), right: dy, out: { ...this.grads.get(name)!, shape: [1, b.shape[0]] }, scale: 1 });
        return dy;
      },
    };
  }

  async readGrads(): Promise<Map<string, Float32Array>> {
    const out = new Map<string, Float32Array>();
    for (const [name, g] of this.grads) out.set(name, await readTensor(this.device, g));
    return out;
  }

  destroy(): void {
    for (const t of [...this.params.values(), ...this.grads.values()]) t.buffer.destroy();
  }
}

/** The same toy methods on the float64 reference; parameter names as on the GPU. */
export function referenceToyMethod(c: ModelConfig, values: ToyValues, inner?: ReferenceMethod): ReferenceMethod {
  const d = c.hiddenSize;
  const kvDim = c.numKvHeads * c.headDim;
  return {
    attach(tape, { trainable }) {
      const parameters = new Map<string, Var>();
      const leaf = (name: string, data: Float32Array, rows: number, cols: number) => {
        const v = trainable ? tape.param(Float64Array.from(data), rows, cols) : tape.constant(Float64Array.from(data), rows, cols);
        parameters.set(name, v);
        return v;
      };
      const innerHooks = inner?.attach(tape, { trainable });
      for (const [k, v] of innerHooks?.parameters ?? []) parameters.set(k, v);
      const hooks: ReferenceHooks = { parameters, linear: innerHooks?.linear };
      if (values.virtual) {
        const n = values.virtual.length / d;
        const emb = leaf('virtual', values.virtual, n, d);
        hooks.virtualTokens = { count: n, embeddings: () => emb };
      }
      if (values.prefix) {
        const P = values.prefix[0].k.length / kvDim;
        const kv = values.prefix.map((p, l) => ({ k: leaf(`prefix.${l}.k`, p.k, P, kvDim), v: leaf(`prefix.${l}.v`, p.v, P, kvDim) }));
        hooks.attentionPrefix = { length: P, keysValues: (l) => kv[l] };
      }
      if (values.shifts) {
        const shifts = new Map([...values.shifts].map(([key, b]) => [key, leaf(`shift.${key}`, b, d, 1)]));
        hooks.sublayerOutput = (layer, sublayer, out) => {
          const b = shifts.get(`${layer}/${sublayer}`);
          if (!b) return out;
          // out + 1·bᵀ, with the gradient to b summed over the rows.
          return add(tape, out, matmulNT(tape, tape.constant(new Float64Array(out.rows).fill(1), out.rows, 1), b));
        };
      }
      return hooks;
    },
  };
}
