/**
 * IA³ on the GPU (PEFT `tuners/ia3/layer.py`, Linear.forward): one trainable vector ia3_l per targeted module,
 * attached at the engine's linear-layer hook (engine/method-hooks.ts). W0 and the bias stay frozen; the base linear
 * is the engine's own (it decodes q8/q4/nf4 weights), so IA³ only adds element-wise steps around it:
 *
 *   output scaling, ia3_l (out, 1):  z = x·W0ᵀ + b;  y (+)= z ⊙ l
 *     backward:  dz = dy ⊙ l;  dl = Σ_rows dy ⊙ z;  dx (+)= dz·W0
 *   input scaling (feed-forward), ia3_l (1, in):  y (+)= (x ⊙ l)·W0ᵀ + b
 *     backward:  g = dy·W0;  dl = Σ_rows x ⊙ g;  dx (+)= g ⊙ l
 *
 * With the pass's adapter scale s the factor is 1 + s·(l − 1) (s = 1: l itself), and dl gets the factor s.
 */
import type { GpuContext } from '../../gpu/device';
import { ShapeError } from '../../gpu/errors';
import type { GpuLinear, GpuModel } from '../../engine/gpu-model';
import type { AdaptedLinear, GpuAdapter, PassContext, TrainableTensor } from '../../engine/method-hooks';
import { encodeIa3Scale, encodeProduct } from '../../kernels/ia3';
import { encodeLinearBackwardInput, encodeLinearForward } from '../../kernels/linear';
import { encodeLoraWeightGrad } from '../../kernels/lora-rank';
import { readTensor, tensorFrom, zerosTensor, type GpuTensor } from '../../kernels/tensor';
import type { LinearModuleSpec } from '../../model/weight-names';
import { ia3VectorShape } from '../../peft/ia3-config';

export interface Ia3ModuleInit {
  /** Module path, e.g. "model.layers.0.mlp.down_proj". */
  path: string;
  /** Scales the input (1, in) rather than the output (out, 1). */
  feedforward: boolean;
  /** ia3_l: in values for a feed-forward module, out values otherwise. */
  l: Float32Array;
}

export interface GpuIa3Module {
  spec: LinearModuleSpec;
  feedforward: boolean;
  l: GpuTensor; // (out, 1) or (1, in)
  dl: GpuTensor; // same shape
}

export class GpuIa3Set implements GpuAdapter {
  private readonly adapted = new Map<string, AdaptedLinear>();

  private constructor(
    private readonly gpu: GpuContext,
    readonly modules: Map<string, GpuIa3Module>,
  ) {
    for (const [path, mod] of modules) this.adapted.set(path, mod.feedforward ? inputScaled(mod) : outputScaled(mod));
  }

  static create(gpu: GpuContext, model: GpuModel, inits: Ia3ModuleInit[]): GpuIa3Set {
    const specs = new Map<string, LinearModuleSpec>();
    for (const lin of model.linears()) specs.set(lin.spec.path, lin.spec);
    for (const init of inits) {
      const spec = specs.get(init.path);
      if (!spec) throw new ShapeError(`IA³: the model has no linear module "${init.path}"`);
      const shape = ia3VectorShape({ ...spec, feedforward: init.feedforward });
      if (init.l.length !== shape[0] * shape[1]) {
        throw new ShapeError(`IA³ "${init.path}": ia3_l has ${init.l.length} values, expected ${init.feedforward ? '(1, in)' : '(out, 1)'} = (${shape.join(', ')})`);
      }
    }
    const d = gpu.device;
    const modules = new Map<string, GpuIa3Module>();
    for (const init of inits) {
      const spec = specs.get(init.path)!;
      const shape = ia3VectorShape({ ...spec, feedforward: init.feedforward });
      modules.set(init.path, {
        spec,
        feedforward: init.feedforward,
        l: tensorFrom(d, init.l, shape, `${init.path}.ia3_l`),
        dl: zerosTensor(d, shape, `${init.path}.ia3_l.grad`),
      });
    }
    return new GpuIa3Set(gpu, modules);
  }

  /** The linear-layer hook: the IA³ linear on every adapted module. */
  linear(spec: LinearModuleSpec): AdaptedLinear | null {
    return this.adapted.get(spec.path) ?? null;
  }

