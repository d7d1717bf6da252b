/**
 * Regression tests for issue 18 (items 1–3), each built from a fuzz reproducer: a tiny model's or adapter's bytes or
 * config mutated in memory. Non-finite values, a config that disagrees with its checkpoint, wrongly typed config
 * fields, and safetensors files whose byte accounting is off must all be refused with the file, the tensor or field
 * and what was expected; valid files must still load.
 */
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { assertFiniteScore, nextTokenLogprobs } from '../src/cli/commands/score';
import { ConfigError, parseModelConfig, type ModelConfig } from '../src/model/config';
import { loadModel, ModelLoadError } from '../src/model-io/load-model';
import { BrowserFilesSource } from '../src/model-io/model-source';
import { NodeFolderSource } from '../src/model-io/node-folder-source';
import { parseSafetensors, SafetensorsError, writeSafetensors, type SafetensorsDtype } from '../src/model-io/safetensors';
import { exportLoraAdapter, importLoraAdapter } from '../src/peft/adapter-files';
import { bottleneckSize, bottleneckTargets, bottleneckTensorShapes, exportBottleneckAdapter, importBottleneckAdapter, makeBottleneckConfig } from '../src/peft/bottleneck-files';
import { ia3VectorShape, makeIA3Config, resolveIA3Targets } from '../src/peft/ia3-config';
import { exportIa3Adapter, importIa3Adapter } from '../src/peft/ia3-files';
import { makeLoraConfig } from '../src/peft/lora-config';
import { initLoraWeights } from '../src/peft/lora-init';
import { resolveLoraTargets } from '../src/peft/lora-targets';
import { makePromptTuningConfig, promptEmbeddingsShape } from '../src/peft/prompt-learning-config';
import { exportPromptLearningAdapter, importPromptLearningAdapter, PROMPT_EMBEDDINGS_KEY } from '../src/peft/prompt-learning-files';
import { makeTinyModel, TINY_MODEL_KINDS, type TinyModelKind } from './fixtures/tiny-models';

type Files = Map<string, Uint8Array>;
const enc = new TextEncoder();
const dec = new TextDecoder();

function source(files: Files): BrowserFilesSource {
  return new BrowserFilesSource([...files].map(([name, bytes]) => new File([bytes as Uint8Array<ArrayBuffer>], `m/${name}`)));
}

async function loadError(files: Files): Promise<Error> {
  try {
    await loadModel(source(files));
  } catch (e) {
    return e as Error;
  }
  throw new Error('expected the load to fail');
}

function thrown(fn: () => unknown): Error {
  try {
    fn();
  } catch (e) {
    return e as Error;
  }
  throw new Error('expected an error');
}

/** A copy of `bytes` with element `index` of tensor `name` overwritten by raw `bits` (of the tensor's dtype). */
function poison(bytes: Uint8Array, file: string, name: string, index: number, bits: number): Uint8Array {
  const out = bytes.slice();
  const t = parseSafetensors(out, file).tensors.get(name)!;
  const dv = new DataView(out.buffer);
  if (t.dtype === 'F32') dv.setUint32(t.byteOffset + 4 * index, bits, true);
  else dv.setUint16(t.byteOffset + 2 * index, bits, true);
  return out;
}

function withFile(files: Files, name: string, bytes: Uint8Array): Files {
  return new Map(files).set(name, bytes);
}

function editConfig(files: Files, edit: (c: Record<string, unknown>) => void, file = 'config.json'): Files {
  const j = JSON.parse(dec.decode(files.get(file)!));
  edit(j);
  return withFile(files, file, enc.encode(JSON.stringify(j)));
}

/** Bits of NaN, +Inf, -Inf and a signalling NaN per dtype. */
const BAD_BITS: Record<SafetensorsDtype, [string, number][]> = {
  F32: [['NaN', 0x7fc00000], ['Infinity', 0x7f800000], ['-Infinity', 0xff800000], ['NaN (F32 bits 0x7f800001)', 0x7f800001]],
  F16: [['NaN', 0x7e00], ['Infinity', 0x7c00], ['-Infinity', 0xfc00], ['NaN (F16 bits 0x7c01)', 0x7c01]],
  BF16: [['NaN', 0x7fc0], ['Infinity', 0x7f80], ['-Infinity', 0xff80], ['NaN (BF16 bits 0x7f81)', 0x7f81]],
};

