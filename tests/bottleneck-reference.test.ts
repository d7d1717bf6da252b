/**
 * Bottleneck adapters without a GPU, on the float64 reference and AdapterHub's files:
 * - the gradient of every adapter tensor (down/up weights and biases, after the attention and the MLP) against
 *   central differences, on GPT-2, Llama and Qwen2;
 * - the initialisation (up-projection zero) leaves the model's logits unchanged;
 * - the options: a bottleneck size of 0 or larger than the hidden size is refused naming reduction_factor;
 * - the files: AdapterHub's adapter_config.json and adapter.safetensors key names and shapes, export → import
 *   gives the same tensors, the folder is recognised without a peft_type, a misshapen tensor or a pickle-only
 *   folder is refused, and merging is refused with a reason.
 */
import { describe, expect, it } from 'vitest';
import { initBottleneck, initsFromWeights } from '../src/methods/bottleneck/adapter';
import type { BottleneckInit } from '../src/methods/bottleneck/gpu';
import { bottleneckReference } from '../src/methods/bottleneck/reference';
import { methodById, methodOfFiles, planMethod } from '../src/methods/registry';
import { parseModelConfig, type ModelConfig } from '../src/model/config';
import { makeRandomHostWeights } from '../src/model/reference/random-weights';
import { referenceForward, referenceLoss, referenceLossAndGrads } from '../src/model/reference/reference-model';
import { parseSafetensors, writeSafetensors } from '../src/model-io/safetensors';
import type { BottleneckNonLinearity } from '../src/options/bottleneck-fields';
import {
  ADAPTERHUB_WEIGHTS_FILE,
  bottleneckSize,
  exportBottleneckAdapter,
  importBottleneckAdapter,
  makeBottleneckConfig,
} from '../src/peft/bottleneck-files';
import { mulberry32 } from '../src/util/random';
import { randomBottleneck } from './helpers/random-bottleneck';

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

function tensorsOf(inits: BottleneckInit[]): Map<string, Float32Array> {
  const out = new Map<string, Float32Array>();
  for (const i of inits) {
    out.set(`${i.target.prefix}.adapter_down.0.weight`, i.downWeight);
    out.set(`${i.target.prefix}.adapter_down.0.bias`, i.downBias);
    out.set(`${i.target.prefix}.adapter_up.weight`, i.upWeight);
    out.set(`${i.target.prefix}.adapter_up.bias`, i.upBias);
  }
  return out;
}

