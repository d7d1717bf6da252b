/**
 * IA³ without a GPU, on the float64 reference and PEFT's files:
 * - the gradient of every ia3_l (output-scaled (out, 1) and input-scaled (1, in)) against central differences;
 * - vectors of ones change nothing (PEFT's init is the identity);
 * - the merge (W scaled per row or per column, the bias only for output-scaled modules; GPT-2's Conv1D transposed)
 *   gives the adapted model's logits with no adapter;
 * - PEFT's config (peft_type "IA3", its fields and defaults per architecture, feedforward_modules a subset of
 *   target_modules, refused naming the field) and files (keys base_model.model.<module>.ia3_l, shapes (out, 1) and
 *   (1, in)); export → import gives the same vectors, and a misshapen tensor is refused naming its key.
 */
import { describe, expect, it } from 'vitest';
import { mergeIa3 } from '../src/methods/ia3/merge';
import { ia3Reference, type ReferenceIa3 } from '../src/methods/ia3/reference';
import { parseModelConfig, type ModelConfig } from '../src/model/config';
import { makeRandomHostWeights } from '../src/model/reference/random-weights';
import { referenceForward, referenceLoss, referenceLossAndGrads } from '../src/model/reference/reference-model';
import { parseSafetensors, writeSafetensors } from '../src/model-io/safetensors';
import { makeIA3Config, resolveIA3Targets, ia3VectorShape } from '../src/peft/ia3-config';
import { exportIa3Adapter, importIa3Adapter } from '../src/peft/ia3-files';
import { mulberry32, randomNormal } from '../src/util/random';

const CONFIGS: [string, ModelConfig][] = [
  ['gpt2', parseModelConfig({ model_type: 'gpt2', vocab_size: 30, n_embd: 8, n_head: 2, n_layer: 2, n_positions: 16, n_inner: 16 })],
  ['llama', parseModelConfig({ model_type: 'llama', vocab_size: 30, hidden_size: 8, num_attention_heads: 4, num_key_value_heads: 2, num_hidden_layers: 2, intermediate_size: 12, max_position_embeddings: 16 })],
  ['qwen2', parseModelConfig({ model_type: 'qwen2', vocab_size: 30, hidden_size: 8, num_attention_heads: 2, num_key_value_heads: 1, num_hidden_layers: 2, intermediate_size: 12, tie_word_embeddings: true })],
];

const BATCH = {
  inputIds: [[4, 11, 29, 8], [2, 9, 1, 0]],
  attentionMask: [[1, 1, 1, 1], [1, 1, 1, 0]],
  labels: [[4, 11, 29, 8], [2, 9, 1, -100]],
};

/** Random vectors around 1 on the config's targets (PEFT's defaults unless given). */
function randomIa3(c: ModelConfig, seed: number, options: Record<string, unknown> = {}): { ia3: ReferenceIa3; vectors: Map<string, Float32Array> } {
  const config = makeIA3Config(options, c, { nameOrPath: 'tiny' });
  const ia3: ReferenceIa3 = new Map();
  const vectors = new Map<string, Float32Array>();
  resolveIA3Targets(config, c).forEach((t, i) => {
    const [rows, cols] = ia3VectorShape(t);
    const l = Float32Array.from(randomNormal(rows * cols, seed + i, 0.3), (x) => 1 + x);
    vectors.set(t.path, l);
    ia3.set(t.path, { feedforward: t.feedforward, l });
  });
  return { ia3, vectors };
}

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

