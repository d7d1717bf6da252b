/**
 * LoRA on the GPU: A [r, in] and B [out, r] per targeted module, with their gradients, attached at the engine's
 * linear-layer hook (engine/method-hooks.ts) through the fused LoRA kernels (kernels/lora-linear.ts). The adapter
 * matrices (and, with bias="lora_only", the adapted layers' biases) are the only trainable tensors; the model's
 * W0 stays frozen.
 */
import type { GpuContext } from '../../gpu/device';
import { ShapeError } from '../../gpu/errors';
import { readTensor, tensorFrom, zerosTensor, type GpuTensor } from '../../kernels/tensor';
import type { GpuLinear, GpuModel } from '../../engine/gpu-model';
import type { AdaptedLinear, GpuAdapter, PassContext, TrainableTensor } from '../../engine/method-hooks';
import type { HostWeights, LinearModuleSpec } from '../../model/weight-names';
import type { LoraConfig } from '../../peft/lora-config';
import type { ResolvedTarget } from '../../peft/lora-targets';
import { pcgHash } from '../../kernels/dropout-mask';
import { encodeLoraLinearBackward, encodeLoraLinearForward, type LoraAdapterTensors } from '../../kernels/lora-linear';
import { encodeLoraG, encodeLoraGradA, encodeLoraGradB, encodeLoraWeightGrad, encodeLoraXa } from '../../kernels/lora-rank';
import { CommandRecorder } from '../../kernels/dispatch';
import { encodeDoraDropout, encodeDoraMagnitudeTerm, encodeDoraNorm, encodeDoraScale } from '../../kernels/dora';
import { encodeLinearBackwardInput, encodeLinearForward, NO_DROPOUT } from '../../kernels/linear';

export interface LoraModuleInit {
  /** Module path, e.g. "model.layers.0.self_attn.q_proj". */
  path: string;
  r: number;
  /** lora_alpha / r, or lora_alpha / √r with rsLoRA. */
  scale: number;
  dropoutP: number;
  a: Float32Array; // [r, in]
  b: Float32Array; // [out, r]
  /**
   * A trainable copy of the layer's bias (PEFT's bias="lora_only"), starting from these values. The base model's
   * own bias is left as loaded, so base-model outputs (adapterScale 0) are unchanged.
   */
  bias?: Float32Array; // [out]
  /**
   * DoRA (use_dora): the trainable lora_magnitude_vector [out], or null to start it as PEFT does, at the row norms
   * ‖W0 + s·B·A‖ of the weight as the GPU holds it (computed there, so quantized W0 is decoded exactly as in the
   * forward). Absent: plain LoRA.
   */
  magnitude?: Float32Array | null;
}

export interface GpuLoraModule {
  spec: LinearModuleSpec;
  /** Position among the adapted modules; it decorrelates the dropout seeds of one step. */
  index: number;
  r: number;
  scale: number;
  dropoutP: number;
  a: GpuTensor;
  b: GpuTensor;
  dA: GpuTensor;
  dB: GpuTensor;
  /** The trainable bias [out] and its gradient [out, 1], when the bias trains (bias="lora_only"). */
  bias: GpuTensor | null;
  dBias: GpuTensor | null;
  /** DoRA's lora_magnitude_vector [out] and its gradient [out, 1]; null for plain LoRA. */
  magnitude: GpuTensor | null;
  dMagnitude: GpuTensor | null;
}

export class GpuLoraSet implements GpuAdapter {
  private readonly adapted = new Map<string, AdaptedLinear>();

  private constructor(
    private readonly gpu: GpuContext,
    readonly modules: Map<string, GpuLoraModule>,
  ) {
    for (const [path, mod] of modules) this.adapted.set(path, mod.magnitude ? doraLinear(mod) : loraLinear(mod));
  }

  /** The linear-layer hook: the fused LoRA linear on every adapted module. */
  linear(spec: LinearModuleSpec): AdaptedLinear | null {
    return this.adapted.get(spec.path) ?? null;
  }

  /** A and B of every module (and the trainable biases), named as in checkpoints: "<module>.lora_A". */
  parameters(): TrainableTensor[] {
    const out: TrainableTensor[] = [];
    for (const [path, m] of this.modules) {
      out.push({ name: `${path}.lora_A`, value: m.a, grad: m.dA }, { name: `${path}.lora_B`, value: m.b, grad: m.dB });
      // The bias gradient is [out, 1]; the optimizer sees it as [out], like the bias.
      if (m.bias && m.dBias) out.push({ name: `${path}.base_layer.bias`, value: m.bias, grad: { ...m.dBias, shape: m.bias.shape } });
      if (m.magnitude && m.dMagnitude) {
        out.push({ name: `${path}.lora_magnitude_vector`, value: m.magnitude, grad: { ...m.dMagnitude, shape: m.magnitude.shape } });
      }
    }
    return out;
  }

