import { describe, expect, it } from 'vitest';
import { parseModelConfig, type ModelConfig } from '../src/model/config';
import { linearModules, type HostWeights } from '../src/model/weight-names';
import { loraReference, makeRandomLora, type ReferenceLora } from '../src/methods/lora/reference';
import { ropeRef } from '../src/kernels/reference/rope';
import { makeRandomHostWeights } from '../src/model/reference/random-weights';
import {
  referenceForward as forwardWith,
  referenceGreedyGenerate as greedyWith,
  referenceLoss as lossWith,
  referenceLossAndGrads,
  type ReferenceBatch,
  type ReferenceLabeledBatch,
} from '../src/model/reference/reference-model';
import { mulberry32 } from '../src/util/random';

const gpt2 = parseModelConfig({ model_type: 'gpt2', vocab_size: 40, n_embd: 16, n_head: 4, n_layer: 2, n_positions: 12, n_inner: 32, eos_token_id: 0 });
const llama = parseModelConfig({
  model_type: 'llama',
  vocab_size: 40,
  hidden_size: 16,
  num_attention_heads: 4,
  num_key_value_heads: 2,
  num_hidden_layers: 2,
  intermediate_size: 24,
  rms_norm_eps: 1e-6,
  max_position_embeddings: 32,
});
const qwen2 = parseModelConfig({
  model_type: 'qwen2',
  vocab_size: 40,
  hidden_size: 16,
  num_attention_heads: 4,
  num_key_value_heads: 2,
  num_hidden_layers: 2,
  intermediate_size: 24,
  rms_norm_eps: 1e-6,
  rope_theta: 1000000,
  tie_word_embeddings: true,
});

const GPT2_TARGETS = ['c_attn', 'attn.c_proj', 'c_fc', 'mlp.c_proj'];
const LLAMA_TARGETS = ['q_proj', 'k_proj', 'v_proj', 'o_proj', 'gate_proj', 'up_proj', 'down_proj'];

/** Two rows of 6; row 1 is right-padded by 2 (pad id 0); ignored labels at padding and at row 0, t = 3. */
const batch: ReferenceLabeledBatch = {
  inputIds: [
    [5, 17, 3, 39, 22, 8],
    [11, 2, 30, 7, 0, 0],
  ],
  attentionMask: [
    [1, 1, 1, 1, 1, 1],
    [1, 1, 1, 1, 0, 0],
  ],
  labels: [
    [5, 17, 3, -100, 22, 8],
    [11, 2, 30, 7, -100, -100],
  ],
};

// The reference with LoRA adapters (or none) attached at its linear-layer hook.
const withLora = (c: ModelConfig, lora?: ReferenceLora) => (lora ? loraReference(c, lora) : undefined);
const referenceForward = (c: ModelConfig, w: HostWeights, b: ReferenceBatch, lora?: ReferenceLora) => forwardWith(c, w, b, withLora(c, lora));
const referenceLoss = (c: ModelConfig, w: HostWeights, b: ReferenceLabeledBatch, lora?: ReferenceLora) => lossWith(c, w, b, withLora(c, lora));
const referenceGreedyGenerate = (c: ModelConfig, w: HostWeights, p: number[], n: number, eos: number[], lora?: ReferenceLora) =>
  greedyWith(c, w, p, n, eos, withLora(c, lora));
function referenceLossAndLoraGrads(c: ModelConfig, w: HostWeights, b: ReferenceLabeledBatch, lora: ReferenceLora) {
  const { loss, grads } = referenceLossAndGrads(c, w, b, loraReference(c, lora));
  const byModule = new Map([...lora.keys()].map((path) => [path, { dA: grads.get(`${path}.lora_A`)!, dB: grads.get(`${path}.lora_B`)! }]));
  return { loss, grads: byModule };
}

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

function cloneWeights(w: HostWeights): HostWeights {
  return new Map([...w].map(([k, v]) => [k, { shape: [...v.shape], data: Float32Array.from(v.data) }]));
}