describe.each(CONFIGS)('%s', (kind, c) => {
  const w = makeRandomHostWeights(c, 5);

  it.each([['houlsby', 'tanh'], ['pfeiffer', 'relu'], ['houlsby', 'swish'], ['pfeiffer', 'gelu']] as const)('%s/%s: every tensor\'s gradient matches central differences', (preset, act: BottleneckNonLinearity) => {
    const config = makeBottleneckConfig({ config: preset, reduction_factor: 4, non_linearity: act }, c, 'tiny');
    const inits = randomBottleneck(config, c, 20);
    const method = () => bottleneckReference(c.hiddenSize, 2, act, inits);
    const { loss, grads } = referenceLossAndGrads(c, w, BATCH, method());
    expect(loss).toBeCloseTo(referenceLoss(c, w, BATCH, method()), 12);
    const tensors = tensorsOf(inits);
    expect([...grads.keys()].sort()).toEqual([...tensors.keys()].sort());
    expect(tensors.size).toBe(c.numLayers * (preset === 'houlsby' ? 2 : 1) * 4);
    const rng = mulberry32(3);
    const h = 1e-3;
    for (const [name, arr] of tensors) {
      const g = grads.get(name)!;
      expect(g.length, name).toBe(arr.length);
      expect(Math.max(...Array.from(g, Math.abs)), name).toBeGreaterThan(1e-9);
      for (let s = 0; s < 2; s++) {
        const i = Math.floor(rng() * arr.length);
        const orig = arr[i];
        const at = (x: number) => {
          arr[i] = x;
          return referenceLoss(c, w, BATCH, method());
        };
        const up = Math.fround(orig + h);
        const down = Math.fround(orig - h);
        const fd = (at(up) - at(down)) / (up - down);
        arr[i] = orig;
        // ReLU's kink can sit inside [down, up]; a looser bound there.
        const tol = act === 'relu' ? 1e-4 + 1e-2 * Math.abs(g[i]) : 1e-6 + 1e-4 * Math.abs(g[i]);
        expect(Math.abs(fd - g[i]), `${kind} ${name}[${i}]: analytic ${g[i]}, numeric ${fd}`).toBeLessThan(tol);
      }
    }
  });

  it('starts as the identity: the up-projection is zero, the down-projection random', () => {
    const config = makeBottleneckConfig({ config: 'houlsby', reduction_factor: 4 }, c, 'tiny');
    const inits = initBottleneck(config, c, 7);
    for (const i of inits) {
      expect(i.upWeight.every((x) => x === 0) && i.upBias.every((x) => x === 0) && i.downBias.every((x) => x === 0)).toBe(true);
      expect(i.downWeight.some((x) => x !== 0)).toBe(true);
    }
    expect(initBottleneck(config, c, 7)[0].downWeight).toEqual(inits[0].downWeight);
    expect(initBottleneck(config, c, 8)[0].downWeight).not.toEqual(inits[0].downWeight);
    const adapted = referenceForward(c, w, BATCH, bottleneckReference(c.hiddenSize, 2, 'relu', inits));
    expect(Array.from(adapted)).toEqual(Array.from(referenceForward(c, w, BATCH)));
  });

  it('AdapterHub\'s files: config, key names and shapes; export → import exact; recognised without a peft_type', () => {
    const config = makeBottleneckConfig({ config: 'houlsby', reduction_factor: 4, non_linearity: 'tanh' }, c, 'tiny-base');
    const inits = randomBottleneck(config, c, 30);
    const files = exportBottleneckAdapter({ config, weights: tensorsOf(inits), model: c });
    expect([...files.keys()].sort()).toEqual(['adapter.safetensors', 'adapter_config.json']);
    const json = JSON.parse(new TextDecoder().decode(files.get('adapter_config.json')!));
    expect(json).toMatchObject({
      model_type: kind, hidden_size: 8, name: 'bottleneck', model_name: 'tiny-base', version: 'adapters.1.2.0',
      model_class: { gpt2: 'GPT2LMHeadModel', llama: 'LlamaForCausalLM', qwen2: 'Qwen2ForCausalLM' }[kind],
      config: { architecture: 'bottleneck', mh_adapter: true, output_adapter: true, reduction_factor: 4, non_linearity: 'tanh', original_ln_before: false, original_ln_after: true, residual_before_ln: true, scaling: 1 },
    });
    expect(json.peft_type).toBeUndefined();
    const layer = kind === 'gpt2' ? 'transformer.h' : 'model.layers';
    const st = parseSafetensors(files.get(ADAPTERHUB_WEIGHTS_FILE)!, 'adapter.safetensors');
    const shapes = Object.fromEntries([...st.tensors].map(([k, t]) => [k, t.shape]));
    for (let l = 0; l < c.numLayers; l++) {
      for (const place of ['attention_adapters', 'output_adapters']) {
        const p = `${layer}.${l}.${place}.adapters.bottleneck`;
        expect(shapes[`${p}.adapter_down.0.weight`]).toEqual([2, 8]);
        expect(shapes[`${p}.adapter_down.0.bias`]).toEqual([2]);
        expect(shapes[`${p}.adapter_up.weight`]).toEqual([8, 2]);
        expect(shapes[`${p}.adapter_up.bias`]).toEqual([8]);
      }
    }
    expect(Object.keys(shapes)).toHaveLength(c.numLayers * 8);
    expect(methodOfFiles(files).id).toBe('bottleneck');
    const back = importBottleneckAdapter(files, c);
    expect(back.config).toEqual(config);
    expect(initsFromWeights(back.config, c, back.weights)).toEqual(inits);
    // The library looks the activation up lower-cased: "Swish" is swish.
    const swish = new Map(files).set('adapter_config.json', new TextEncoder().encode(JSON.stringify({ ...json, config: { ...json.config, non_linearity: 'Swish' } })));
    expect(importBottleneckAdapter(swish, c).config.non_linearity).toBe('swish');

    // Another adapter name (AdapterHub renames on load_as) reads the same.
    const renamed = new Map(files);
    const tensors = [...st.tensors.keys()].map((k) => ({ name: k.replace('.bottleneck.', '.my_task.'), dtype: 'F32' as const, shape: st.tensors.get(k)!.shape, data: tensorsOf(inits).get(k)! }));
    renamed.set(ADAPTERHUB_WEIGHTS_FILE, writeSafetensors(tensors, { format: 'pt' }));
    renamed.set('adapter_config.json', new TextEncoder().encode(JSON.stringify({ ...json, name: 'my_task' })));
    expect(initsFromWeights(config, c, importBottleneckAdapter(renamed, c).weights)).toEqual(inits);
  });
});