  static create(gpu: GpuContext, model: GpuModel, inits: LoraModuleInit[]): GpuLoraSet {
    const specs = new Map<string, LinearModuleSpec>();
    for (const lin of model.linears()) specs.set(lin.spec.path, lin.spec);
    // Validate everything before the first upload.
    for (const init of inits) {
      const spec = specs.get(init.path);
      if (!spec) throw new ShapeError(`LoRA: the model has no linear module "${init.path}"`);
      if (!Number.isInteger(init.r) || init.r <= 0) throw new ShapeError(`LoRA "${init.path}": r must be a positive integer, got ${init.r}`);
      if (init.a.length !== init.r * spec.inFeatures) {
        throw new ShapeError(`LoRA "${init.path}": lora_A has ${init.a.length} values, expected [r, in] = [${init.r}, ${spec.inFeatures}]`);
      }
      if (init.b.length !== spec.outFeatures * init.r) {
        throw new ShapeError(`LoRA "${init.path}": lora_B has ${init.b.length} values, expected [out, r] = [${spec.outFeatures}, ${init.r}]`);
      }
      if (!(init.dropoutP >= 0 && init.dropoutP < 1)) throw new ShapeError(`LoRA "${init.path}": lora_dropout must be in [0, 1), got ${init.dropoutP}`);
      if (init.magnitude && init.magnitude.length !== spec.outFeatures) {
        throw new ShapeError(`DoRA "${init.path}": lora_magnitude_vector has ${init.magnitude.length} values, expected [out] = [${spec.outFeatures}]`);
      }
      if (init.bias && (!spec.hasBias || init.bias.length !== spec.outFeatures)) {
        throw new ShapeError(
          spec.hasBias
            ? `LoRA "${init.path}": the trainable bias has ${init.bias.length} values, expected ${spec.outFeatures}`
            : `LoRA "${init.path}": this layer has no bias to train (bias="lora_only" applies only to layers with one)`,
        );
      }
    }
    const d = gpu.device;
    const modules = new Map<string, GpuLoraModule>();
    inits.forEach((init, index) => {
      const spec = specs.get(init.path)!;
      modules.set(init.path, {
        spec,
        index,
        r: init.r,
        scale: init.scale,
        dropoutP: init.dropoutP,
        a: tensorFrom(d, init.a, [init.r, spec.inFeatures], `${init.path}.lora_A`),
        b: tensorFrom(d, init.b, [spec.outFeatures, init.r], `${init.path}.lora_B`),
        dA: zerosTensor(d, [init.r, spec.inFeatures], `${init.path}.lora_A.grad`),
        dB: zerosTensor(d, [spec.outFeatures, init.r], `${init.path}.lora_B.grad`),
        bias: init.bias ? tensorFrom(d, init.bias, [spec.outFeatures], `${init.path}.base_layer.bias`) : null,
        dBias: init.bias ? zerosTensor(d, [spec.outFeatures, 1], `${init.path}.base_layer.bias.grad`) : null,
        magnitude:
          init.magnitude === undefined
            ? null
            : init.magnitude
              ? tensorFrom(d, init.magnitude, [spec.outFeatures], `${init.path}.lora_magnitude_vector`)
              : zerosTensor(d, [spec.outFeatures], `${init.path}.lora_magnitude_vector`),
        dMagnitude: init.magnitude === undefined ? null : zerosTensor(d, [spec.outFeatures, 1], `${init.path}.lora_magnitude_vector.grad`),
      });
    });
    // DoRA magnitudes PEFT's way (DoraLinearLayer.update_layer): m = ‖W0 + s·B·A‖ per output feature.
    const fresh = inits.filter((init) => init.magnitude === null);
    if (fresh.length > 0) {
      const linears = new Map([...model.linears()].map((lin) => [lin.spec.path, lin]));
      const rec = new CommandRecorder(gpu, 'DoRA magnitude init');
      const scratch: GpuTensor[] = [];
      for (const init of fresh) {
        const mod = modules.get(init.path)!;
        const N = mod.spec.outFeatures;
        const zeros = zerosTensor(d, [N], `${init.path} DoRA init m`);
        const g = zerosTensor(d, [N], `${init.path} DoRA init g`);
        scratch.push(zeros, g);
        encodeDoraNorm(rec, { w0: linears.get(init.path)!.weight, a: mod.a, b: mod.b, m: zeros, scale: mod.scale, norm: mod.magnitude!, g });
      }
      rec.submit();
      void gpu.device.queue.onSubmittedWorkDone().then(() => {
        for (const t of scratch) t.buffer.destroy();
      });
    }
    return new GpuLoraSet(gpu, modules);
  }

