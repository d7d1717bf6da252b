/**
 * The float64 reference's method hooks against facts that need no second implementation:
 * - virtual tokens whose embeddings are those of real tokens give the logits of those tokens typed in front of
 *   the input (a hard prompt is the soft prompt it starts from; learned positions included);
 * - an attention prefix holding the keys and values that real tokens produce (rotated at their positions) gives
 *   the input's logits as if those tokens came first: the input sits at positions P, P + 1, …;
 * - a sublayer hook that returns its input changes nothing;
 * and the gradients of every hook's parameters against central differences.
 */
import { describe, expect, it } from 'vitest';
import { ropeRef } from '../src/kernels/reference/rope';
import { architectureOf } from '../src/model/architectures/index';
import { parseModelConfig, type ModelConfig } from '../src/model/config';
import type { ReferenceMethod } from '../src/model/reference/method-hooks';
import { makeRandomHostWeights } from '../src/model/reference/random-weights';
import { referenceForward, referenceLoss, referenceLossAndGrads } from '../src/model/reference/reference-model';
import { sliceCols } from '../src/model/reference/tape';
import type { HostWeights } from '../src/model/weight-names';
import { mulberry32 } from '../src/util/random';
import { randomToyValues, referenceToyMethod } from './helpers/toy-methods';

const CONFIGS: [string, ModelConfig][] = [
  ['gpt2', parseModelConfig({ model_type: 'gpt2', vocab_size: 30, n_embd: 8, n_head: 2, n_layer: 2, n_positions: 16, n_inner: 16 })],
  ['llama (GQA)', parseModelConfig({ model_type: 'llama', vocab_size: 30, hidden_size: 8, num_attention_heads: 4, num_key_value_heads: 2, num_hidden_layers: 2, intermediate_size: 12, max_position_embeddings: 16 })],
  ['qwen2', parseModelConfig({ model_type: 'qwen2', vocab_size: 30, hidden_size: 8, num_attention_heads: 2, num_key_value_heads: 1, num_hidden_layers: 2, intermediate_size: 12, tie_word_embeddings: true })],
];

const HARD_PROMPT = [7, 21, 3];
const INPUT = [4, 11, 29, 8];

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

/** The keys and values every layer computes for `ids` alone (rotated at positions 0, 1, … where the family rotates). */
function keysValuesOf(c: ModelConfig, w: HostWeights, ids: number[]): { k: Float32Array; v: Float32Array }[] {
  const arch = architectureOf(c);
  const qDim = c.numHeads * c.headDim;
  const kvDim = c.numKvHeads * c.headDim;
  const out: { k: Float32Array; v: Float32Array }[] = Array.from({ length: c.numLayers }, () => ({ k: new Float32Array(), v: new Float32Array() }));
  const spy: ReferenceMethod = {
    attach: (tape) => ({
      parameters: new Map(),
      linear(layer, x) {
        const y = layer.forward(x);
        const l = out[layer.spec.layer];
        if (layer.spec.role === 'qkv') {
          l.k = Float32Array.from(sliceCols(tape, y, qDim, kvDim).data);
          l.v = Float32Array.from(sliceCols(tape, y, qDim + kvDim, kvDim).data);
        }
        if (layer.spec.role === 'k') l.k = Float32Array.from(y.data);
        if (layer.spec.role === 'v') l.v = Float32Array.from(y.data);
        return y;
      },
    }),
  };
  referenceForward(c, w, { inputIds: [ids] }, spy);
  if (arch.positions === 'rope') {
    const positions = ids.map((_, i) => i);
    for (const l of out) l.k = Float32Array.from(ropeRef({ x: l.k, M: ids.length, heads: c.numKvHeads, headDim: c.headDim, positions, theta: c.ropeTheta }));
  }
  return out;
}

