/**
 * DoRA on the float64 reference model (methods/lora/reference.ts, PEFT's Linear.forward with DoraLinearLayer):
 * - at PEFT's init (B = 0, m = ‖W0‖ per output feature) the adapted model gives the base model's logits;
 * - without dropout the layer is g ⊙ (x·W0ᵀ + s·x·Aᵀ·Bᵀ) + b, g = m / ‖W0 + s·B·A‖ (the bias not scaled);
 * - the gradients of lora_A, lora_B and lora_magnitude_vector match central differences of the loss with the norm
 *   held fixed (PEFT detaches it), with dropout 0 and 0.3, on gpt2 (Conv1D), llama and qwen2;
 * - export → import gives the magnitudes back exactly, and the merged weights W′ = (m / ‖W + ΔW‖) ⊙ (W + ΔW) give
 *   the adapted model's logits.
 */
import { describe, expect, it } from 'vitest';
import { doraNormRef } from '../src/kernels/reference/dora';
import { makeRandomLora, loraReference, type ReferenceLora } from '../src/methods/lora/reference';
import { parseModelConfig, type ModelConfig } from '../src/model/config';
import { makeRandomHostWeights } from '../src/model/reference/random-weights';
import { referenceForward, referenceLoss, referenceLossAndGrads } from '../src/model/reference/reference-model';
import { linearOrientation } from '../src/model/reference/tape-ops';
import { linearModules, type HostWeights } from '../src/model/weight-names';
import { mulberry32 } from '../src/util/random';
import { mergeLora } from '../src/methods/lora/merge';
import { exportLoraAdapter, importLoraAdapter } from '../src/peft/adapter-files';
import { makeLoraConfig } from '../src/peft/lora-config';
import { resolveLoraTargets } from '../src/peft/lora-targets';

const CONFIGS: [string, ModelConfig, string[]][] = [
  ['gpt2', parseModelConfig({ model_type: 'gpt2', vocab_size: 30, n_embd: 8, n_head: 2, n_layer: 2, n_positions: 16, n_inner: 16 }), ['c_attn', 'mlp.c_proj']],
  ['llama', parseModelConfig({ model_type: 'llama', vocab_size: 30, hidden_size: 8, num_attention_heads: 4, num_key_value_heads: 2, num_hidden_layers: 2, intermediate_size: 12, max_position_embeddings: 16 }), ['q_proj', 'v_proj', 'down_proj']],
  ['qwen2', parseModelConfig({ model_type: 'qwen2', vocab_size: 30, hidden_size: 8, num_attention_heads: 2, num_key_value_heads: 1, num_hidden_layers: 2, intermediate_size: 12, tie_word_embeddings: true }), ['q_proj', 'o_proj']],
];

const batch = {
  inputIds: [[4, 11, 29, 8], [2, 9, 1, 0]],
  attentionMask: [[1, 1, 1, 1], [1, 1, 1, 0]],
  labels: [[4, 11, 29, 8], [2, 9, 1, -100]],
};

/** W0 of a module in nn.Linear orientation [out, in]. */
function weightOf(c: ModelConfig, w: HostWeights, path: string): ArrayLike<number> {
  const spec = linearModules(c).find((m) => m.path === path)!;
  return linearOrientation(w.get(`${path}.weight`)!.data, spec.layout, spec.outFeatures, spec.inFeatures);
}

function normsOf(c: ModelConfig, w: HostWeights, lora: ReferenceLora, path: string): Float64Array {
  const spec = linearModules(c).find((m) => m.path === path)!;
  const l = lora.get(path)!;
  return doraNormRef({ w: weightOf(c, w, path), a: l.a, b: l.b, m: new Float64Array(spec.outFeatures), N: spec.outFeatures, K: spec.inFeatures, r: l.r, scale: l.scale }).norm;
}

/** A random DoRA adapter: random A and B (B ≠ 0), m = the norms times 1 ± 0.3. */
function randomDora(c: ModelConfig, w: HostWeights, targets: string[], seed: number, dropoutP: number): ReferenceLora {
  const lora = makeRandomLora(c, targets, 2, 4, seed, dropoutP);
  const rng = mulberry32(seed + 1);
  for (const [path, l] of lora) l.magnitude = Float64Array.from(normsOf(c, w, lora, path), (n) => n * (1 + 0.3 * (2 * rng() - 1)));
  return lora;
}

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