  /** ia3_l of every module, named as in checkpoints: "<module>.ia3_l". */
  parameters(): TrainableTensor[] {
    return [...this.modules].map(([path, m]) => ({ name: `${path}.ia3_l`, value: m.l, grad: m.dl }));
  }

  async readVectors(): Promise<Map<string, Float32Array>> {
    const out = new Map<string, Float32Array>();
    for (const [path, m] of this.modules) out.set(path, await readTensor(this.gpu.device, m.l));
    return out;
  }

  async readGrads(): Promise<Map<string, Float32Array>> {
    const out = new Map<string, Float32Array>();
    for (const [path, m] of this.modules) out.set(path, await readTensor(this.gpu.device, m.dl));
    return out;
  }

  destroy(): void {
    for (const m of this.modules.values()) for (const t of [m.l, m.dl]) t.buffer.destroy();
  }
}

/** y (+)= (x·W0ᵀ + b) ⊙ l, keeping z = x·W0ᵀ + b [rows, out] for the backward. */
function outputScaled(mod: GpuIa3Module): AdaptedLinear<GpuTensor> {
  const path = mod.spec.path;
  const N = mod.spec.outFeatures;
  return {
    forward(ctx: PassContext, lin: GpuLinear, x: GpuTensor, y: GpuTensor, accumulate: boolean): GpuTensor {
      const z = ctx.tensor([ctx.rows, N], `${path} z`);
      encodeLinearForward(ctx.rec, { x, w0: lin.weight, bias: lin.bias, y: z });
      encodeIa3Scale(ctx.rec, { x: z, l: mod.l, alpha: ctx.scale, out: y, accumulate });
      return z;
    },
    backward(ctx: PassContext, lin: GpuLinear, z: GpuTensor, dy: GpuTensor, _x: GpuTensor, dx: GpuTensor | null, accumulateDx: boolean): void {
      // dl[n] = s·Σ_m dy[m, n]·z[m, n]: the product, reduced over rows against a column of ones.
      const p = ctx.tensor([ctx.rows, N], `${path} dy ⊙ z`);
      encodeProduct(ctx.rec, { a: dy, b: z, out: p });
      encodeLoraWeightGrad(ctx.rec, `${path} ia3_l grad`, { left: p, right: ctx.ones(), out: mod.dl, scale: ctx.scale, accumulate: ctx.accumulateGrads });
      if (!dx) return;
      const dz = ctx.tensor([ctx.rows, N], `${path} dz`);
      encodeIa3Scale(ctx.rec, { x: dy, l: mod.l, alpha: ctx.scale, out: dz });
      encodeLinearBackwardInput(ctx.rec, { dy: dz, w0: lin.weight, dx, accumulate: accumulateDx });
    },
  };
}

/** y (+)= (x ⊙ l)·W0ᵀ + b (feed-forward modules); the backward recomputes nothing but g = dy·W0. */
function inputScaled(mod: GpuIa3Module): AdaptedLinear<null> {
  const path = mod.spec.path;
  const K = mod.spec.inFeatures;
  return {
    forward(ctx: PassContext, lin: GpuLinear, x: GpuTensor, y: GpuTensor, accumulate: boolean): null {
      const xs = ctx.tensor([ctx.rows, K], `${path} x ⊙ l`);
      encodeIa3Scale(ctx.rec, { x, l: mod.l, alpha: ctx.scale, out: xs });
      encodeLinearForward(ctx.rec, { x: xs, w0: lin.weight, bias: lin.bias, y, accumulate });
      return null;
    },
    backward(ctx: PassContext, lin: GpuLinear, _saved: null, dy: GpuTensor, x: GpuTensor, dx: GpuTensor | null, accumulateDx: boolean): void {
      const g = ctx.tensor([ctx.rows, K], `${path} dy·W0`);
      encodeLinearBackwardInput(ctx.rec, { dy, w0: lin.weight, dx: g });
      // dl[k] = s·Σ_m x[m, k]·g[m, k].
      const p = ctx.tensor([ctx.rows, K], `${path} x ⊙ g`);
      encodeProduct(ctx.rec, { a: x, b: g, out: p });
      encodeLoraWeightGrad(ctx.rec, `${path} ia3_l grad`, { left: ctx.ones(), right: p, out: mod.dl, scale: ctx.scale, accumulate: ctx.accumulateGrads });
      if (dx) encodeIa3Scale(ctx.rec, { x: g, l: mod.l, alpha: ctx.scale, out: dx, accumulate: accumulateDx });
    },
  };
}
