import { describe, expect, it } from 'vitest';
import { parseModelConfig, type ModelConfig } from '../src/model/config';
import { loadTokenizer } from '../src/model-io/tokenizer';
import { f32ToF16Bits, f16BitsToF32, parseSafetensors, tensorToFloat32, writeSafetensors } from '../src/model-io/safetensors';
import { AdapterFilesError, readAdapterFiles } from '../src/peft/adapter-files';
import { makeLoraConfig, loraConfigToJson } from '../src/peft/lora-config';
import { peftModelCard, peftModelCardTags } from '../src/peft/model-card';
import { PeftTypeError, peftTypeOf } from '../src/peft/peft-type';
import {
  derivedPromptLearningFields,
  makePrefixTuningConfig,
  makePromptEncoderConfig,
  makePromptLearningConfig,
  makePromptTuningConfig,
  maxRealTokens,
  parsePrefixTuningConfigJson,
  parsePromptLearningConfigJson,
  parsePromptTuningConfigJson,
  prefixKeyValueColumns,
  PREFIX_TUNING_CONFIG_FIELDS,
  PROMPT_ENCODER_CONFIG_FIELDS,
  PROMPT_TUNING_CONFIG_FIELDS,
  promptEmbeddingsShape,
  promptLearningConfigToJson,
  PromptLearningConfigError,
  type PromptLearningConfig,
  type PromptLearningPeftType,
} from '../src/peft/prompt-learning-config';
import { exportPromptLearningAdapter, importPromptLearningAdapter, PROMPT_EMBEDDINGS_KEY } from '../src/peft/prompt-learning-files';
import { promptTuningInit, promptTuningInitTokenIds, textInitTokenIds } from '../src/peft/prompt-tuning-init';
import { compareCodePoints } from '../src/peft/python-json';
import { countPromptLearningParameters, promptLearningTrainableParameters } from '../src/peft/trainable-params';
import { randomUniform } from '../src/util/random';
import { makeTinyModel, makeTinyTokenizer, type TinyModelKind } from './fixtures/tiny-models';

const dec = new TextDecoder();
const tiny = (kind: TinyModelKind): ModelConfig => parseModelConfig(JSON.parse(dec.decode(makeTinyModel(kind).get('config.json')!)));
const gpt2 = tiny('gpt2');
const llama = tiny('llama');
const qwen2 = tiny('qwen2');
const tokenizer = (kind: TinyModelKind) => {
  const t = makeTinyTokenizer(kind);
  return loadTokenizer(t.tokenizerJson, t.tokenizerConfig);
};
const base = { nameOrPath: 'peft-studio/tiny' };
/** For values the types rule out, which a JSON file or a UI can still hold. */
const bad = (p: Record<string, unknown>) => p as never;

describe('derived fields (PEFT utils/other.py _prepare_prompt_learning_config)', () => {
  // The tiny models: hidden 32, 4 heads (head_dim 8), 2 layers; Llama and Qwen2 have 2 key/value heads.
  it('takes hidden size, heads and layers for prompt tuning and P-tuning on every architecture', () => {
    for (const m of [gpt2, llama, qwen2]) {
      for (const t of ['PROMPT_TUNING', 'P_TUNING'] as const) {
        expect(derivedPromptLearningFields(t, m)).toEqual({ token_dim: 32, num_attention_heads: 4, num_layers: 2, num_transformer_submodules: 1 });
      }
    }
  });

  it('shapes a prefix per key/value head with grouped-query attention (head_dim × num_key_value_heads)', () => {
    expect(derivedPromptLearningFields('PREFIX_TUNING', gpt2)).toMatchObject({ token_dim: 32, num_attention_heads: 4 });
    expect(derivedPromptLearningFields('PREFIX_TUNING', llama)).toMatchObject({ token_dim: 16, num_attention_heads: 2 });
    expect(derivedPromptLearningFields('PREFIX_TUNING', qwen2)).toMatchObject({ token_dim: 16, num_attention_heads: 2 });
    // An explicit head_dim that is not hidden / heads: the prefix follows head_dim, the input embeddings hidden_size.
    const wide = parseModelConfig({
      model_type: 'llama', hidden_size: 32, num_attention_heads: 4, num_key_value_heads: 2, head_dim: 16, num_hidden_layers: 3,
      intermediate_size: 48, vocab_size: 64,
    });
    expect(derivedPromptLearningFields('PREFIX_TUNING', wide)).toMatchObject({ token_dim: 32, num_attention_heads: 2, num_layers: 3 });
    expect(derivedPromptLearningFields('PROMPT_TUNING', wide)).toMatchObject({ token_dim: 32, num_attention_heads: 4, num_layers: 3 });
  });

  it('fills PEFT defaults and the derived fields in each make…Config', () => {
    const p = makePromptTuningConfig({ num_virtual_tokens: 8 }, llama, base);
    expect(p).toMatchObject({
      peft_type: 'PROMPT_TUNING', task_type: 'CAUSAL_LM', base_model_name_or_path: 'peft-studio/tiny', revision: null, inference_mode: false,
      peft_version: '0.21.0', num_virtual_tokens: 8, token_dim: 32, num_attention_heads: 4, num_layers: 2, num_transformer_submodules: 1,
      prompt_tuning_init: 'RANDOM', prompt_tuning_init_text: null, tokenizer_name_or_path: null, tokenizer_kwargs: null, modules_to_save: null,
    });
    const e = makePromptEncoderConfig({ num_virtual_tokens: 8 }, qwen2, base);
    expect(e).toMatchObject({ encoder_reparameterization_type: 'MLP', encoder_hidden_size: 32, encoder_num_layers: 2, encoder_dropout: 0, token_dim: 32 });
    const f = makePrefixTuningConfig({ num_virtual_tokens: 8 }, llama, base);
    expect(f).toMatchObject({ prefix_projection: false, init_weights: null, encoder_hidden_size: 16, token_dim: 16, num_attention_heads: 2 });
    expect(makePrefixTuningConfig({ num_virtual_tokens: 8, prefix_projection: true, encoder_hidden_size: 64 }, gpt2, base).encoder_hidden_size).toBe(64);
    // TEXT init tokenizes with the base model's tokenizer, which PEFT requires to be named.
    const text = makePromptTuningConfig({ num_virtual_tokens: 8, prompt_tuning_init: 'TEXT', prompt_tuning_init_text: 'Talk like a pirate.' }, llama, base);
    expect(text.tokenizer_name_or_path).toBe('peft-studio/tiny');
  });

  it('gives prompt_embeddings PEFT\'s shape and a prefix row its layers\' keys and values', () => {
    expect(promptEmbeddingsShape(makePromptTuningConfig({ num_virtual_tokens: 5 }, llama, base))).toEqual([5, 32]);
    expect(promptEmbeddingsShape(makePromptEncoderConfig({ num_virtual_tokens: 5, encoder_hidden_size: 7 }, gpt2, base))).toEqual([5, 32]);
    const prefix = makePrefixTuningConfig({ num_virtual_tokens: 5, prefix_projection: true }, llama, base);
    expect(promptEmbeddingsShape(prefix)).toEqual([5, 2 * 2 * 16]);
    expect(prefixKeyValueColumns(prefix, 0)).toEqual({ keys: [0, 16], values: [16, 32] });
    expect(prefixKeyValueColumns(prefix, 1)).toEqual({ keys: [32, 48], values: [48, 64] });
    expect(() => prefixKeyValueColumns(prefix, 2)).toThrow(/layer 2 is outside 0..1/);
    expect(maxRealTokens(prefix, llama)).toBe(64 - 5);
  });
});