function checkFiniteDifferences(config: ModelConfig, targets: string[], dropoutP: number, seed: number): void {
  const weights = makeRandomHostWeights(config, seed);
  const lora = makeRandomLora(config, targets, 2, 4, seed + 1, dropoutP);
  const expectedModules = linearModules(config).filter((m) => targets.some((t) => m.path === t || m.path.endsWith(`.${t}`)));
  expect([...lora.keys()]).toEqual(expectedModules.map((m) => m.path));
  const { loss, grads } = referenceLossAndLoraGrads(config, weights, batch, lora);
  expect(Number.isFinite(loss)).toBe(true);
  const h = 1e-5;
  const rng = mulberry32(seed + 2);
  let worst = 0;
  for (const [path, l] of lora) {
    const g = grads.get(path)!;
    expect(g.dA.length).toBe(l.a.length);
    expect(g.dB.length).toBe(l.b.length);
    // The gradient must reach both matrices of every module.
    expect(Math.max(...g.dA.map(Math.abs))).toBeGreaterThan(1e-6);
    expect(Math.max(...g.dB.map(Math.abs))).toBeGreaterThan(1e-6);
    for (const [arr, grad] of [
      [l.a, g.dA],
      [l.b, g.dB],
    ] as const) {
      for (let s = 0; s < 4; s++) {
        const i = Math.floor(rng() * arr.length);
        const orig = arr[i];
        arr[i] = orig + h;
        const lp = referenceLoss(config, weights, batch, lora);
        arr[i] = orig - h;
        const lm = referenceLoss(config, weights, batch, lora);
        arr[i] = orig;
        const fd = (lp - lm) / (2 * h);
        const err = Math.abs(fd - grad[i]);
        worst = Math.max(worst, err / (1e-4 + Math.abs(grad[i])));
        expect(err, `${path} ${arr === l.a ? 'A' : 'B'}[${i}]: analytic ${grad[i]}, numeric ${fd}`).toBeLessThan(1e-8 + 1e-6 * Math.abs(grad[i]));
      }
    }
  }
  expect(worst).toBeLessThan(1e-3);
}

describe('reference model: LoRA gradients against central differences', () => {
  for (const [name, config, targets] of [
    ['gpt2', gpt2, GPT2_TARGETS],
    ['llama (GQA)', llama, LLAMA_TARGETS],
    ['qwen2 (qkv bias, tied)', qwen2, LLAMA_TARGETS],
  ] as const) {
    it(`${name}, dropout 0`, () => checkFiniteDifferences(config, [...targets], 0, 100));
    it(`${name}, dropout 0.2`, () => checkFiniteDifferences(config, [...targets], 0.2, 200));
  }

  it('the loss of referenceLossAndLoraGrads equals referenceLoss', () => {
    for (const [config, targets] of [
      [gpt2, GPT2_TARGETS],
      [llama, LLAMA_TARGETS],
    ] as const) {
      const weights = makeRandomHostWeights(config, 7);
      const lora = makeRandomLora(config, [...targets], 4, 8, 8, 0.2);
      expect(referenceLossAndLoraGrads(config, weights, batch, lora).loss).toBe(referenceLoss(config, weights, batch, lora));
    }
  });
});

