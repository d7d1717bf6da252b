/**
 * LoRA on the float64 reference model: adapters keyed by module path as in `linearModules()`, attached at the
 * linear-layer hook, computing the adapted layer as PEFT does: y = base(x) + scale·(dropout(x)·Aᵀ)·Bᵀ. A and B
 * are always in nn.Linear layout, A [r, in] and B [out, r], also on GPT-2's Conv1D layers. Parameters are named
 * "<module path>.lora_A" and "<module path>.lora_B".
 */
import type { ModelConfig } from '../../model/config';
import type { FrozenLinear, ReferenceMethod } from '../../model/reference/method-hooks';
import { add, mulConst, scale, type Tape, type Var } from '../../model/reference/tape';
import { doraNormRef } from '../../kernels/reference/dora';
import { scaleColumns } from '../ia3/reference';
import { matmulNT } from '../../model/reference/tape-ops';
import { linearModules, type LinearModuleSpec } from '../../model/weight-names';
import { dropoutFactor, validateDropout } from '../../kernels/dropout-mask';
import { loraScaling } from '../../peft/lora-scaling';
import { randomNormal } from '../../util/random';

export interface ReferenceLoraModule {
  /** lora_A.weight [r, in]. */
  a: Float32Array | Float64Array;
  /** lora_B.weight [out, r]. */
  b: Float32Array | Float64Array;
  r: number;
  /** LoRA scaling (lora_alpha / r, see `loraScaling`). */
  scale: number;
  /** lora_dropout in [0, 1). */
  dropoutP: number;
  /** Dropout seed (u32); the mask of element (m, k) is dropoutFactor(seed, m·in + k, p), m = b·T + t. */
  seed: number;
  /** DoRA's lora_magnitude_vector [out]; absent for plain LoRA. */
  magnitude?: Float32Array | Float64Array;
  /**
   * DoRA: the norm ‖W0 + s·B·A‖ [out] to use instead of computing it from A and B (a finite-difference check holds
   * it fixed, as the gradient treats it: detached).
   */
  doraNorm?: ArrayLike<number>;
}

export type ReferenceLora = Map<string, ReferenceLoraModule>;

/**
 * Checks every adapter against the model: the module path exists, A and B have the right sizes, the
 * scale is finite, dropout is in [0, 1). Returns the module specs by path.
 */
export function checkLora(config: ModelConfig, lora: ReferenceLora): Map<string, LinearModuleSpec> {
  const specs = new Map(linearModules(config).map((m) => [m.path, m]));
  for (const [path, l] of lora) {
    const spec = specs.get(path);
    if (spec === undefined) {
      throw new RangeError(`LoRA module "${path}" is not a linear layer of this ${config.modelType} model (e.g. "${linearModules(config)[0]?.path}")`);
    }
    if (!Number.isInteger(l.r) || l.r <= 0) throw new RangeError(`LoRA "${path}": r must be a positive integer, got ${l.r}`);
    if (l.a.length !== l.r * spec.inFeatures) {
      throw new RangeError(`LoRA "${path}": A has ${l.a.length} elements, expected r·in = ${l.r}·${spec.inFeatures} = ${l.r * spec.inFeatures}`);
    }
    if (l.b.length !== spec.outFeatures * l.r) {
      throw new RangeError(`LoRA "${path}": B has ${l.b.length} elements, expected out·r = ${spec.outFeatures}·${l.r} = ${spec.outFeatures * l.r}`);
    }
    if (!Number.isFinite(l.scale)) throw new RangeError(`LoRA "${path}": scale must be finite, got ${l.scale}`);
    validateDropout(l.dropoutP);
    if (l.magnitude && l.magnitude.length !== spec.outFeatures) {
      throw new RangeError(`LoRA "${path}": the DoRA magnitude has ${l.magnitude.length} elements, expected out = ${spec.outFeatures}`);
    }
    if (!Number.isInteger(l.seed)) throw new RangeError(`LoRA "${path}": seed must be an integer, got ${l.seed}`);
  }
  return specs;
}

/** Dropout multipliers of an [M, K] input: dropoutFactor(seed, m·K + k, p). */
export function loraDropoutFactors(M: number, K: number, p: number, seed: number): Float64Array {
  const f = new Float64Array(M * K);
  for (let i = 0; i < f.length; i++) f[i] = dropoutFactor(seed, i, p);
  return f;
}

/** Whether a PEFT target_modules entry selects a module path (equal, or a suffix after a dot). */
export function targetMatches(path: string, target: string): boolean {
  return path === target || path.endsWith(`.${target}`);
}