describe('adapter_config.json text', () => {
  // The keys are the dataclass fields of PeftConfigMixin / PeftConfig / PromptLearningConfig (src/peft/config.py
  // lines 88-95, 365-371, 388-403 in huggingface/peft at 5d602fd, version 0.20.1.dev0: the newest snapshot at hand,
  // which has no v0.21.0 tag; these files match v0.20.0 but for comments) and of each method's config
  // (tuners/prompt_tuning/config.py 48-75, tuners/p_tuning/config.py 41-56, tuners/prefix_tuning/config.py 34-48),
  // written by PeftConfigMixin.save_pretrained as
  // json.dumps(asdict(config), indent=2, sort_keys=True) with inference_mode set to true (peft_model.py
  // save_pretrained); token_dim & co. as utils/other.py _prepare_prompt_learning_config (line 1151) sets them,
  // num_transformer_submodules 1 as peft_model.py _setup_prompt_encoder (line 662) sets it for a causal LM.
  it('writes prompt tuning (TEXT init on Llama) as PEFT does', () => {
    const c = makePromptTuningConfig({ num_virtual_tokens: 8, prompt_tuning_init: 'TEXT', prompt_tuning_init_text: 'Ahoy, matey!' }, llama, base);
    expect(promptLearningConfigToJson({ ...c, inference_mode: true })).toBe(`{
  "auto_mapping": null,
  "base_model_name_or_path": "peft-studio/tiny",
  "inference_mode": true,
  "modules_to_save": null,
  "num_attention_heads": 4,
  "num_layers": 2,
  "num_transformer_submodules": 1,
  "num_virtual_tokens": 8,
  "peft_type": "PROMPT_TUNING",
  "peft_version": "0.21.0",
  "prompt_tuning_init": "TEXT",
  "prompt_tuning_init_text": "Ahoy, matey!",
  "revision": null,
  "task_type": "CAUSAL_LM",
  "token_dim": 32,
  "tokenizer_kwargs": null,
  "tokenizer_name_or_path": "peft-studio/tiny"
}`);
  });

  it('writes P-tuning (MLP on GPT-2) as PEFT does, encoder_dropout a float', () => {
    const c = makePromptEncoderConfig({ num_virtual_tokens: 20, encoder_hidden_size: 128 }, gpt2, { nameOrPath: 'gpt2', revision: 'main' });
    expect(promptLearningConfigToJson({ ...c, inference_mode: true })).toBe(`{
  "auto_mapping": null,
  "base_model_name_or_path": "gpt2",
  "encoder_dropout": 0.0,
  "encoder_hidden_size": 128,
  "encoder_num_layers": 2,
  "encoder_reparameterization_type": "MLP",
  "inference_mode": true,
  "modules_to_save": null,
  "num_attention_heads": 4,
  "num_layers": 2,
  "num_transformer_submodules": 1,
  "num_virtual_tokens": 20,
  "peft_type": "P_TUNING",
  "peft_version": "0.21.0",
  "revision": "main",
  "task_type": "CAUSAL_LM",
  "token_dim": 32
}`);
    const lstm = makePromptEncoderConfig({ num_virtual_tokens: 4, encoder_reparameterization_type: 'LSTM', encoder_dropout: 0.1 }, gpt2, base);
    expect(promptLearningConfigToJson(lstm)).toContain('"encoder_dropout": 0.1,\n  "encoder_hidden_size": 32,\n  "encoder_num_layers": 2,\n  "encoder_reparameterization_type": "LSTM"');
  });

  it('writes prefix tuning (Llama, grouped-query attention) as PEFT does', () => {
    const c = makePrefixTuningConfig({ num_virtual_tokens: 8 }, llama, base);
    expect(promptLearningConfigToJson({ ...c, inference_mode: true })).toBe(`{
  "auto_mapping": null,
  "base_model_name_or_path": "peft-studio/tiny",
  "encoder_hidden_size": 16,
  "inference_mode": true,
  "init_weights": null,
  "modules_to_save": null,
  "num_attention_heads": 2,
  "num_layers": 2,
  "num_transformer_submodules": 1,
  "num_virtual_tokens": 8,
  "peft_type": "PREFIX_TUNING",
  "peft_version": "0.21.0",
  "prefix_projection": false,
  "revision": null,
  "task_type": "CAUSAL_LM",
  "token_dim": 16
}`);
  });

  it('lists each method\'s fields sorted, and parses what it writes back to the same config', () => {
    for (const fields of [PROMPT_TUNING_CONFIG_FIELDS, PROMPT_ENCODER_CONFIG_FIELDS, PREFIX_TUNING_CONFIG_FIELDS]) {
      expect([...fields].sort(compareCodePoints)).toEqual([...fields]);
    }
    const configs: PromptLearningConfig[] = [
      makePromptTuningConfig({ num_virtual_tokens: 3, prompt_tuning_init: 'SAMPLE_VOCAB' }, qwen2, base),
      makePromptEncoderConfig({ num_virtual_tokens: 3, encoder_reparameterization_type: 'LSTM', encoder_num_layers: 3, encoder_dropout: 0.25 }, llama, base),
      makePrefixTuningConfig({ num_virtual_tokens: 3, prefix_projection: true, encoder_hidden_size: 24, init_weights: 'zero' }, qwen2, base),
    ];
    for (const c of configs) {
      const text = promptLearningConfigToJson(c);
      expect(Object.keys(JSON.parse(text))).toEqual([...{ PROMPT_TUNING: PROMPT_TUNING_CONFIG_FIELDS, P_TUNING: PROMPT_ENCODER_CONFIG_FIELDS, PREFIX_TUNING: PREFIX_TUNING_CONFIG_FIELDS }[c.peft_type]]);
      const m = c.peft_type === 'P_TUNING' ? llama : qwen2;
      const { config, warnings } = parsePromptLearningConfigJson(text, m);
      expect(config).toEqual(c);
      expect(warnings).toEqual([]);
    }
  });
});