describe('reference model: forward facts', () => {
  it('a LoRA with B = 0 gives exactly the logits of no LoRA', () => {
    for (const [config, targets] of [
      [gpt2, GPT2_TARGETS],
      [llama, LLAMA_TARGETS],
    ] as const) {
      const weights = makeRandomHostWeights(config, 3);
      const lora = makeRandomLora(config, [...targets], 2, 4, 4, 0.2);
      for (const l of lora.values()) l.b.fill(0);
      expect(maxAbsDiff(referenceForward(config, weights, batch, lora), referenceForward(config, weights, batch))).toBe(0);
    }
  });

  it('LoRA (nn.Linear layout) equals merging scale·B·A into the frozen weight, Conv1D and Linear', () => {
    for (const [config, target, path] of [
      [gpt2, 'c_attn', 'transformer.h.1.attn.c_attn'],
      [llama, 'k_proj', 'model.layers.0.self_attn.k_proj'],
    ] as const) {
      const weights = makeRandomHostWeights(config, 9);
      const lora = makeRandomLora(config, [target], 3, 6, 10);
      const l = lora.get(path)!;
      const spec = linearModules(config).find((m) => m.path === path)!;
      const merged = cloneWeights(weights);
      const w = merged.get(`${path}.weight`)!.data;
      for (let o = 0; o < spec.outFeatures; o++) {
        for (let k = 0; k < spec.inFeatures; k++) {
          let ba = 0;
          for (let j = 0; j < l.r; j++) ba += l.b[o * l.r + j] * l.a[j * spec.inFeatures + k];
          if (spec.layout === 'conv1d') w[k * spec.outFeatures + o] += l.scale * ba;
          else w[o * spec.inFeatures + k] += l.scale * ba;
        }
      }
      const onlyThis: ReferenceLora = new Map([[path, l]]);
      // The merged weight is rounded to f32, so agreement is to f32 precision.
      expect(maxAbsDiff(referenceForward(config, weights, batch, onlyThis), referenceForward(config, merged, batch))).toBeLessThan(1e-5);
    }
  });

  it('one layer with zeroed attention and MLP outputs gives logits = final_norm(embedding)·Eᵀ', () => {
    const ids = [[3, 9, 27, 1]];
    const T = 4;
    const d = 16;
    const V = 40;
    // GPT-2: h = wte[id] + wpe[t]; LayerNorm ln_f (biased variance); logits against wte.
    {
      const c = { ...gpt2, numLayers: 1 };
      const w = makeRandomHostWeights(c, 21);
      for (const n of ['attn.c_proj.weight', 'attn.c_proj.bias', 'mlp.c_proj.weight', 'mlp.c_proj.bias']) w.get(`transformer.h.0.${n}`)!.data.fill(0);
      const wte = w.get('transformer.wte.weight')!.data;
      const wpe = w.get('transformer.wpe.weight')!.data;
      const g = w.get('transformer.ln_f.weight')!.data;
      const b = w.get('transformer.ln_f.bias')!.data;
      const logits = referenceForward(c, w, { inputIds: ids });
      for (let t = 0; t < T; t++) {
        const x = Array.from({ length: d }, (_, i) => wte[ids[0][t] * d + i] + wpe[t * d + i]);
        const mean = x.reduce((s, v) => s + v, 0) / d;
        const variance = x.reduce((s, v) => s + (v - mean) ** 2, 0) / d;
        const y = x.map((v, i) => ((v - mean) / Math.sqrt(variance + c.normEps)) * g[i] + b[i]);
        for (let v = 0; v < V; v++) {
          const expected = y.reduce((s, yi, i) => s + yi * wte[v * d + i], 0);
          expect(logits[t * V + v]).toBeCloseTo(expected, 12);
        }
      }
    }
    // Llama (untied): h = embed[id]; RMSNorm; logits against lm_head.
    {
      const c = { ...llama, numLayers: 1 };
      const w = makeRandomHostWeights(c, 22);
      for (const n of ['self_attn.o_proj.weight', 'mlp.down_proj.weight']) w.get(`model.layers.0.${n}`)!.data.fill(0);
      const e = w.get('model.embed_tokens.weight')!.data;
      const head = w.get('lm_head.weight')!.data;
      const g = w.get('model.norm.weight')!.data;
      const logits = referenceForward(c, w, { inputIds: ids });
      for (let t = 0; t < T; t++) {
        const x = Array.from({ length: d }, (_, i) => e[ids[0][t] * d + i]);
        const rms = Math.sqrt(x.reduce((s, v) => s + v * v, 0) / d + c.normEps);
        for (let v = 0; v < V; v++) {
          const expected = x.reduce((s, xi, i) => s + (xi / rms) * g[i] * head[v * d + i], 0);
          expect(logits[t * V + v]).toBeCloseTo(expected, 12);
        }
      }
    }
  });

  it('RoPE: identity at position 0; a hand-worked rotation at position 1', () => {
    const x = [1, 2, 3, 4];
    const rot = (pos: number) => ropeRef({ x, M: 1, heads: 1, headDim: 4, positions: [pos], theta: 10000 });
    expect(Array.from(rot(0))).toEqual(x);
    const y1 = rot(1);
    // q·cos + rotate_half(q)·sin, rotate_half([x1, x2]) = [−x2, x1]; pairs (0, 2) at angle 1, (1, 3) at angle 0.01.
    const expected = [1 * Math.cos(1) - 3 * Math.sin(1), 2 * Math.cos(0.01) - 4 * Math.sin(0.01), 3 * Math.cos(1) + 1 * Math.sin(1), 4 * Math.cos(0.01) + 2 * Math.sin(0.01)];
    for (let i = 0; i < 4; i++) expect(y1[i]).toBeCloseTo(expected[i], 14);
  });

  it('GQA: query head h reads kv head ⌊h / (H/KV)⌋ (same logits as full MHA with duplicated k/v heads)', () => {
    const w = makeRandomHostWeights(llama, 31);
    const mha = { ...llama, numKvHeads: 4 };
    const wm = cloneWeights(w);
    const hd = llama.headDim;
    const d = llama.hiddenSize;
    for (let i = 0; i < llama.numLayers; i++) {
      for (const p of ['k_proj', 'v_proj']) {
        const name = `model.layers.${i}.self_attn.${p}.weight`;
        const src = w.get(name)!.data; // [2·hd, d]
        const dst = new Float32Array(4 * hd * d);
        for (let h = 0; h < 4; h++) dst.set(src.subarray(Math.floor(h / 2) * hd * d, (Math.floor(h / 2) + 1) * hd * d), h * hd * d);
        wm.set(name, { shape: [4 * hd, d], data: dst });
      }
    }
    expect(maxAbsDiff(referenceForward(llama, w, batch), referenceForward(mha, wm, batch))).toBeLessThan(1e-12);
  });

  it('causality: changing a later token leaves earlier logits unchanged', () => {
    for (const config of [gpt2, llama, qwen2]) {
      const w = makeRandomHostWeights(config, 41);
      const lora = makeRandomLora(config, config.architecture === 'gpt2' ? GPT2_TARGETS : LLAMA_TARGETS, 2, 4, 42, 0.2);
      const a = referenceForward(config, w, { inputIds: [[1, 2, 3, 4, 5]] }, lora);
      const b = referenceForward(config, w, { inputIds: [[1, 2, 3, 9, 5]] }, lora);
      const V = config.vocabSize;
      expect(maxAbsDiff(a.subarray(0, 3 * V), b.subarray(0, 3 * V))).toBe(0);
      expect(maxAbsDiff(a.subarray(3 * V), b.subarray(3 * V))).toBeGreaterThan(1e-6);
    }
  });

  it('padding: a masked token changes neither other rows nor other positions of its row', () => {
    for (const config of [gpt2, llama]) {
      const w = makeRandomHostWeights(config, 51);
      const V = config.vocabSize;
      const T = 6;
      const base = {
        inputIds: [
          [4, 8, 15, 16, 23, 35],
          [1, 2, 3, 4, 5, 6],
        ],
        attentionMask: [
          [1, 1, 1, 1, 1, 1],
          [1, 1, 0, 1, 0, 0],
        ],
      };
      const changed = { ...base, inputIds: [base.inputIds[0], [1, 2, 33, 4, 38, 39]] };
      const a = referenceForward(config, w, base);
      const b = referenceForward(config, w, changed);
      expect(maxAbsDiff(a.subarray(0, T * V), b.subarray(0, T * V))).toBe(0);
      // Row 1: positions 0, 1, 3 do not see the masked keys 2, 4, 5 (their own residual stream aside).
      for (const t of [0, 1, 3]) {
        expect(maxAbsDiff(a.subarray((T + t) * V, (T + t + 1) * V), b.subarray((T + t) * V, (T + t + 1) * V))).toBeLessThan(1e-13);
      }
    }
  });

  it('padding: a right-padded row has the logits of the same row alone', () => {
    for (const config of [gpt2, llama, qwen2]) {
      const w = makeRandomHostWeights(config, 61);
      const V = config.vocabSize;
      const padded = referenceForward(config, w, batch);
      const alone = referenceForward(config, w, { inputIds: [[11, 2, 30, 7]] });
      expect(maxAbsDiff(padded.subarray(6 * V, 10 * V), alone)).toBeLessThan(1e-13);
    }
  });

  it('a query with every key masked gives a finite output (zero attention)', () => {
    const w = makeRandomHostWeights(llama, 71);
    const logits = referenceForward(llama, w, { inputIds: [[3, 4, 5]], attentionMask: [[0, 1, 1]] });
    expect(logits.every(Number.isFinite)).toBe(true);
  });

  it('the loss is the shifted mean cross-entropy over counted labels', () => {
    const w = makeRandomHostWeights(qwen2, 81);
    const lora = makeRandomLora(qwen2, ['q_proj', 'down_proj'], 2, 4, 82);
    const logits = referenceForward(qwen2, w, batch, lora);
    const V = qwen2.vocabSize;
    let sum = 0;
    let n = 0;
    for (let b = 0; b < 2; b++) {
      for (let t = 0; t < 5; t++) {
        const y = batch.labels[b][t + 1];
        if (y === -100) continue;
        const row = Array.from(logits.subarray((b * 6 + t) * V, (b * 6 + t + 1) * V));
        const lse = Math.log(row.reduce((s, v) => s + Math.exp(v), 0));
        sum += lse - row[y];
        n++;
      }
    }
    expect(n).toBe(7);
    expect(referenceLoss(qwen2, w, batch, lora)).toBeCloseTo(sum / n, 12);
  });

  it('rejects bad inputs with clear errors', () => {
    const w = makeRandomHostWeights(gpt2, 1);
    expect(() => referenceForward(gpt2, w, { inputIds: [[1, 2], [3]] })).toThrow(/row 1 has 1 entries, expected T = 2/);
    expect(() => referenceForward(gpt2, w, { inputIds: [[1, 40]] })).toThrow(/inputIds\[0\]\[1\] = 40/);
    expect(() => referenceForward(gpt2, w, { inputIds: [Array(13).fill(1)] })).toThrow(/sequence length 13 .* exceeds the model's 12 positions/);
    expect(() => referenceLoss(gpt2, w, { inputIds: [[1, 2]], labels: [[1, -100]] })).toThrow(/no token is counted/);
    expect(() => referenceForward(gpt2, w, { inputIds: [[1]] }, new Map([['transformer.h.0.attn.q_proj', makeRandomLora(gpt2, ['c_attn'], 2, 2, 1).get('transformer.h.0.attn.c_attn')!]]))).toThrow(
      /not a linear layer/,
    );
    const missing = cloneWeights(w);
    missing.delete('transformer.h.1.mlp.c_fc.bias');
    expect(() => referenceForward(gpt2, missing, { inputIds: [[1]] })).toThrow(/"transformer.h.1.mlp.c_fc.bias" is missing/);
  });
});

describe('reference greedy generation', () => {
  for (const config of [gpt2, llama]) {
    it(`${config.modelType}: respects maxNewTokens, matches the argmax of the forward, stops at eos`, () => {
      const w = makeRandomHostWeights(config, 91);
      const lora = makeRandomLora(config, config.architecture === 'gpt2' ? GPT2_TARGETS : LLAMA_TARGETS, 2, 4, 92);
      const prompt = [7, 3, 19];
      const free = referenceGreedyGenerate(config, w, prompt, 5, [], lora);
      expect(free).toHaveLength(5);
      expect(referenceGreedyGenerate(config, w, prompt, 0, [], lora)).toEqual([]);
      expect(referenceGreedyGenerate(config, w, prompt, 2, [], lora)).toEqual(free.slice(0, 2));
      // Each token is the argmax of the full forward over what came before.
      const seq = [...prompt];
      for (const tok of free) {
        const logits = referenceForward(config, w, { inputIds: [seq] }, lora);
        const last = Array.from(logits.subarray((seq.length - 1) * config.vocabSize));
        expect(tok).toBe(last.indexOf(Math.max(...last)));
        seq.push(tok);
      }
      // Stopping at eos: the eos token is returned, nothing after it.
      const eos = free[2];
      const stop = free.indexOf(eos);
      expect(referenceGreedyGenerate(config, w, prompt, 5, [39, eos], lora)).toEqual(free.slice(0, stop + 1));
    });
  }
});