describe.each(CONFIGS)('%s', (_name, c) => {
  const w = makeRandomHostWeights(c, 5);
  const V = c.vocabSize;
  const d = c.hiddenSize;

  it('virtual tokens with the embeddings of a hard prompt give the logits of the prompt typed in front', () => {
    const table = w.get(architectureOf(c).names.tokenEmbedding)!.data;
    const virtual = new Float32Array(HARD_PROMPT.length * d);
    HARD_PROMPT.forEach((id, j) => virtual.set(table.subarray(id * d, (id + 1) * d), j * d));
    const method = referenceToyMethod(c, { virtual, prefix: null, shifts: null });
    const soft = referenceForward(c, w, { inputIds: [INPUT] }, method);
    const hard = referenceForward(c, w, { inputIds: [[...HARD_PROMPT, ...INPUT]] });
    expect(soft.length).toBe((HARD_PROMPT.length + INPUT.length) * V);
    expect(maxAbsDiff(soft, hard)).toBeLessThan(1e-12);
  });

  it("an attention prefix of real tokens' keys and values gives the input's logits as if those tokens came first", () => {
    const kv = keysValuesOf(c, w, HARD_PROMPT);
    const method = referenceToyMethod(c, { virtual: null, prefix: kv, shifts: null });
    const withPrefix = referenceForward(c, w, { inputIds: [INPUT] }, method);
    const typed = referenceForward(c, w, { inputIds: [[...HARD_PROMPT, ...INPUT]] });
    // Only the input's positions have logits: the prefix is keys and values, not tokens. Keys and values pass
    // through f32 on their way into the prefix, hence the tolerance.
    expect(withPrefix.length).toBe(INPUT.length * V);
    expect(maxAbsDiff(withPrefix, typed.subarray(HARD_PROMPT.length * V))).toBeLessThan(1e-5);
  });

  it('a sublayer hook that returns its input changes nothing', () => {
    const identity: ReferenceMethod = { attach: () => ({ parameters: new Map(), sublayerOutput: (_l, _s, out) => out }) };
    const batch = { inputIds: [INPUT, [2, 9, 1, 0]], attentionMask: [[1, 1, 1, 1], [1, 1, 1, 0]] };
    expect(maxAbsDiff(referenceForward(c, w, batch, identity), referenceForward(c, w, batch))).toBe(0);
  });

  it('the gradients of virtual tokens, prefix keys and values and sublayer shifts match central differences', () => {
    const values = randomToyValues(c, { virtual: 2, prefix: 2, shifts: true }, 31);
    const batch = {
      inputIds: [INPUT, [2, 9, 1, 0]],
      attentionMask: [[1, 1, 1, 1], [1, 1, 1, 0]],
      labels: [INPUT, [2, 9, 1, -100]],
    };
    const { loss, grads } = referenceLossAndGrads(c, w, batch, referenceToyMethod(c, values));
    expect(loss).toBeCloseTo(referenceLoss(c, w, batch, referenceToyMethod(c, values)), 12);
    const arrays: [string, Float32Array][] = [
      ['virtual', values.virtual!],
      ...values.prefix!.flatMap((p, l): [string, Float32Array][] => [[`prefix.${l}.k`, p.k], [`prefix.${l}.v`, p.v]]),
      ...[...values.shifts!].map(([key, b]): [string, Float32Array] => [`shift.${key}`, b]),
    ];
    expect([...grads.keys()].sort()).toEqual(arrays.map(([n]) => n).sort());
    const rng = mulberry32(3);
    const h = 1e-3;
    for (const [name, arr] of arrays) {
      const g = grads.get(name)!;
      expect(Math.max(...g.map(Math.abs)), `${name} gets a gradient`).toBeGreaterThan(1e-8);
      for (let s = 0; s < 3; s++) {
        const i = Math.floor(rng() * arr.length);
        const orig = arr[i];
        const at = (x: number) => {
          arr[i] = x;
          return referenceLoss(c, w, batch, referenceToyMethod(c, values));
        };
        // f32 parameters: the step is exact in f32, so the quotient uses the values actually set.
        const up = Math.fround(orig + h);
        const down = Math.fround(orig - h);
        const fd = (at(up) - at(down)) / (up - down);
        arr[i] = orig;
        expect(Math.abs(fd - g[i]), `${name}[${i}]: analytic ${g[i]}, numeric ${fd}`).toBeLessThan(1e-6 + 1e-4 * Math.abs(g[i]));
      }
    }
  });
});