describe.each(CONFIGS)('%s', (kind, c) => {
  const w = makeRandomHostWeights(c, 5);

  it('PEFT\'s default targets, with the feed-forward ones scaling their input', () => {
    const config = makeIA3Config({}, c, { nameOrPath: 'tiny' });
    const targets = resolveIA3Targets(config, c);
    const short = (p: string) => p.split('.').slice(-2).join('.');
    if (kind === 'gpt2') {
      expect(config.target_modules).toEqual(['c_attn', 'mlp.c_proj']);
      expect(config.feedforward_modules).toEqual(['mlp.c_proj']);
      expect(config.fan_in_fan_out).toBe(true);
      expect(targets.map((t) => [short(t.path), t.feedforward])).toEqual([['attn.c_attn', false], ['mlp.c_proj', true], ['attn.c_attn', false], ['mlp.c_proj', true]]);
    } else {
      expect(config.target_modules).toEqual(['k_proj', 'v_proj', 'down_proj']);
      expect(config.feedforward_modules).toEqual(['down_proj']);
      expect(targets.filter((t) => t.feedforward).map((t) => t.shortName)).toEqual(['down_proj', 'down_proj']);
      expect(targets.length).toBe(6);
    }
  });

  it('vectors of ones change nothing', () => {
    const { ia3 } = randomIa3(c, 1);
    for (const m of ia3.values()) m.l = new Float32Array(m.l.length).fill(1);
    expect(maxAbsDiff(referenceForward(c, w, BATCH, ia3Reference(c, ia3)), referenceForward(c, w, BATCH))).toBeLessThan(1e-12);
  });

  it('the gradient of every ia3_l (input- and output-scaled) matches central differences', () => {
    const { ia3 } = randomIa3(c, 10);
    const { loss, grads } = referenceLossAndGrads(c, w, BATCH, ia3Reference(c, ia3));
    expect(loss).toBeCloseTo(referenceLoss(c, w, BATCH, ia3Reference(c, ia3)), 12);
    expect([...grads.keys()].sort()).toEqual([...ia3.keys()].map((p) => `${p}.ia3_l`).sort());
    const rng = mulberry32(3);
    const h = 1e-3;
    for (const [path, m] of ia3) {
      const g = grads.get(`${path}.ia3_l`)!;
      expect(g.length).toBe(m.l.length);
      const arr = m.l as Float32Array;
      for (let s = 0; s < 3; s++) {
        const i = Math.floor(rng() * arr.length);
        const orig = arr[i];
        const at = (x: number) => {
          arr[i] = x;
          return referenceLoss(c, w, BATCH, ia3Reference(c, ia3));
        };
        const up = Math.fround(orig + h);
        const down = Math.fround(orig - h);
        const fd = (at(up) - at(down)) / (up - down);
        arr[i] = orig;
        expect(Math.abs(fd - g[i]), `${path}.ia3_l[${i}] (${m.feedforward ? 'input' : 'output'}): analytic ${g[i]}, numeric ${fd}`).toBeLessThan(1e-6 + 1e-4 * Math.abs(g[i]));
      }
    }
  });

  it('merging scales W per row or column (and the bias of output-scaled layers) and gives the adapted logits', () => {
    // Every linear layer, some input-scaled, so that both kinds meet biases (GPT-2, Qwen2) and both layouts.
    const options = kind === 'gpt2'
      ? { target_modules: ['c_attn', 'attn.c_proj', 'c_fc', 'mlp.c_proj'], feedforward_modules: ['c_fc', 'mlp.c_proj'] }
      : { target_modules: ['q_proj', 'k_proj', 'v_proj', 'o_proj', 'gate_proj', 'up_proj', 'down_proj'], feedforward_modules: ['down_proj', 'k_proj'] };
    const { ia3, vectors } = randomIa3(c, 20, options);
    const config = makeIA3Config(options, c, { nameOrPath: 'tiny' });
    const files = exportIa3Adapter({ config, vectors, model: c });
    const merged = mergeIa3(files, c, w);
    const d = maxAbsDiff(referenceForward(c, merged.weights, BATCH), referenceForward(c, w, BATCH, ia3Reference(c, ia3)));
    expect(d).toBeLessThan(1e-5);
    // A merged layer against the adapted forward: an output-scaled one scales the bias too, an input-scaled one does not.
    const some = [...resolveIA3Targets(config, c)].find((t) => t.hasBias && !t.feedforward);
    if (some) {
      const b = w.get(`${some.path}.bias`)!.data;
      const l = vectors.get(some.path)!;
      expect(Array.from(merged.weights.get(`${some.path}.bias`)!.data)).toEqual(Array.from(b, (x, n) => Math.fround(x * l[n])));
    }
    const ff = resolveIA3Targets(config, c).find((t) => t.feedforward && t.hasBias);
    if (ff) expect(merged.weights.get(`${ff.path}.bias`)).toBe(w.get(`${ff.path}.bias`));
  });

  it("writes PEFT's files and reads them back exactly", () => {
    const { vectors } = randomIa3(c, 30);
    const config = makeIA3Config({}, c, { nameOrPath: 'org/tiny' });
    const files = exportIa3Adapter({ config, vectors, model: c });
    const json = JSON.parse(new TextDecoder().decode(files.get('adapter_config.json')!));
    expect(Object.keys(json)).toEqual([
      'auto_mapping', 'base_model_name_or_path', 'exclude_modules', 'fan_in_fan_out', 'feedforward_modules', 'inference_mode',
      'init_ia3_weights', 'modules_to_save', 'peft_type', 'peft_version', 'revision', 'target_modules', 'task_type',
    ]);
    expect(json).toMatchObject({ peft_type: 'IA3', task_type: 'CAUSAL_LM', inference_mode: true, init_ia3_weights: true, modules_to_save: null, base_model_name_or_path: 'org/tiny' });
    const st = parseSafetensors(files.get('adapter_model.safetensors')!, 'adapter_model.safetensors');
    expect(st.metadata).toEqual({ format: 'pt' });
    for (const t of resolveIA3Targets(config, c)) {
      expect(st.tensors.get(`base_model.model.${t.path}.ia3_l`)?.shape).toEqual(t.feedforward ? [1, t.inFeatures] : [t.outFeatures, 1]);
    }
    expect(st.tensors.size).toBe(vectors.size);
    const back = importIa3Adapter(files, c);
    for (const [p, l] of vectors) expect(Array.from(back.vectors.get(p)!)).toEqual(Array.from(l));
    expect(back.config.feedforward_modules).toEqual(config.feedforward_modules);

    // A vector saved in the other orientation is refused, naming its key.
    const [path, l] = [...vectors][0];
    const t = resolveIA3Targets(config, c).find((x) => x.path === path)!;
    const bad = new Map(files);
    const tensors = [...vectors].map(([p, v]) => {
      const shape = ia3VectorShape(resolveIA3Targets(config, c).find((x) => x.path === p)!);
      return { name: `base_model.model.${p}.ia3_l`, dtype: 'F32' as const, shape: p === path ? [shape[1], shape[0]] : shape, data: v };
    });
    bad.set('adapter_model.safetensors', writeSafetensors(tensors, { format: 'pt' }));
    expect(() => importIa3Adapter(bad, c)).toThrow(`base_model.model.${path}.ia3_l" has shape [${ia3VectorShape(t).reverse().join(', ')}]`);
    expect(l.length).toBeGreaterThan(0);
  });
});

