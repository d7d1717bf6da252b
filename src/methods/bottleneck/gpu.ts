/**
 * Bottleneck adapters on the GPU, at the engine's sublayer-output hook (engine/method-hooks.ts): each adapted
 * sublayer's output `out` [rows, d] becomes
 *
 *   y = out + s·up(act(down(out)))      down: Linear(d, b), up: Linear(b, d), act relu, tanh, swish, gelu or gelu_new
 *   backward:  du = s·dy;  d(out) = dy + (the MLP's backward of du);  the four tensors' gradients from du
 *
 * with the pass's adapter scale s (1: the adapter as trained). The MLP is the prompt encoders' GpuMlp
 * (methods/shared/gpu-mlp.ts), its parameters named as AdapterHub saves them ("<…>.adapter_down.0.weight", …).
 */
import type { GpuContext } from '../../gpu/device';
import { ShapeError } from '../../gpu/errors';
import type { GpuAdapter, PassContext, SublayerAdapter, TrainableTensor } from '../../engine/method-hooks';
import { encodeElementwise } from '../../kernels/plain-ops';
import { elementCount, readTensor, type GpuTensor } from '../../kernels/tensor';
import type { Sublayer } from '../../model/architecture';
import type { BottleneckNonLinearity } from '../../options/bottleneck-fields';
import type { BottleneckTarget } from '../../peft/bottleneck-files';
import { GpuMlp, type MlpSaved } from '../shared/gpu-mlp';

/** One adapter's initial values (nn.Linear layout: down [b, d], up [d, b]). */
export interface BottleneckInit {
  target: BottleneckTarget;
  downWeight: Float32Array;
  downBias: Float32Array;
  upWeight: Float32Array;
  upBias: Float32Array;
}

interface Module {
  target: BottleneckTarget;
  mlp: GpuMlp;
}

export class GpuBottleneckSet implements GpuAdapter {
  private readonly byPlace = new Map<string, SublayerAdapter>();

  private constructor(
    private readonly gpu: GpuContext,
    private readonly modules: Module[],
  ) {
    for (const m of modules) this.byPlace.set(`${m.target.layer}/${m.target.place}`, adapterOf(m));
  }

  static create(gpu: GpuContext, hidden: number, bottleneck: number, activation: BottleneckNonLinearity, inits: BottleneckInit[]): GpuBottleneckSet {
    const d = hidden;
    const b = bottleneck;
    for (const i of inits) {
      const sizes: [string, Float32Array, number][] = [
        ['adapter_down.0.weight', i.downWeight, b * d], ['adapter_down.0.bias', i.downBias, b], ['adapter_up.weight', i.upWeight, d * b], ['adapter_up.bias', i.upBias, d],
      ];
      for (const [name, data, n] of sizes) {
        if (data.length !== n) throw new ShapeError(`bottleneck adapter "${i.target.prefix}.${name}": ${data.length} values, expected ${n} (hidden ${d}, bottleneck ${b})`);
      }
    }
    const modules = inits.map((i) => ({
      target: i.target,
      mlp: new GpuMlp(
        gpu.device,
        [
          { name: `${i.target.prefix}.adapter_down.0`, weight: i.downWeight, bias: i.downBias, inFeatures: d, outFeatures: b },
          { name: `${i.target.prefix}.adapter_up`, weight: i.upWeight, bias: i.upBias, inFeatures: b, outFeatures: d },
        ],
        activation,
      ),
    }));
    return new GpuBottleneckSet(gpu, modules);
  }

  sublayerOutput(layer: number, sublayer: Sublayer): SublayerAdapter | null {
    return this.byPlace.get(`${layer}/${sublayer}`) ?? null;
  }

  /** Every adapter's four tensors, named as AdapterHub saves them. */
  parameters(): TrainableTensor[] {
    return this.modules.flatMap((m) => m.mlp.parameters());
  }

  /** The tensors' values by name. */
  async readWeights(): Promise<Map<string, Float32Array>> {
    const out = new Map<string, Float32Array>();
    for (const p of this.parameters()) out.set(p.name, await readTensor(this.gpu.device, p.value));
    return out;
  }

  async readGrads(): Promise<Map<string, Float32Array>> {
    const out = new Map<string, Float32Array>();
    for (const p of this.parameters()) out.set(p.name, await readTensor(this.gpu.device, p.grad));
    return out;
  }

  destroy(): void {
    for (const m of this.modules) m.mlp.destroy();
  }
}

interface Saved {
  mlp: MlpSaved;
}

function adapterOf(m: Module): SublayerAdapter<Saved> {
  const name = m.target.prefix;
  return {
    forward(ctx: PassContext, out: GpuTensor): { y: GpuTensor; saved: Saved } {
      const { y: u, saved } = m.mlp.forward(ctx, out, name);
      const y = ctx.tensor(out.shape, `${name} y`);
      encodeElementwise(ctx.rec, { a: out, b: u, alpha: ctx.scale, out: y });
      return { y, saved: { mlp: saved } };
    },
    backward(ctx: PassContext, saved: Saved, dy: GpuTensor): GpuTensor {
      let du = dy;
      if (ctx.scale !== 1) {
        du = ctx.tensor(dy.shape, `${name} s·dy`);
        encodeElementwise(ctx.rec, { a: ctx.tensor(dy.shape, `${name} zeros`, { zeroed: true }), b: dy, alpha: ctx.scale, out: du });
      }
      // d(out) = dy (the residual) + the MLP's input gradient, added into a copy of dy.
      const dOut = ctx.tensor(dy.shape, `${name} d(out)`);
      ctx.rec.encoder.copyBufferToBuffer(dy.buffer, 0, dOut.buffer, 0, elementCount(dy.shape) * 4);
      m.mlp.backward(ctx, saved.mlp, du, { accumulate: ctx.accumulateGrads, dx: dOut, accumulateDx: true, name });
      return dOut;
    },
  };
}