  get(path: string): GpuLoraModule | undefined {
    return this.modules.get(path);
  }

  /** Bytes of adapter parameters and their gradients. */
  get bytes(): number {
    let n = 0;
    for (const m of this.modules.values()) {
      n += 2 * 4 * (m.a.shape[0] * m.a.shape[1] + m.b.shape[0] * m.b.shape[1] + (m.bias ? m.bias.shape[0] : 0) + (m.magnitude ? m.magnitude.shape[0] : 0));
    }
    return n;
  }

  async readGrads(): Promise<Map<string, { dA: Float32Array; dB: Float32Array; dMagnitude?: Float32Array }>> {
    const out = new Map<string, { dA: Float32Array; dB: Float32Array; dMagnitude?: Float32Array }>();
    for (const [path, m] of this.modules) {
      out.set(path, {
        dA: await readTensor(this.gpu.device, m.dA),
        dB: await readTensor(this.gpu.device, m.dB),
        ...(m.dMagnitude ? { dMagnitude: await readTensor(this.gpu.device, m.dMagnitude) } : {}),
      });
    }
    return out;
  }

  /** DoRA's magnitudes by module path; empty for plain LoRA. */
  async readMagnitudes(): Promise<Map<string, Float32Array>> {
    const out = new Map<string, Float32Array>();
    for (const [path, m] of this.modules) if (m.magnitude) out.set(path, await readTensor(this.gpu.device, m.magnitude));
    return out;
  }

  /** The trained biases by module path (bias="lora_only"); empty when no bias trains. */
  async readBiases(): Promise<Map<string, Float32Array>> {
    const out = new Map<string, Float32Array>();
    for (const [path, m] of this.modules) if (m.bias) out.set(path, await readTensor(this.gpu.device, m.bias));
    return out;
  }

  async readWeights(): Promise<Map<string, { a: Float32Array; b: Float32Array }>> {
    const out = new Map<string, { a: Float32Array; b: Float32Array }>();
    for (const [path, m] of this.modules) {
      out.set(path, { a: await readTensor(this.gpu.device, m.a), b: await readTensor(this.gpu.device, m.b) });
    }
    return out;
  }

  destroy(): void {
    for (const m of this.modules.values()) for (const t of [m.a, m.b, m.dA, m.dB, m.bias, m.dBias, m.magnitude, m.dMagnitude]) t?.buffer.destroy();
  }
}

/**
 * The kernel arguments of one adapted module for one pass: scaling times `adapterScale` (0 = base model), and
 * dropout only in training (a seed given), with a per-module seed derived from the step's seed.
 */
export function adapterTensors(mod: GpuLoraModule, adapterScale: number, dropoutSeed: number | null): LoraAdapterTensors {
  // Without dropout the seed is 0 too, so the kernels' uniforms repeat from step to step (and their bind groups are reused).
  const dropout =
    dropoutSeed === null || mod.dropoutP === 0
      ? { p: 0, seed: 0 }
      : { p: mod.dropoutP, seed: pcgHash((dropoutSeed ^ Math.imul(mod.index + 1, 0x9e3779b9)) >>> 0) };
  return { a: mod.a, b: mod.b, scale: mod.scale * adapterScale, dropout };
}

/**
 * One adapted module as the engine's linear hook: y = x·W0ᵀ + b + s·(dropout(x)·Aᵀ)·Bᵀ forward, keeping x·Aᵀ
 * [rows, r] for the backward, which gives dx, dA, dB (and the trainable bias's gradient).
 */