/**
 * A random adapter on every module that one of `targets` selects (PEFT's suffix matching: 'c_proj' selects
 * both GPT-2 c_proj layers, 'attn.c_proj' only the attention one). A ~ N(0, 1/in), B ~ N(0, 0.25²) — B is
 * not zero, unlike PEFT's init, so tests see gradients through both. scale = alpha / r. Deterministic in `seed`;
 * each module gets its own dropout seed.
 */
export function makeRandomLora(config: ModelConfig, targets: string[], r: number, alpha: number, seed: number, dropoutP = 0): ReferenceLora {
  validateDropout(dropoutP);
  const scale = loraScaling(alpha, r);
  const lora: ReferenceLora = new Map();
  const modules = linearModules(config);
  for (const target of targets) {
    if (!modules.some((m) => targetMatches(m.path, target))) {
      throw new RangeError(`makeRandomLora: target "${target}" matches no linear layer of this ${config.modelType} model`);
    }
  }
  modules.forEach((m, i) => {
    if (!targets.some((target) => targetMatches(m.path, target))) return;
    const s = (seed + Math.imul(i + 1, 0x9e3779b1)) >>> 0;
    lora.set(m.path, {
      a: Float64Array.from(randomNormal(r * m.inFeatures, s, 1 / Math.sqrt(m.inFeatures))),
      b: Float64Array.from(randomNormal(m.outFeatures * r, (s ^ 0x5bd1e995) >>> 0, 0.25)),
      r,
      scale,
      dropoutP,
      seed: (s ^ 0x27d4eb2f) >>> 0,
    });
  });
  return lora;
}

/** LoRA adapters as a method on the reference model (checked against the model first). */
export function loraReference(config: ModelConfig, lora: ReferenceLora): ReferenceMethod {
  const specs = checkLora(config, lora);
  return {
    attach(tape, { trainable }) {
      const parameters = new Map<string, Var>();
      const vars = new Map<string, { a: Var; b: Var; m: Var | null }>();
      for (const [path, m] of lora) {
        const spec = specs.get(path)!;
        const leaf = (data: ArrayLike<number>, rows: number, cols: number) =>
          trainable ? tape.param(Float64Array.from(data), rows, cols) : tape.constant(Float64Array.from(data), rows, cols);
        const a = leaf(m.a, m.r, spec.inFeatures);
        const b = leaf(m.b, spec.outFeatures, m.r);
        const mag = m.magnitude ? leaf(m.magnitude, spec.outFeatures, 1) : null;
        vars.set(path, { a, b, m: mag });
        parameters.set(`${path}.lora_A`, a);
        parameters.set(`${path}.lora_B`, b);
        if (mag) parameters.set(`${path}.lora_magnitude_vector`, mag);
      }
      return {
        parameters,
        linear(layer, x) {
          const base = layer.forward(x);
          const l = lora.get(layer.spec.path);
          if (l === undefined) return base;
          const { a, b, m } = vars.get(layer.spec.path)!;
          const xd = l.dropoutP > 0 ? mulConst(tape, x, loraDropoutFactors(x.rows, x.cols, l.dropoutP, l.seed)) : x;
          const loraOut = scale(tape, matmulNT(tape, matmulNT(tape, xd, a), b), l.scale);
          if (!m) return add(tape, base, loraOut);
          return doraLinear(tape, layer, base, xd, loraOut, a, b, m, l);
        },
      };
    },
  };
}

/**
 * DoRA as PEFT's Linear.forward computes it (tuners/lora/layer.py with tuners/lora/dora.py, DoraLinearLayer.forward):
 *   g = m / ‖W0 + s·B·A‖ (per output feature, the norm detached from the gradient),
 *   y = base(x) + (g − 1) ⊙ (x_d·W0ᵀ) + g ⊙ s·(x_d·Aᵀ)·Bᵀ,
 * x_d = dropout(x) (x without dropout: then y = g ⊙ (x·W0ᵀ + s·x·Aᵀ·Bᵀ) + b). The bias is not scaled.
 */
function doraLinear(tape: Tape, layer: FrozenLinear, base: Var, xd: Var, loraOut: Var, a: Var, b: Var, m: Var, l: ReferenceLoraModule): Var {
  const N = layer.spec.outFeatures;
  const K = layer.spec.inFeatures;
  const norm = l.doraNorm ?? doraNormRef({ w: layer.weight, a: a.data, b: b.data, m: m.data, N, K, r: l.r, scale: l.scale }).norm;
  const g = mulConst(tape, m, Array.from(norm, (v) => 1 / v));
  const z = matmulNT(tape, xd, tape.constant(Float64Array.from(layer.weight), N, K));
  // (g − 1) ⊙ z = g ⊙ z − z.
  return add(tape, add(tape, base, add(tape, scaleColumns(tape, z, g), scale(tape, z, -1))), scaleColumns(tape, loraOut, g));
}