describe('options and refusals', () => {
  const c = CONFIGS[1][1];
  it('a bottleneck size of 0 or larger than the hidden size is refused naming reduction_factor', () => {
    expect(bottleneckSize(makeBottleneckConfig({ reduction_factor: 3 }, c, 'x'), c)).toBe(2); // 8 // 3
    expect(() => makeBottleneckConfig({ reduction_factor: 16 }, c, 'x')).toThrow(/reduction_factor = 16 gives a bottleneck size of 0 \(hidden_size 8 \/\/ 16\)/);
    expect(() => makeBottleneckConfig({ reduction_factor: 0.5 }, c, 'x')).toThrow(/reduction_factor = 0.5 gives a bottleneck size of 16, larger than hidden_size 8/);
    expect(() => makeBottleneckConfig({ non_linearity: 'leakyrelu' }, c, 'x')).toThrow(/non_linearity = "leakyrelu" is not supported; expected one of "relu", "tanh", "swish", "gelu", "gelu_new"/);
    const m = methodById('bottleneck');
    expect(() => planMethod(m, { reduction_factor: 0 }, c, { nameOrPath: 'x' })).toThrow(/reduction_factor = 0: expected a number > 0/);
    expect(() => planMethod(m, { reduction_factor: 16 }, c, { nameOrPath: 'x' })).toThrow(/reduction_factor/);
    const plan = planMethod(m, { reduction_factor: 4, config: 'houlsby' }, c, { nameOrPath: 'x' });
    expect(plan.counts.trainable).toBe(2 * 2 * (2 * 8 * 2 + 2 + 8));
  });

  it('refuses a misshapen tensor naming its key, a pickle-only folder, an unsupported config; merging is refused', () => {
    const config = makeBottleneckConfig({ reduction_factor: 4 }, c, 'x');
    const inits = randomBottleneck(config, c, 1);
    const files = exportBottleneckAdapter({ config, weights: tensorsOf(inits), model: c });
    const bad = new Map(files);
    const key = 'model.layers.1.output_adapters.adapters.bottleneck.adapter_up.weight';
    const t = [...tensorsOf(inits)].map(([name, data]) => ({ name, dtype: 'F32' as const, shape: name === key ? [2, 8] : parseSafetensors(files.get(ADAPTERHUB_WEIGHTS_FILE)!, 'a').tensors.get(name)!.shape, data }));
    bad.set(ADAPTERHUB_WEIGHTS_FILE, writeSafetensors(t, { format: 'pt' }));
    expect(() => importBottleneckAdapter(bad, c)).toThrow(`adapter.safetensors: tensor "${key}" has shape [2, 8], expected [8, 2]`);
    const pickle = new Map([['adapter_config.json', files.get('adapter_config.json')!], ['pytorch_adapter.bin', new Uint8Array(4)]]);
    expect(() => importBottleneckAdapter(pickle, c)).toThrow(/pytorch_adapter.bin is a pickle, which is never read here/);
    const json = JSON.parse(new TextDecoder().decode(files.get('adapter_config.json')!));
    const lnBefore = new Map(files).set('adapter_config.json', new TextEncoder().encode(JSON.stringify({ ...json, config: { ...json.config, original_ln_before: true } })));
    expect(() => importBottleneckAdapter(lnBefore, c)).toThrow(/config.original_ln_before = true is not supported/);
    const merge = methodById('bottleneck').merge;
    expect(merge.kind).toBe('refused');
  });
});