function loraLinear(mod: GpuLoraModule): AdaptedLinear<GpuTensor> {
  const tensors = (ctx: PassContext) => adapterTensors(mod, ctx.scale, ctx.dropoutSeed);
  const path = mod.spec.path;
  return {
    forward(ctx: PassContext, lin: GpuLinear, x: GpuTensor, y: GpuTensor, accumulate: boolean): GpuTensor {
      const xa = ctx.tensor([ctx.rows, mod.r], `${path} xa`);
      encodeLoraLinearForward(ctx.rec, { x, w0: lin.weight, bias: mod.bias ?? lin.bias, lora: tensors(ctx), y, xa, accumulate });
      return xa;
    },
    backward(ctx: PassContext, lin: GpuLinear, xa: GpuTensor, dy: GpuTensor, x: GpuTensor, dx: GpuTensor | null, accumulateDx: boolean): void {
      const g = ctx.tensor([ctx.rows, mod.r], `${path} dy·B`);
      encodeLoraLinearBackward(ctx.rec, {
        dy, x, xa, w0: lin.weight, lora: tensors(ctx), g, dx, dA: mod.dA, dB: mod.dB, accumulateGrads: ctx.accumulateGrads, accumulateDx,
      });
      if (mod.dBias) {
        // d bias[n] = Σ_m dy[m, n]: the weight-gradient reduction against a column of ones.
        encodeLoraWeightGrad(ctx.rec, `${path} bias grad`, { left: dy, right: ctx.ones(), out: mod.dBias, scale: 1, accumulate: ctx.accumulateGrads });
      }
    },
  };
}

/**
 * One DoRA module as the engine's linear hook, as PEFT's Linear.forward computes it (tuners/lora/layer.py and
 * tuners/lora/dora.py, DoraLinearLayer.forward), with g = m / ‖W0 + s·B·A‖ per output feature (dora_norm, once per
 * pass and module; the norm is detached from the gradient, as in PEFT), xa = x_d·Aᵀ and t = x_d·W0ᵀ + s·xa·Bᵀ:
 *
 *   no dropout (or evaluation), x_d = x:  y (+)= g ⊙ t + b
 *   dropout in training, x_d = dropout(x): y (+)= x·W0ᵀ + b + s·xa·Bᵀ + (g − 1) ⊙ t
 *     (PEFT's base_result is None there: it recomputes x_d·W0ᵀ without the bias)
 *
 * backward (dl = dy ⊙ g is the LoRA path's gradient, the norm being a constant):
 *   dm = Σ_rows dy ⊙ t / norm;  dB = s·dlᵀ·xa;  dA = s·(dl·B)ᵀ·x_d
 *   no dropout: dx (+)= dl·W0 + s·(dl·B)·A
 *   dropout:    dx (+)= dy·W0 + mask ⊙ ((dy ⊙ (g − 1))·W0 + s·(dl·B)·A)
 * The linear steps are the engine's W0-decoding kernels; DoRA adds the norm kernel and element-wise steps
 * (kernels/dora.ts) around them, nothing fused into the matmuls.
 */