describe('non-finite weights are refused while converting, naming the file, tensor, index and value', () => {
  // A norm, an embedding and a linear weight: norms and embeddings were never checked before.
  const targets: [TinyModelKind, string][] = [['llama', 'model.norm.weight'], ['gpt2', 'wte.weight'], ['qwen2', 'model.layers.1.mlp.up_proj.weight']];
  for (const dtype of ['F32', 'F16', 'BF16'] as const) {
    it(`${dtype}: NaN, ±Infinity and a signalling NaN`, async () => {
      for (const [kind, tensor] of targets) {
        const files = makeTinyModel(kind, { dtype });
        for (const [text, bits] of BAD_BITS[dtype]) {
          const bad = withFile(files, 'model.safetensors', poison(files.get('model.safetensors')!, 'model.safetensors', tensor, 3, bits));
          const e = await loadError(bad);
          expect(e).toBeInstanceOf(SafetensorsError);
          expect(e.message).toContain(`model.safetensors: tensor "${tensor}": value at index 3 is ${text}`);
          expect(e.message).toContain('weights must be finite');
        }
      }
    });
  }

  const llama = parseModelConfig({ model_type: 'llama', hidden_size: 16, num_attention_heads: 4, num_key_value_heads: 2, num_hidden_layers: 2, intermediate_size: 24, vocab_size: 40 });
  const weightsFile = (files: Files) => (files.has('adapter.safetensors') ? 'adapter.safetensors' : 'adapter_model.safetensors');
  const poisoned = (files: Files, key: string, bits = 0x7fc00000) => {
    const file = weightsFile(files);
    return withFile(files, file, poison(files.get(file)!, file, key, 1, bits));
  };
  const ones = (n: number) => new Float32Array(n).fill(0.5);

  it('in every adapter method\'s tensors on import: LoRA, DoRA, IA³, bottleneck, prompt learning', () => {
    const lora = (use_dora: boolean) => {
      const config = makeLoraConfig({ use_dora }, llama, { nameOrPath: 'tiny' });
      const targets = resolveLoraTargets(config, llama);
      const weights = initLoraWeights(targets, config.init_lora_weights, 1);
      const magnitudes = use_dora ? new Map(targets.map((t) => [t.path, ones(t.outFeatures)])) : undefined;
      return exportLoraAdapter({ config, weights, magnitudes, model: llama, targets });
    };
    const q = 'base_model.model.model.layers.0.self_attn.q_proj';
    for (const key of [`${q}.lora_A.weight`, `${q}.lora_B.weight`]) {
      expect(() => importLoraAdapter(poisoned(lora(false), key), llama)).toThrow(`adapter_model.safetensors: tensor "${key}": value at index 1 is NaN`);
    }
    expect(() => importLoraAdapter(poisoned(lora(true), `${q}.lora_magnitude_vector`, 0xff800000), llama)).toThrow(
      `tensor "${q}.lora_magnitude_vector": value at index 1 is -Infinity`,
    );

    const ia3Config = makeIA3Config({}, llama, { nameOrPath: 'tiny' });
    const vectors = new Map(resolveIA3Targets(ia3Config, llama).map((t) => [t.path, ones(ia3VectorShape(t)[0] * ia3VectorShape(t)[1])]));
    const ia3 = exportIa3Adapter({ config: ia3Config, vectors, model: llama });
    const ia3Key = `base_model.model.${[...vectors.keys()][0]}.ia3_l`;
    expect(() => importIa3Adapter(poisoned(ia3, ia3Key), llama)).toThrow(`adapter_model.safetensors: tensor "${ia3Key}": value at index 1 is NaN`);

    const bnConfig = makeBottleneckConfig({ config: 'houlsby', reduction_factor: 4 }, llama, 'tiny');
    const bnWeights = new Map<string, Float32Array>();
    for (const t of bottleneckTargets(bnConfig, llama)) {
      for (const [key, shape] of bottleneckTensorShapes(t, llama.hiddenSize, bottleneckSize(bnConfig, llama))) bnWeights.set(key, ones(shape.reduce((a, b) => a * b, 1)));
    }
    const bn = exportBottleneckAdapter({ config: bnConfig, weights: bnWeights, model: llama });
    const bnKey = [...bnWeights.keys()][0];
    expect(() => importBottleneckAdapter(poisoned(bn, bnKey, 0x7f800000), llama)).toThrow(`adapter.safetensors: tensor "${bnKey}": value at index 1 is Infinity`);

    const ptConfig = makePromptTuningConfig({ num_virtual_tokens: 2 }, llama, { nameOrPath: 'tiny' });
    const shape = promptEmbeddingsShape(ptConfig);
    const pt = exportPromptLearningAdapter({ config: ptConfig, embeddings: ones(shape[0] * shape[1]), shape, model: llama });
    expect(() => importPromptLearningAdapter(poisoned(pt, PROMPT_EMBEDDINGS_KEY, 0x7f800001), llama)).toThrow(
      `tensor "${PROMPT_EMBEDDINGS_KEY}": value at index 1 is NaN (F32 bits 0x7f800001)`,
    );
    // The unpoisoned files still import.
    expect(importLoraAdapter(lora(true), llama).magnitudes.size).toBeGreaterThan(0);
    expect(importPromptLearningAdapter(pt, llama).embeddings.length).toBe(shape[0] * shape[1]);
  });

  it('score refuses a non-finite log-probability or mean instead of printing null', () => {
    const logits = Float32Array.from([0, 1, 2, NaN, 0, 0]);
    const lp = nextTokenLogprobs(logits, [0, 1, 2], 2);
    expect(Number.isNaN(lp[1])).toBe(true);
    const e = thrown(() => assertFiniteScore(lp, (t) => `the log-probability of token ${t + 1}`));
    expect(e.message).toBe(
      'score: the log-probability of token 2 is NaN, not a finite number; the model or adapter computes non-finite logits (do its weights hold NaN or Infinity, or overflow?)',
    );
    expect(() => assertFiniteScore([-Infinity], () => 'the mean loss')).toThrow('the mean loss is -Infinity');
    expect(() => assertFiniteScore([-1.5, -0.2], () => 'x')).not.toThrow();
  });
});