describe.each(CONFIGS)('DoRA reference, %s', (_name, c, targets) => {
  const w = makeRandomHostWeights(c, 5);

  it("at PEFT's init (B = 0, m = ‖W0‖ per output feature) gives the base model's logits", () => {
    const lora = makeRandomLora(c, targets, 2, 4, 11);
    for (const [path, l] of lora) {
      l.b = new Float64Array(l.b.length);
      l.magnitude = normsOf(c, w, lora, path);
    }
    const base = referenceForward(c, w, batch);
    const adapted = referenceForward(c, w, batch, loraReference(c, lora));
    expect(maxAbsDiff(adapted, base)).toBeLessThan(1e-12);
    // A magnitude that differs changes them.
    for (const l of lora.values()) l.magnitude = Float64Array.from(l.magnitude!, (v) => 1.5 * v);
    expect(maxAbsDiff(referenceForward(c, w, batch, loraReference(c, lora)), base)).toBeGreaterThan(1e-3);
  });

  it('without dropout, each adapted layer is g ⊙ (x·W0ᵀ + s·x·Aᵀ·Bᵀ) + b', () => {
    const lora = randomDora(c, w, targets, 21, 0);
    const [path, l] = [...lora][0];
    const spec = linearModules(c).find((m) => m.path === path)!;
    const N = spec.outFeatures;
    const K = spec.inFeatures;
    const W = weightOf(c, w, path);
    const bias = spec.hasBias ? w.get(`${path}.bias`)!.data : null;
    const { g } = doraNormRef({ w: W, a: l.a, b: l.b, m: l.magnitude!, N, K, r: l.r, scale: l.scale });
    let checked = 0;
    const method = loraReference(c, lora);
    const spy: typeof method = {
      attach(tape, opts) {
        const hooks = method.attach(tape, opts);
        return {
          ...hooks,
          linear(layer, x) {
            const y = hooks.linear!(layer, x);
            if (layer.spec.path === path) {
              for (let m = 0; m < x.rows; m++) {
                for (let n = 0; n < N; n++) {
                  let z = 0;
                  for (let k = 0; k < K; k++) {
                    let ba = 0;
                    for (let j = 0; j < l.r; j++) ba += l.b[n * l.r + j] * l.a[j * K + k];
                    z += x.data[m * K + k] * (W[n * K + k] + l.scale * ba);
                  }
                  const want = g[n] * z + (bias ? bias[n] : 0);
                  expect(Math.abs(y.data[m * N + n] - want)).toBeLessThan(1e-12 * Math.max(1, Math.abs(want)));
                  checked++;
                }
              }
            }
            return y;
          },
        };
      },
    };
    referenceForward(c, w, batch, spy);
    expect(checked).toBeGreaterThan(0);
  });

  for (const dropoutP of [0, 0.3]) {
    it(`the gradients of lora_A, lora_B and lora_magnitude_vector match central differences (norm detached, dropout ${dropoutP})`, () => {
      const lora = randomDora(c, w, targets, 31, dropoutP);
      const { loss, grads } = referenceLossAndGrads(c, w, batch, loraReference(c, lora));
      // The loss with each module's norm held at its value here (what the detached gradient differentiates).
      for (const [path, l] of lora) l.doraNorm = normsOf(c, w, lora, path);
      expect(referenceLoss(c, w, batch, loraReference(c, lora))).toBeCloseTo(loss, 12);
      const rng = mulberry32(7);
      const h = 1e-6;
      for (const [path, l] of lora) {
        for (const [suffix, arr] of [['lora_A', l.a], ['lora_B', l.b], ['lora_magnitude_vector', l.magnitude!]] as const) {
          const g = grads.get(`${path}.${suffix}`)!;
          expect(g, `${path}.${suffix}`).toBeDefined();
          expect(Math.max(...g.map(Math.abs)), `${path}.${suffix} gets a gradient`).toBeGreaterThan(1e-8);
          for (let s = 0; s < 3; s++) {
            const i = Math.floor(rng() * arr.length);
            const orig = arr[i];
            arr[i] = orig + h;
            const up = referenceLoss(c, w, batch, loraReference(c, lora));
            arr[i] = orig - h;
            const down = referenceLoss(c, w, batch, loraReference(c, lora));
            arr[i] = orig;
            const fd = (up - down) / (2 * h);
            expect(Math.abs(fd - g[i]), `${path}.${suffix}[${i}]: analytic ${g[i]}, numeric ${fd}`).toBeLessThan(1e-7 + 1e-5 * Math.abs(g[i]));
          }
        }
      }
    });
  }

  it('the detached norm is not the full derivative: with the norm free, the A gradient differs', () => {
    const lora = randomDora(c, w, targets, 41, 0);
    const { grads } = referenceLossAndGrads(c, w, batch, loraReference(c, lora));
    const [path, l] = [...lora][0];
    const h = 1e-6;
    let worst = 0;
    for (let i = 0; i < l.a.length; i++) {
      const orig = l.a[i];
      l.a[i] = orig + h;
      const up = referenceLoss(c, w, batch, loraReference(c, lora));
      l.a[i] = orig - h;
      const down = referenceLoss(c, w, batch, loraReference(c, lora));
      l.a[i] = orig;
      worst = Math.max(worst, Math.abs((up - down) / (2 * h) - grads.get(`${path}.lora_A`)![i]));
    }
    expect(worst).toBeGreaterThan(1e-6);
  });
});

describe.each(CONFIGS)('DoRA export and merge, %s', (_name, c, targets) => {
  it('export → import is exact, and the merged weights give the adapted logits', () => {
    const w = makeRandomHostWeights(c, 5);
    const config = makeLoraConfig({ use_dora: true, r: 2, lora_alpha: 4, target_modules: targets }, c, { nameOrPath: 'tiny' });
    const resolved = resolveLoraTargets(config, c);
    const lora = randomDora(c, w, targets, 51, 0);
    expect([...lora.keys()].sort()).toEqual(resolved.map((t) => t.path).sort());
    // The f32 values the files hold, so the reference sees what the merge reads.
    for (const l of lora.values()) for (const k of ['a', 'b', 'magnitude'] as const) l[k] = Float32Array.from(l[k]!);
    const files = exportLoraAdapter({
      config,
      weights: new Map([...lora].map(([p, l]) => [p, { a: l.a as Float32Array, b: l.b as Float32Array }])),
      magnitudes: new Map([...lora].map(([p, l]) => [p, l.magnitude as Float32Array])),
      model: c,
      targets: resolved,
    });
    const back = importLoraAdapter(files, c);
    expect(back.config.use_dora).toBe(true);
    for (const [p, l] of lora) expect(back.magnitudes.get(p)).toEqual(l.magnitude);
    const merged = mergeLora(files, c, w).weights;
    const adapted = referenceForward(c, w, batch, loraReference(c, lora));
    const base = referenceForward(c, w, batch);
    const fromMerged = referenceForward(c, merged, batch);
    expect(maxAbsDiff(fromMerged, adapted)).toBeLessThan(1e-5);
    expect(maxAbsDiff(adapted, base)).toBeGreaterThan(1e-2);
  });
});