function doraLinear(mod: GpuLoraModule): AdaptedLinear<{ xa: GpuTensor; t: GpuTensor; norm: GpuTensor; g: GpuTensor }> {
  const tensors = (ctx: PassContext) => adapterTensors(mod, ctx.scale, ctx.dropoutSeed);
  const path = mod.spec.path;
  const N = mod.spec.outFeatures;
  const K = mod.spec.inFeatures;
  const magnitude = mod.magnitude!;
  const dMagnitude = mod.dMagnitude!;
  return {
    forward(ctx, lin, x, y, accumulate) {
      const lora = tensors(ctx);
      const norm = ctx.tensor([N], `${path} DoRA norm`);
      const g = ctx.tensor([N], `${path} DoRA m/norm`);
      encodeDoraNorm(ctx.rec, { w0: lin.weight, a: mod.a, b: mod.b, m: magnitude, scale: lora.scale, norm, g });
      const xa = ctx.tensor([ctx.rows, mod.r], `${path} xa`);
      encodeLoraXa(ctx.rec, { x, a: mod.a, xa, dropout: lora.dropout });
      const t = ctx.tensor([ctx.rows, N], `${path} DoRA t`);
      const bias = mod.bias ?? lin.bias;
      const loraTerm = { xa, b: mod.b, scale: lora.scale };
      if (lora.dropout.p === 0) {
        encodeLinearForward(ctx.rec, { x, w0: lin.weight, lora: loraTerm, y: t });
        encodeDoraScale(ctx.rec, { x: t, g, shift: 0, bias, out: y, accumulate });
      } else {
        const xd = ctx.tensor([ctx.rows, K], `${path} dropout(x)`);
        encodeDoraDropout(ctx.rec, { x, dropout: lora.dropout, out: xd });
        encodeLinearForward(ctx.rec, { x: xd, w0: lin.weight, lora: loraTerm, y: t });
        encodeLinearForward(ctx.rec, { x, w0: lin.weight, bias, lora: loraTerm, y, accumulate });
        encodeDoraScale(ctx.rec, { x: t, g, shift: 1, out: y, accumulate: true });
      }
      return { xa, t, norm, g };
    },
    backward(ctx, lin, saved, dy, x, dx, accumulateDx) {
      const lora = tensors(ctx);
      const { xa, t, norm, g } = saved;
      // dm[n] = Σ_m dy[m, n]·t[m, n] / norm[n]: the terms, reduced over rows against a column of ones.
      const terms = ctx.tensor([ctx.rows, N], `${path} dy ⊙ t / norm`);
      encodeDoraMagnitudeTerm(ctx.rec, { a: dy, b: t, norm, out: terms });
      encodeLoraWeightGrad(ctx.rec, `${path} lora_magnitude_vector grad`, { left: terms, right: ctx.ones(), out: dMagnitude, scale: 1, accumulate: ctx.accumulateGrads });
      const dl = ctx.tensor([ctx.rows, N], `${path} dy ⊙ g`);
      encodeDoraScale(ctx.rec, { x: dy, g, shift: 0, out: dl });
      const gl = ctx.tensor([ctx.rows, mod.r], `${path} dl·B`);
      if (lora.dropout.p === 0) {
        encodeLoraLinearBackward(ctx.rec, {
          dy: dl, x, xa, w0: lin.weight, lora, g: gl, dx, dA: mod.dA, dB: mod.dB, accumulateGrads: ctx.accumulateGrads, accumulateDx,
        });
      } else {
        encodeLoraG(ctx.rec, { dy: dl, b: mod.b, g: gl });
        if (dx) {
          encodeLinearBackwardInput(ctx.rec, { dy, w0: lin.weight, dx, accumulate: accumulateDx });
          const dt = ctx.tensor([ctx.rows, N], `${path} dy ⊙ (g − 1)`);
          encodeDoraScale(ctx.rec, { x: dy, g, shift: 1, out: dt });
          const q = ctx.tensor([ctx.rows, K], `${path} DoRA dx_d`);
          encodeLinearBackwardInput(ctx.rec, { dy: dt, w0: lin.weight, lora: { g: gl, a: mod.a, scale: lora.scale, dropout: NO_DROPOUT }, dx: q });
          encodeDoraDropout(ctx.rec, { x: q, dropout: lora.dropout, out: dx, accumulate: true });
        }
        encodeLoraGradA(ctx.rec, { g: gl, x, dA: mod.dA, scale: lora.scale, dropout: lora.dropout, accumulate: ctx.accumulateGrads });
        encodeLoraGradB(ctx.rec, { dy: dl, xa, dB: mod.dB, scale: lora.scale, accumulate: ctx.accumulateGrads });
      }
      if (mod.dBias) {
        encodeLoraWeightGrad(ctx.rec, `${path} bias grad`, { left: dy, right: ctx.ones(), out: mod.dBias, scale: 1, accumulate: ctx.accumulateGrads });
      }
    },
  };
}

/**
 * The GPU inits of an adapter: one per resolved target, with its A and B (fresh from initLoraWeights, or
 * imported), the config's dropout, and for bias="lora_only" a trainable bias starting from `biases` (imported)
 * or from the base model's own bias. bias="all" (every bias of the model, LayerNorms included) is refused.
 */
export function loraModuleInits(
  config: LoraConfig,
  targets: ResolvedTarget[],
  weights: Map<string, { a: Float32Array; b: Float32Array }>,
  base: HostWeights,
  opts: { dropout?: boolean; biases?: Map<string, Float32Array>; magnitudes?: Map<string, Float32Array> } = {},
): LoraModuleInit[] {
  if (config.bias === 'all') {
    throw new ShapeError('LoRA bias="all" (training every bias of the model) is not supported yet; use "none" or "lora_only"');
  }
  return targets.map((t) => {
    const w = weights.get(t.path);
    if (!w) throw new ShapeError(`LoRA: no lora_A / lora_B for the targeted module "${t.path}"`);
    let bias: Float32Array | undefined;
    if (config.bias === 'lora_only' && t.hasBias) {
      const b = opts.biases?.get(t.path) ?? base.get(`${t.path}.bias`)?.data;
      if (!b) throw new ShapeError(`LoRA bias="lora_only": the base model has no bias "${t.path}.bias"`);
      bias = Float32Array.from(b);
    }
    const init: LoraModuleInit = { path: t.path, r: t.r, scale: t.scale, dropoutP: opts.dropout === false ? 0 : config.lora_dropout, a: w.a, b: w.b, bias };
    if (config.use_dora) init.magnitude = opts.magnitudes?.get(t.path) ?? null;
    else if (opts.magnitudes?.has(t.path)) throw new ShapeError(`LoRA: a DoRA magnitude is given for "${t.path}" but use_dora is false`);
    return init;
  });
}