describe('config.json and the checkpoint must agree', () => {
  const llama = makeTinyModel('llama');
  const gpt2 = makeTinyModel('gpt2');

  it('refuses a config with fewer layers than the checkpoint, naming the first extra tensor', async () => {
    const e = await loadError(editConfig(llama, (c) => (c.num_hidden_layers = 1)));
    expect(e).toBeInstanceOf(ModelLoadError);
    expect(e.message).toMatch(/model\.safetensors: tensor "model\.layers\.1\.[\w.]+" belongs to layer 1, but config\.json's "num_hidden_layers" is 1/);
    // GPT-2: the extra layer's mask buffer counts too, and the weights after it.
    const g = await loadError(editConfig(gpt2, (c) => (c.n_layer = 1)));
    expect(g.message).toMatch(/model\.safetensors: tensor "h\.1\.[\w.]+"( \(transformer\.h\.1\.[\w.]+\))? belongs to layer 1, but config\.json's "n_layer" is 1/);
  });

  it('refuses an unknown weight and a buffer of a layer the config lacks; skips a tied lm_head copy', async () => {
    const st = parseSafetensors(gpt2.get('model.safetensors')!, 'model.safetensors');
    const tensors = [...st.tensors.values()].map((t) => ({ name: t.name, dtype: 'F32' as const, shape: t.shape, data: new Float32Array(t.shape.reduce((a, b) => a * b, 1)) }));
    const rewrite = (extra: { name: string; shape: number[] }) =>
      withFile(gpt2, 'model.safetensors', writeSafetensors([...tensors, { ...extra, dtype: 'F32', data: new Float32Array(extra.shape.reduce((a, b) => a * b, 1)) }]));
    const unknown = await loadError(rewrite({ name: 'h.0.mlp.gate.weight', shape: [2] }));
    expect(unknown).toBeInstanceOf(ModelLoadError);
    expect(unknown.message).toContain('model.safetensors: tensor "h.0.mlp.gate.weight" (transformer.h.0.mlp.gate.weight) is not a weight of a gpt2 model');
    const buffer = await loadError(rewrite({ name: 'h.7.attn.masked_bias', shape: [] }));
    expect(buffer.message).toContain('tensor "h.7.attn.masked_bias" (transformer.h.7.attn.masked_bias) belongs to layer 7');
    const vocab = st.tensors.get('wte.weight')!.shape[0];
    const tied = await loadModel(source(rewrite({ name: 'lm_head.weight', shape: [vocab, 32] })));
    expect(tied.ignoredTensors).toContain('lm_head.weight');
  });

  it('refuses a layer count the checkpoint cannot hold before looping over it (n_layer 2^31)', async () => {
    for (const [files, key] of [[gpt2, 'n_layer'], [llama, 'num_hidden_layers']] as const) {
      for (const n of [2 ** 31, 2 ** 31 - 1, 1000]) {
        const t0 = Date.now();
        const e = await loadError(editConfig(files, (c) => (c[key] = n)));
        expect(Date.now() - t0).toBeLessThan(1000);
        expect(e.message, `${key} ${n}`).toContain(`config.json: "${key}" is ${n}`);
      }
    }
    expect(thrown(() => parseModelConfig({ model_type: 'gpt2', n_layer: 2 ** 31 })).message).toBe(
      'config.json: "n_layer" is 2147483648; expected a positive integer of at most 2147483647 (2^31 - 1)',
    );
    const e = await loadError(editConfig(gpt2, (c) => (c.n_layer = 2 ** 31 - 1)));
    expect(e.message).toMatch(/config\.json: "n_layer" is 2147483647, but model\.safetensors lists only \d+ tensors, and each gpt2 layer has 12/);
  });

  it('refuses sizes whose products pass 2^53, naming the keys', () => {
    const e = thrown(() => parseModelConfig({ model_type: 'llama', hidden_size: 2 ** 30, num_attention_heads: 2 ** 20, num_hidden_layers: 1, intermediate_size: 8, vocab_size: 2 ** 30 }));
    expect(e).toBeInstanceOf(ConfigError);
    expect(e.message).toContain('config.json: vocab_size 1073741824 × hidden_size 1073741824 make the token embedding');
    const layers = thrown(() => parseModelConfig({ model_type: 'gpt2', n_layer: 2 ** 31 - 1, n_embd: 2 ** 20, n_head: 1, vocab_size: 8, n_positions: 8 }));
    expect(layers.message).toMatch(/^config\.json: n_layer 2147483647 layers of \d+ parameters each make more than 2\^53 parameters/);
  });
});

describe('config.json fields of the wrong type or out of range', () => {
  const llamaJson = { model_type: 'llama', hidden_size: 16, num_attention_heads: 4, num_hidden_layers: 1, intermediate_size: 24, vocab_size: 300 };
  const gpt2Json = { model_type: 'gpt2', n_embd: 16, n_head: 4, n_layer: 1, vocab_size: 300, n_positions: 8 };
  const cases: [string, Record<string, unknown>, string][] = [
    ['attention_bias "yes"', { ...llamaJson, attention_bias: 'yes' }, 'config.json: "attention_bias" must be true or false, got "yes"'],
    ['mlp_bias "true"', { ...llamaJson, mlp_bias: 'true' }, 'config.json: "mlp_bias" must be true or false, got "true"'],
    ['tie_word_embeddings 7', { ...gpt2Json, tie_word_embeddings: 7 }, 'config.json: "tie_word_embeddings" must be true or false, got 7'],
    ['tie_word_embeddings null', { ...llamaJson, tie_word_embeddings: null }, 'config.json: "tie_word_embeddings" must be true or false, got null'],
    ['eos_token_id "2"', { ...llamaJson, eos_token_id: '2' }, 'config.json: "eos_token_id" must be a token id, a list of token ids or null, got "2"'],
    ['pad_token_id [299]', { ...llamaJson, vocab_size: 299, pad_token_id: [299] }, 'config.json: "pad_token_id" must be an integer token id or null, got [299]'],
    ['bos_token_id = vocab_size', { ...gpt2Json, bos_token_id: 300 }, 'config.json: "bos_token_id" is 300; expected an integer token id in [0, 300) (vocab_size 300)'],
    ['a negative pad_token_id other than -1', { ...llamaJson, pad_token_id: -2 }, 'config.json: "pad_token_id" is -2; expected an integer token id in [0, 300)'],
    ['a bos_token_id of -1', { ...llamaJson, bos_token_id: -1 }, 'config.json: "bos_token_id" is -1; expected an integer token id in [0, 300)'],
    ['a fractional eos id in a list', { ...llamaJson, eos_token_id: [2, 2.5] }, 'config.json: "eos_token_id"[1] is 2.5; expected an integer token id in [0, 300)'],
    ['an eos id string in a list', { ...llamaJson, eos_token_id: [2, '3'] }, 'config.json: "eos_token_id"[1] must be an integer token id, got "3"'],
    ['rope_theta 0', { ...llamaJson, rope_theta: 0 }, 'config.json: "rope_theta" must be a number above 0, got 0'],
    ['rope_theta -10000', { ...llamaJson, rope_theta: -10000 }, 'config.json: "rope_theta" must be a number above 0, got -10000'],
    ['rms_norm_eps 0', { ...llamaJson, rms_norm_eps: 0 }, 'config.json: "rms_norm_eps" must be a number above 0, got 0'],
    ['layer_norm_epsilon -1e-5', { ...gpt2Json, layer_norm_epsilon: -1e-5 }, 'config.json: "layer_norm_epsilon" must be a number above 0, got -0.00001'],
    ['vocab_size 2^31', { ...llamaJson, vocab_size: 2 ** 31 }, 'config.json: "vocab_size" is 2147483648; expected a positive integer of at most 2147483647'],
  ];
  it.each(cases)('refuses %s', (_, json, message) => {
    const e = thrown(() => parseModelConfig(json));
    expect(e).toBeInstanceOf(ConfigError);
    expect(e.message).toContain(message);
  });

  it('accepts what real configs hold: null ids, a list of eos ids, booleans, absent fields', () => {
    const c: ModelConfig = parseModelConfig({ ...llamaJson, bos_token_id: null, eos_token_id: [1, 299], pad_token_id: null, attention_bias: true, mlp_bias: false, tie_word_embeddings: true });
    expect([c.bosTokenId, c.eosTokenIds, c.padTokenId, c.qkvBias, c.oBias, c.mlpBias, c.tieWordEmbeddings]).toEqual([null, [1, 299], null, true, true, false, true]);
    // Older Llama conversions' "pad_token_id": -1 means no pad token.
    expect(parseModelConfig({ ...llamaJson, pad_token_id: -1 }).padTokenId).toBeNull();
    const g = parseModelConfig({ ...gpt2Json, n_inner: null, eos_token_id: 0 });
    expect([g.intermediateSize, g.eosTokenIds, g.tieWordEmbeddings]).toEqual([64, [0], true]);
  });
});

describe('safetensors byte accounting, as the reference reader', () => {
  const good = writeSafetensors(
    [
      { name: 'a', dtype: 'F32', shape: [2, 3], data: Float32Array.from([1, 2, 3, 4, 5, 6]) },
      { name: 'b', dtype: 'F16', shape: [3], data: Float32Array.from([1, 2, 3]) },
    ],
    { format: 'pt' },
  );
  const headerLength = new DataView(good.buffer).getUint32(0, true);
  const withHeader = (text: string, data: Uint8Array) => {
    const json = enc.encode(text);
    const out = new Uint8Array(8 + json.length + data.length);
    new DataView(out.buffer).setUint32(0, json.length, true);
    out.set(json, 8);
    out.set(data, 8 + json.length);
    return out;
  };
  const data = good.subarray(8 + headerLength);

  it('reads what writeSafetensors writes (its header padded with spaces to 8 bytes)', () => {
    expect(headerLength % 8).toBe(0);
    const st = parseSafetensors(good, 'ok.safetensors');
    expect([...st.tensors.keys()]).toEqual(['a', 'b']);
  });

  it('refuses a header length shortened by 1 to 7 bytes', () => {
    for (let k = 1; k <= 7; k++) {
      const bad = good.slice();
      new DataView(bad.buffer).setUint32(0, headerLength - k, true);
      expect(() => parseSafetensors(bad, 'short.safetensors'), `shortened by ${k}`).toThrow(SafetensorsError);
    }
  });

  it('refuses leading whitespace before "{" but accepts trailing padding', () => {
    const json = dec.decode(good.subarray(8, 8 + headerLength)).trimEnd();
    expect(() => parseSafetensors(withHeader(` ${json}`, data), 'lead.safetensors')).toThrow('lead.safetensors: the header starts with byte 0x20; expected "{"');
    expect(() => parseSafetensors(withHeader(`\n${json}`, data), 'lead.safetensors')).toThrow('starts with byte 0x0a');
    expect(parseSafetensors(withHeader(`${json}       `, data), 'pad.safetensors').tensors.size).toBe(2);
  });

  it('refuses trailing bytes after the last tensor, a hole between tensors, and an overlap', () => {
    const trailing = new Uint8Array(good.length + 3);
    trailing.set(good);
    expect(() => parseSafetensors(trailing, 'tail.safetensors')).toThrow(
      'tail.safetensors: the data section is 33 bytes, but the tensors cover only [0, 30); 3 trailing byte(s) belong to no tensor',
    );
    const hole = withHeader(
      JSON.stringify({ a: { dtype: 'F32', shape: [1], data_offsets: [0, 4] }, b: { dtype: 'F32', shape: [1], data_offsets: [8, 12] } }),
      new Uint8Array(12),
    );
    expect(() => parseSafetensors(hole, 'hole.safetensors')).toThrow('hole.safetensors: bytes [4, 8) of the data section belong to no tensor (a hole before tensor "b"');
    const overlap = withHeader(
      JSON.stringify({ a: { dtype: 'F32', shape: [2], data_offsets: [0, 8] }, z: { dtype: 'F32', shape: [0], data_offsets: [4, 4] } }),
      new Uint8Array(8),
    );
    expect(() => parseSafetensors(overlap, 'o.safetensors')).toThrow('o.safetensors: tensor "z" (data_offsets [4, 4]) overlaps tensor "a"');
    const huge = withHeader(JSON.stringify({ a: { dtype: 'F32', shape: [2 ** 30, 2 ** 30], data_offsets: [0, 4] } }), new Uint8Array(4));
    expect(() => parseSafetensors(huge, 'h.safetensors')).toThrow('needs more than 2^53');
  });
});

describe('valid inputs still load', () => {
  it('the embedded austen-2m model and every tiny model in F32, F16 and BF16', async () => {
    const austen = await loadModel(new NodeFolderSource(fileURLToPath(new URL('../public/models/austen-2m', import.meta.url))));
    expect(austen.weights.size).toBeGreaterThan(0);
    expect(austen.ignoredTensors).toEqual([]);
    for (const kind of TINY_MODEL_KINDS) {
      for (const dtype of ['F32', 'F16', 'BF16'] as const) {
        const m = await loadModel(source(makeTinyModel(kind, { dtype })));
        expect(m.config.modelType).toBe(kind);
      }
    }
  });
});