describe('bad configurations are refused, naming the field and the expected value', () => {
  const cases: [string, PromptLearningPeftType, Record<string, unknown>, RegExp][] = [
    ['no virtual tokens', 'PROMPT_TUNING', { num_virtual_tokens: 0 }, /num_virtual_tokens = 0 is invalid; expected a positive integer/],
    ['num_virtual_tokens missing (PEFT has no default)', 'P_TUNING', {}, /num_virtual_tokens = null is invalid; expected a positive integer \(PEFT has no default/],
    ['a fractional count', 'PREFIX_TUNING', { num_virtual_tokens: 2.5 }, /num_virtual_tokens = 2.5 is invalid/],
    ['a prefix as long as the context', 'PREFIX_TUNING', { num_virtual_tokens: 64 }, /num_virtual_tokens = 64 is invalid; expected at most 63: .*64 positions/],
    ['virtual tokens filling the context', 'PROMPT_TUNING', { num_virtual_tokens: 100 }, /num_virtual_tokens = 100 is invalid; expected at most 63/],
    ['TEXT init without text', 'PROMPT_TUNING', { num_virtual_tokens: 4, prompt_tuning_init: 'TEXT' }, /prompt_tuning_init_text = null is invalid; expected the text of the hard prompt/],
    ['TEXT init with empty text', 'PROMPT_TUNING', { num_virtual_tokens: 4, prompt_tuning_init: 'TEXT', prompt_tuning_init_text: '' }, /prompt_tuning_init_text = "" is invalid/],
    ['an init in lower case', 'PROMPT_TUNING', { num_virtual_tokens: 4, prompt_tuning_init: 'text' }, /prompt_tuning_init = "text" is invalid; expected "RANDOM", "TEXT", "SAMPLE_VOCAB" \(upper case/],
    ['init text without TEXT init', 'PROMPT_TUNING', { num_virtual_tokens: 4, prompt_tuning_init_text: 'hi' }, /prompt_tuning_init_text = "hi" is only used when prompt_tuning_init is "TEXT" \(it is "RANDOM"\); expected null/],
    ['tokenizer_kwargs without TEXT init', 'PROMPT_TUNING', { num_virtual_tokens: 4, tokenizer_kwargs: { use_fast: true } }, /tokenizer_kwargs = \{"use_fast":true\} is invalid; expected null; PEFT only accepts it when prompt_tuning_init is "TEXT"/],
    ['another tokenizer for TEXT init', 'PROMPT_TUNING', { num_virtual_tokens: 4, prompt_tuning_init: 'TEXT', prompt_tuning_init_text: 'x', tokenizer_name_or_path: 'gpt2' }, /tokenizer_name_or_path = "gpt2" is invalid; expected null or the base model's name "peft-studio\/tiny"/],
    ['an LSTM layer count on the MLP encoder', 'P_TUNING', { num_virtual_tokens: 4, encoder_num_layers: 3 }, /encoder_num_layers = 3 is ignored by the MLP encoder .*; expected 2 \(the default\), or encoder_reparameterization_type "LSTM"/],
    ['dropout on the MLP encoder', 'P_TUNING', { num_virtual_tokens: 4, encoder_dropout: 0.1 }, /encoder_dropout = 0.1 is ignored by the MLP encoder .*; expected 0, or encoder_reparameterization_type "LSTM"/],
    ['dropout on a one-layer LSTM', 'P_TUNING', { num_virtual_tokens: 4, encoder_reparameterization_type: 'LSTM', encoder_num_layers: 1, encoder_dropout: 0.2 }, /encoder_dropout = 0.2 is ignored with encoder_num_layers 1 .*; expected 0, or encoder_num_layers of at least 2/],
    ['an unknown encoder', 'P_TUNING', { num_virtual_tokens: 4, encoder_reparameterization_type: 'GRU' }, /encoder_reparameterization_type = "GRU" is invalid; expected "MLP", "LSTM"/],
    ['dropout of 1', 'P_TUNING', { num_virtual_tokens: 4, encoder_reparameterization_type: 'LSTM', encoder_dropout: 1 }, /encoder_dropout = 1 is invalid; expected a number in \[0, 1\)/],
    ['a zero encoder width', 'P_TUNING', { num_virtual_tokens: 4, encoder_hidden_size: 0 }, /encoder_hidden_size = 0 is invalid; expected a positive integer/],
    ['an encoder width without projection', 'PREFIX_TUNING', { num_virtual_tokens: 4, encoder_hidden_size: 64 }, /encoder_hidden_size = 64 is only used with prefix_projection true .*; expected 16 \(the default\), or prefix_projection true/],
    ['another init_weights', 'PREFIX_TUNING', { num_virtual_tokens: 4, init_weights: 'ones' }, /init_weights = "ones" is invalid; expected null \(random N\(0, 1\) init\) or "zero"/],
    ['a token_dim that does not fit the model', 'PREFIX_TUNING', { num_virtual_tokens: 4, token_dim: 32 }, /token_dim = 32 is invalid; expected 16, head_dim 8 × 2 key\/value heads/],
    ['an encoder-decoder submodule count', 'PROMPT_TUNING', { num_virtual_tokens: 4, num_transformer_submodules: 2 }, /num_transformer_submodules = 2 is invalid; expected 1/],
    ['another task', 'PROMPT_TUNING', { num_virtual_tokens: 4, task_type: 'SEQ_2_SEQ_LM' }, /task_type = "SEQ_2_SEQ_LM" is invalid; expected "CAUSAL_LM"/],
    ['modules_to_save', 'PROMPT_TUNING', { num_virtual_tokens: 4, modules_to_save: ['lm_head'] }, /modules_to_save = \["lm_head"\] is not supported yet/],
    ['an unknown field', 'PREFIX_TUNING', { num_virtual_tokens: 4, prefix_len: 3 }, /unknown field "prefix_len"; PrefixTuningConfig fields \(PEFT 0.21.0\): auto_mapping/],
    ['another base model name', 'PROMPT_TUNING', { num_virtual_tokens: 4, base_model_name_or_path: 'other' }, /base_model_name_or_path = "other" contradicts the base model given/],
  ];
  for (const [name, type, partial, re] of cases) {
    it(`refuses ${name}`, () => {
      expect(() => makePromptLearningConfig(type, bad(partial), llama, base)).toThrow(PromptLearningConfigError);
      expect(() => makePromptLearningConfig(type, bad(partial), llama, base)).toThrow(re);
    });
  }

  it('accepts what PEFT accepts: an LSTM with its options, SAMPLE_VOCAB, a zero-initialized projected prefix', () => {
    expect(makePromptEncoderConfig({ num_virtual_tokens: 63, encoder_reparameterization_type: 'LSTM', encoder_num_layers: 1 }, llama, base).encoder_num_layers).toBe(1);
    expect(makePromptTuningConfig({ num_virtual_tokens: 1, prompt_tuning_init: 'SAMPLE_VOCAB' }, gpt2, base).prompt_tuning_init).toBe('SAMPLE_VOCAB');
    expect(makePrefixTuningConfig({ num_virtual_tokens: 2, prefix_projection: true, init_weights: 'zero', encoder_hidden_size: 5 }, qwen2, base).init_weights).toBe('zero');
  });
});

describe('parsing adapter_config.json', () => {
  it('loads options PEFT only ignores with a warning, and reads a missing task_type as CAUSAL_LM', () => {
    const text = JSON.stringify({
      peft_type: 'P_TUNING', task_type: null, num_virtual_tokens: 4, encoder_num_layers: 5, encoder_dropout: 0.3, future_flag: null,
    });
    const { config, warnings } = parsePromptLearningConfigJson(text, gpt2);
    expect(config).toMatchObject({ peft_type: 'P_TUNING', task_type: 'CAUSAL_LM', encoder_num_layers: 5, encoder_dropout: 0.3, token_dim: 32, encoder_hidden_size: 32 });
    expect(warnings.join('\n')).toMatch(/ignored the field "future_flag"[\s\S]*task_type is null[\s\S]*encoder_num_layers = 5 is ignored by the MLP encoder[\s\S]*encoder_dropout = 0.3 is ignored/);
    // A TEXT init's other tokenizer only mattered while training.
    const t = parsePromptTuningConfigJson(JSON.stringify({ peft_type: 'PROMPT_TUNING', num_virtual_tokens: 2, prompt_tuning_init: 'TEXT', prompt_tuning_init_text: 'x', tokenizer_name_or_path: 'gpt2', tokenizer_kwargs: { use_fast: false } }), gpt2);
    expect(t.config).toMatchObject({ tokenizer_name_or_path: 'gpt2', tokenizer_kwargs: { use_fast: false } });
  });

  it('refuses what PEFT refuses, another method, an adapter for another model, and set unknown fields', () => {
    const p = (o: Record<string, unknown>, m = llama) => () => parsePromptLearningConfigJson(JSON.stringify(o), m);
    expect(p({ peft_type: 'PROMPT_TUNING', num_virtual_tokens: 2, prompt_tuning_init: 'TEXT', prompt_tuning_init_text: 'x' })).toThrow(/tokenizer_name_or_path = null is invalid; expected the tokenizer of the TEXT init/);
    expect(p({ peft_type: 'PROMPT_TUNING', num_virtual_tokens: 2, tokenizer_kwargs: { a: 1 } })).toThrow(/tokenizer_kwargs = \{"a":1\} is invalid/);
    expect(p({ peft_type: 'PREFIX_TUNING', num_virtual_tokens: 2, token_dim: 32, num_attention_heads: 4 })).toThrow(/adapter_config.json: token_dim = 32 is invalid; expected 16.*is the adapter for another base model\?/);
    expect(p({ peft_type: 'PROMPT_TUNING', num_virtual_tokens: 2, num_layers: 12 })).toThrow(/num_layers = 12 is invalid; expected 2/);
    expect(p({ peft_type: 'LORA', r: 8 })).toThrow(/peft_type = "LORA" is invalid; expected one of "PROMPT_TUNING", "P_TUNING", "PREFIX_TUNING"/);
    expect(p({ num_virtual_tokens: 2 })).toThrow(/"peft_type" is missing/);
    expect(p({ peft_type: 'PROMPT_TUNING', num_virtual_tokens: 2, new_feature: 3 })).toThrow(/unknown field "new_feature" = 3.*newer PEFT/);
    expect(() => parsePrefixTuningConfigJson(JSON.stringify({ peft_type: 'P_TUNING', num_virtual_tokens: 2 }), llama)).toThrow(/peft_type = "P_TUNING" is invalid; expected "PREFIX_TUNING"/);
    expect(() => parsePromptLearningConfigJson('{', llama)).toThrow(/adapter_config.json: not valid JSON/);
  });
});

describe('peftTypeOf', () => {
  it('tells the supported methods apart and names anything else', () => {
    const lora = loraConfigToJson(makeLoraConfig({}, gpt2, base));
    expect(peftTypeOf(lora)).toBe('LORA');
    for (const c of [
      makePromptTuningConfig({ num_virtual_tokens: 2 }, gpt2, base),
      makePromptEncoderConfig({ num_virtual_tokens: 2 }, gpt2, base),
      makePrefixTuningConfig({ num_virtual_tokens: 2 }, gpt2, base),
    ]) {
      expect(peftTypeOf(promptLearningConfigToJson(c))).toBe(c.peft_type);
    }
    expect(peftTypeOf('{"peft_type": "IA3"}')).toBe('IA3');
    expect(() => peftTypeOf('{"peft_type": "LOHA"}')).toThrow(PeftTypeError);
    expect(() => peftTypeOf('{"peft_type": "LOHA"}')).toThrow(/peft_type = "LOHA" is not supported; expected one of "LORA", "PROMPT_TUNING", "P_TUNING", "PREFIX_TUNING", "IA3"/);
    expect(() => peftTypeOf('{"r": 8}', 'x/adapter_config.json')).toThrow(/x\/adapter_config.json: "peft_type" is missing/);
    expect(() => peftTypeOf('[1]')).toThrow(/expected a JSON object/);
  });
});

/** Embeddings of the config's shape with distinct values, so that any misplaced value shows. */
function embeddingsFor(config: PromptLearningConfig, seed = 3) {
  const shape = promptEmbeddingsShape(config);
  return { embeddings: randomUniform(shape[0] * shape[1], seed, -2, 2), shape };
}

describe('prompt-learning adapter files', () => {
  const configs: [string, ModelConfig, PromptLearningConfig][] = [
    ['prompt tuning on GPT-2', gpt2, makePromptTuningConfig({ num_virtual_tokens: 6, prompt_tuning_init: 'TEXT', prompt_tuning_init_text: 'Arr!' }, gpt2, base)],
    ['P-tuning (LSTM) on Qwen2', qwen2, makePromptEncoderConfig({ num_virtual_tokens: 5, encoder_reparameterization_type: 'LSTM', encoder_dropout: 0.1 }, qwen2, base)],
    ['prefix tuning on Llama (GQA)', llama, makePrefixTuningConfig({ num_virtual_tokens: 4 }, llama, base)],
    ['projected prefix tuning on GPT-2', gpt2, makePrefixTuningConfig({ num_virtual_tokens: 3, prefix_projection: true, encoder_hidden_size: 12 }, gpt2, base)],
  ];
  for (const [name, model, config] of configs) {
    it(`exports and re-imports ${name} exactly`, () => {
      const { embeddings, shape } = embeddingsFor(config);
      const files = exportPromptLearningAdapter({ config, embeddings, shape, model });
      expect([...files.keys()].sort()).toEqual(['README.md', 'adapter_config.json', 'adapter_model.safetensors']);
      const st = parseSafetensors(files.get('adapter_model.safetensors')!, 'x');
      expect(st.metadata).toEqual({ format: 'pt' });
      expect([...st.tensors.keys()]).toEqual([PROMPT_EMBEDDINGS_KEY]);
      expect(st.tensors.get(PROMPT_EMBEDDINGS_KEY)).toMatchObject({ dtype: 'F32', shape });
      expect(JSON.parse(dec.decode(files.get('adapter_config.json')!)).inference_mode).toBe(true);

      const back = importPromptLearningAdapter(files, model);
      expect(back.config).toEqual({ ...config, inference_mode: true });
      expect(back.shape).toEqual(shape);
      expect(Buffer.from(back.embeddings.buffer, back.embeddings.byteOffset, back.embeddings.byteLength)).toEqual(
        Buffer.from(embeddings.buffer, embeddings.byteOffset, embeddings.byteLength),
      );
      expect(back.warnings).toEqual([]);
      // Exporting what was imported writes the same bytes.
      const again = exportPromptLearningAdapter({ config: back.config, embeddings: back.embeddings, shape: back.shape, model });
      for (const [f, bytes] of files) expect([f, Buffer.from(again.get(f)!)]).toEqual([f, Buffer.from(bytes)]);
    });
  }

  it('validates before writing: shape, values, and the config against the model', () => {
    const config = makePrefixTuningConfig({ num_virtual_tokens: 4 }, llama, base);
    const { embeddings, shape } = embeddingsFor(config);
    expect(() => exportPromptLearningAdapter({ config, embeddings, shape: [4, 128], model: llama })).toThrow(
      /prompt_embeddings has shape \[4, 128\], expected \[num_virtual_tokens, num_layers·2·token_dim\] = \[4, 2·2·16\] = \[4, 64\]/,
    );
    const nan = embeddings.slice();
    nan[70] = NaN;
    expect(() => exportPromptLearningAdapter({ config, embeddings: nan, shape, model: llama })).toThrow(/prompt_embeddings: value at index 70 is NaN/);
    // The same config on GPT-2 (no grouped-query attention) has another token_dim.
    expect(() => exportPromptLearningAdapter({ config, embeddings, shape, model: gpt2 })).toThrow(/token_dim = 16 is invalid; expected 32/);
  });

  function rewrite(files: Map<string, Uint8Array>, tensors: { name: string; shape: number[]; data: Float32Array; dtype?: 'F32' | 'F16' }[]) {
    const out = new Map(files);
    out.set('adapter_model.safetensors', writeSafetensors(tensors.map((t) => ({ dtype: 'F32' as const, ...t })), { format: 'pt' }));
    return out;
  }

  it('refuses files PEFT would not load as this adapter', () => {
    const config = makePromptTuningConfig({ num_virtual_tokens: 4 }, llama, base);
    const { embeddings, shape } = embeddingsFor(config);
    const files = exportPromptLearningAdapter({ config, embeddings, shape, model: llama });
    const cases: [Map<string, Uint8Array>, RegExp][] = [
      [rewrite(files, [{ name: PROMPT_EMBEDDINGS_KEY, shape: [4, 16], data: embeddings.subarray(0, 64) }]), /tensor "prompt_embeddings": has shape \[4, 16\], but adapter_config.json and this llama model give .*= \[4, 32\]/],
      [rewrite(files, [{ name: 'base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight', shape: [4, 32], data: embeddings }]), /tensor "base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight": not part of a PROMPT_TUNING adapter.*such as LoRA/],
      [rewrite(files, []), /"prompt_embeddings" is missing/],
      [rewrite(files, [{ name: PROMPT_EMBEDDINGS_KEY, shape, data: embeddings.map((x, i) => (i === 5 ? Infinity : x)) }]), /adapter_model.safetensors: tensor "prompt_embeddings": value at index 5 is Infinity/],
    ];
    for (const [f, re] of cases) expect(() => importPromptLearningAdapter(f, llama)).toThrow(re);
    // An adapter for GPT-2's 32-wide prefix on this Llama: the config already tells.
    const gptPrefix = makePrefixTuningConfig({ num_virtual_tokens: 4 }, gpt2, base);
    const g = exportPromptLearningAdapter({ config: gptPrefix, ...embeddingsFor(gptPrefix), model: gpt2 });
    expect(() => importPromptLearningAdapter(g, llama)).toThrow(/token_dim = 32 is invalid; expected 16.*another base model/);
    const pickle = new Map([['adapter_config.json', files.get('adapter_config.json')!], ['adapter_model.bin', new Uint8Array(1)]]);
    expect(() => importPromptLearningAdapter(pickle, llama)).toThrow(AdapterFilesError);
  });

  it('reads F16 tensors as f32, as PEFT copies them into its f32 embedding', () => {
    const config = makePromptEncoderConfig({ num_virtual_tokens: 2 }, gpt2, base);
    const { embeddings, shape } = embeddingsFor(config);
    const files = exportPromptLearningAdapter({ config, embeddings, shape, model: gpt2 });
    const f16 = rewrite(files, [{ name: PROMPT_EMBEDDINGS_KEY, shape, data: embeddings, dtype: 'F16' }]);
    const back = importPromptLearningAdapter(f16, gpt2);
    expect(Array.from(back.embeddings)).toEqual(Array.from(embeddings, (x) => f16BitsToF32(f32ToF16Bits(x))));
    expect(tensorToFloat32(parseSafetensors(files.get('adapter_model.safetensors')!, 'x'), PROMPT_EMBEDDINGS_KEY)).toEqual(embeddings);
  });

  it('is read from a folder by readAdapterFiles', async () => {
    const config = makePrefixTuningConfig({ num_virtual_tokens: 2 }, qwen2, base);
    const files = exportPromptLearningAdapter({ config, ...embeddingsFor(config), model: qwen2 });
    const source = {
      description: 'test folder',
      exists: async (f: string) => files.has(f),
      read: async (f: string) => files.get(f)!,
    };
    const read = await readAdapterFiles(source as never);
    expect(importPromptLearningAdapter(read, qwen2).config.peft_type).toBe('PREFIX_TUNING');
  });
});

describe('model card', () => {
  it('tags a prompt-learning adapter as PEFT does: no "lora", "transformers" only where the CausalLM has .model', () => {
    // peft_model.py _get_peft_specific_model_tags: base_model is the transformers CausalLM itself for prompt learning.
    expect(peftModelCardTags({ baseModel: 'gpt2', peftType: 'PREFIX_TUNING', model: gpt2 })).toEqual(['base_model:adapter:gpt2']);
    expect(peftModelCardTags({ baseModel: 'm', peftType: 'PROMPT_TUNING', model: llama })).toEqual(['base_model:adapter:m', 'transformers']);
    expect(peftModelCardTags({ baseModel: 'm', peftType: 'P_TUNING', model: qwen2 })).toEqual(['base_model:adapter:m', 'transformers']);
    expect(peftModelCardTags({ baseModel: 'm' })).toEqual(['base_model:adapter:m', 'lora', 'transformers']);
    expect(() => peftModelCardTags({ baseModel: 'm', peftType: 'P_TUNING' })).toThrow(/needs the base model's config/);
    // Without tags (GPT-2, no base model name) the front matter has no tags key.
    expect(peftModelCard({ baseModel: null, peftType: 'PROMPT_TUNING', model: gpt2 }).startsWith('---\nlibrary_name: peft\npipeline_tag: text-generation\n---\n')).toBe(true);
  });

  it('writes the same card as for LoRA but for the tags', () => {
    const lora = peftModelCard({ baseModel: 'gpt2' });
    const prefix = peftModelCard({ baseModel: 'gpt2', peftType: 'PREFIX_TUNING', model: gpt2 });
    expect(prefix).toBe(lora.replace('- base_model:adapter:gpt2\n- lora\n- transformers\n', '- base_model:adapter:gpt2\n'));
    const files = exportPromptLearningAdapter({ config: makePromptTuningConfig({ num_virtual_tokens: 2 }, llama, base), ...embeddingsFor(makePromptTuningConfig({ num_virtual_tokens: 2 }, llama, base)), model: llama });
    expect(dec.decode(files.get('README.md')!)).toContain('tags:\n- base_model:adapter:peft-studio/tiny\n- transformers\n---\n');
  });
});

describe('trainable parameters', () => {
  // bigscience/bloomz-560m: hidden 1024, 24 layers, 16 heads, 559,214,592 parameters. PEFT's docs print
  // (docs/source/package_reference/{prompt_tuning,p_tuning,prefix_tuning}.md) 8,192 for prompt tuning with 8
  // virtual tokens, 300,288 for P-tuning with 20 tokens and encoder_hidden_size 128, 983,040 for prefix tuning
  // with 20 tokens.
  const bloom = { num_layers: 24, token_dim: 1024, num_attention_heads: 16, num_transformer_submodules: 1 as const };
  const common = { task_type: 'CAUSAL_LM' as const, auto_mapping: null, peft_version: '0.21.0', base_model_name_or_path: null, revision: null, inference_mode: false, modules_to_save: null, ...bloom };
  it('matches the counts in PEFT\'s documentation', () => {
    expect(promptLearningTrainableParameters({ ...common, peft_type: 'PROMPT_TUNING', num_virtual_tokens: 8, prompt_tuning_init: 'TEXT', prompt_tuning_init_text: 'x', tokenizer_name_or_path: 'b', tokenizer_kwargs: null })).toBe(8192);
    expect(promptLearningTrainableParameters({ ...common, peft_type: 'P_TUNING', num_virtual_tokens: 20, encoder_reparameterization_type: 'MLP', encoder_hidden_size: 128, encoder_num_layers: 2, encoder_dropout: 0 })).toBe(300288);
    expect(promptLearningTrainableParameters({ ...common, peft_type: 'PREFIX_TUNING', num_virtual_tokens: 20, init_weights: null, encoder_hidden_size: 1024, prefix_projection: false })).toBe(983040);
  });

  it('counts an LSTM encoder and a prefix projection from their torch modules', () => {
    // torch.nn.LSTM(d=32, h=8, num_layers=2, bidirectional): per direction, layer 0 has W_ih [32, 32], W_hh [32, 8],
    // b_ih [32], b_hh [32]; layer 1 W_ih [32, 16] (input 2h), W_hh [32, 8], biases [32] twice. mlp_head Linear(16, 16),
    // Linear(16, 32). Embedding [3, 32].
    const lstm = makePromptEncoderConfig({ num_virtual_tokens: 3, encoder_reparameterization_type: 'LSTM', encoder_hidden_size: 8 }, gpt2, base);
    const layer0 = 2 * (32 * 32 + 32 * 8 + 32 + 32);
    const layer1 = 2 * (32 * 16 + 32 * 8 + 32 + 32);
    expect(promptLearningTrainableParameters(lstm)).toBe(3 * 32 + layer0 + layer1 + (16 * 16 + 16) + (16 * 32 + 32));
    // Prefix projection on Llama (token_dim 16): Embedding [3, 16], Linear(16, 10), Linear(10, 2·2·16).
    const proj = makePrefixTuningConfig({ num_virtual_tokens: 3, prefix_projection: true, encoder_hidden_size: 10 }, llama, base);
    expect(promptLearningTrainableParameters(proj)).toBe(3 * 16 + (16 * 10 + 10) + (10 * 64 + 64));
    const counted = countPromptLearningParameters(llama, proj);
    expect(counted.all - counted.trainable).toBeGreaterThan(0);
  });
});

describe('prompt tuning init (tuners/prompt_tuning/model.py PromptEmbedding)', () => {
  it('cuts or repeats the text\'s token ids as PEFT does', () => {
    expect(textInitTokenIds([1, 2, 3], 8)).toEqual([1, 2, 3, 1, 2, 3, 1, 2]);
    expect(textInitTokenIds([1, 2, 3], 3)).toEqual([1, 2, 3]);
    expect(textInitTokenIds([1, 2, 3, 4, 5], 2)).toEqual([1, 2]);
    expect(textInitTokenIds([7], 4)).toEqual([7, 7, 7, 7]);
    expect(() => textInitTokenIds([], 4)).toThrow(/prompt_tuning_init_text tokenizes to no tokens/);
  });

  /** Row i of the table holds i + j/1000 at column j, so a row shows which token it came from. */
  const table = (vocab: number, d: number) => Float32Array.from({ length: vocab * d }, (_, k) => Math.floor(k / d) + (k % d) / 1000);
  const tokenOf = (rows: Float32Array, d: number) => Array.from({ length: rows.length / d }, (_, r) => Math.round(rows[r * d]));

  it('starts TEXT from the tokenizer\'s ids with its special tokens: a BOS for Llama, none for GPT-2', () => {
    for (const kind of ['gpt2', 'llama'] as const) {
      const tok = tokenizer(kind);
      const model = tiny(kind);
      const config = makePromptTuningConfig({ num_virtual_tokens: 11, prompt_tuning_init: 'TEXT', prompt_tuning_init_text: 'The fox' }, model, base);
      const ids = tok.encode('The fox');
      const plain = tok.encode('The fox', { addSpecialTokens: false });
      expect(ids).toEqual(kind === 'llama' ? [tok.bosTokenId, ...plain] : plain);
      const rows = promptTuningInit(config, table(model.vocabSize, 32), (t) => tok.encode(t), 0);
      expect(rows.length).toBe(11 * 32);
      const reps = Math.ceil(11 / ids.length);
      expect(tokenOf(rows, 32)).toEqual(Array.from({ length: reps }, () => ids).flat().slice(0, 11));
      expect(rows[32 + 5]).toBeCloseTo(ids[1] + 0.005, 5);
    }
  });

  it('draws SAMPLE_VOCAB rows and RANDOM values from the seed (RANDOM as N(0, 1), nn.Embedding\'s init)', () => {
    const config = makePromptTuningConfig({ num_virtual_tokens: 40, prompt_tuning_init: 'SAMPLE_VOCAB' }, gpt2, base);
    const ids = promptTuningInitTokenIds(config, gpt2.vocabSize, () => [], 5)!;
    expect(ids.length).toBe(40);
    expect(ids.every((i) => Number.isInteger(i) && i >= 0 && i < gpt2.vocabSize)).toBe(true);
    expect(new Set(ids).size).toBeGreaterThan(20);
    const rows = promptTuningInit(config, table(gpt2.vocabSize, 32), () => [], 5);
    expect(tokenOf(rows, 32)).toEqual(ids);
    expect(promptTuningInit(config, table(gpt2.vocabSize, 32), () => [], 6)).not.toEqual(rows);

    const random = makePromptTuningConfig({ num_virtual_tokens: 50 }, gpt2, base);
    const r = promptTuningInit(random, table(gpt2.vocabSize, 32), () => [], 1);
    const mean = r.reduce((a, b) => a + b, 0) / r.length;
    const std = Math.sqrt(r.reduce((a, b) => a + (b - mean) ** 2, 0) / r.length);
    expect(Math.abs(mean)).toBeLessThan(0.08);
    expect(Math.abs(std - 1)).toBeLessThan(0.06);
    expect(promptTuningInit(random, table(gpt2.vocabSize, 32), () => [], 1)).toEqual(r);
    expect(promptTuningInitTokenIds(random, 10, () => [], 1)).toBeNull();
  });

  it('refuses a tokenizer whose ids fall outside the embedding table, and a table of another width', () => {
    const config = makePromptTuningConfig({ num_virtual_tokens: 2, prompt_tuning_init: 'TEXT', prompt_tuning_init_text: 'x' }, gpt2, base);
    expect(() => promptTuningInit(config, table(10, 32), () => [3, 12], 0)).toThrow(/token id 12 is outside the model's input embedding \(0..9\)/);
    expect(() => promptTuningInit(config, new Float32Array(33), () => [1], 0)).toThrow(/33 values, expected \[vocab, token_dim 32\]/);
  });
});