describe('IA3Config', () => {
  const c = CONFIGS[1][1];
  it('refuses feedforward_modules that are not a subset of target_modules, naming the field', () => {
    expect(() => makeIA3Config({ target_modules: ['k_proj', 'v_proj'], feedforward_modules: ['down_proj'] }, c, { nameOrPath: 'x' })).toThrow(
      /feedforward_modules = \["down_proj"\] is invalid; it must be a subset of target_modules/,
    );
  });
  it('takes feedforward_modules = [] as PEFT does (no input-scaled module), but refuses an empty target_modules', () => {
    const targets = resolveIA3Targets(makeIA3Config({ target_modules: ['k_proj', 'v_proj'], feedforward_modules: [] }, c, { nameOrPath: 'x' }), c);
    expect(targets.map((t) => t.shortName)).toEqual(['k_proj', 'v_proj', 'k_proj', 'v_proj']);
    expect(targets.some((t) => t.feedforward)).toBe(false);
    expect(() => makeIA3Config({ target_modules: [] }, c, { nameOrPath: 'x' })).toThrow(/target_modules = \[\] .*expected a non-empty list/);
  });
  it('matches feedforward_modules as PEFT does: a list by plain suffix, a string by full regex match', () => {
    const byList = resolveIA3Targets(makeIA3Config({ target_modules: ['up_proj', 'down_proj'], feedforward_modules: ['up_proj'] }, c, { nameOrPath: 'x' }), c);
    expect(byList.map((t) => [t.shortName, t.feedforward])).toEqual([['up_proj', true], ['down_proj', false], ['up_proj', true], ['down_proj', false]]);
    const byRegex = resolveIA3Targets(makeIA3Config({ target_modules: ['up_proj', 'down_proj'], feedforward_modules: String.raw`.*\.1\.mlp\.down_proj` }, c, { nameOrPath: 'x' }), c);
    expect(byRegex.filter((t) => t.feedforward).map((t) => t.path)).toEqual(['model.layers.1.mlp.down_proj']);
  });
});
