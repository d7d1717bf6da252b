import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { parseModelConfig, type ModelConfig } from '../src/model/config';
import { compareCodePoints, pyFloat, pythonFloatRepr, pythonJsonDumps } from '../src/peft/python-json';
import {
  DEFAULT_LORA_TARGET_MODULES,
  LORA_CONFIG_FIELDS,
  LoraConfigError,
  loraConfigToJson,
  makeLoraConfig,
  parseLoraConfigJson,
  PEFT_VERSION,
  type LoraConfig,
} from '../src/peft/lora-config';
import { effectiveTargetModules, findMinimalTargetModules, resolveLoraTargets } from '../src/peft/lora-targets';
import { initLoraWeights, kaimingUniformBound } from '../src/peft/lora-init';
import { countParameters, pythonFixed, trainableParametersLine } from '../src/peft/trainable-params';
import { peftModelCard, yamlScalar } from '../src/peft/model-card';

const gpt2 = (layers = 2): ModelConfig =>
  parseModelConfig({ model_type: 'gpt2', n_embd: 32, n_head: 4, n_layer: layers, vocab_size: 64, n_positions: 16 });
const llama = (layers = 2): ModelConfig =>
  parseModelConfig({
    model_type: 'llama', hidden_size: 32, num_attention_heads: 4, num_key_value_heads: 2, num_hidden_layers: layers,
    intermediate_size: 48, vocab_size: 64,
  });
const qwen2 = (): ModelConfig =>
  parseModelConfig({
    model_type: 'qwen2', hidden_size: 32, num_attention_heads: 4, num_key_value_heads: 2, num_hidden_layers: 2,
    intermediate_size: 48, vocab_size: 64, tie_word_embeddings: true,
  });
const base = { nameOrPath: 'tiny' };
const make = (p: Partial<LoraConfig>, m: ModelConfig = gpt2()) => makeLoraConfig(p, m, base);
/** For values the types rule out, which a JSON file or a UI can still hold. */
const bad = (p: Record<string, unknown>) => p as unknown as Partial<LoraConfig>;
const paths = (c: LoraConfig, m: ModelConfig) => resolveLoraTargets(c, m).map((t) => t.path);

describe('Python json.dumps(indent=2, sort_keys=True)', () => {
  it('writes nested lists and dicts with sorted keys, empty {} and [], null and booleans', () => {
    expect(pythonJsonDumps({ b: [1, 2.5, { z: null, a: true }], a: {}, c: [], d: 'x' })).toBe(
      '{\n  "a": {},\n  "b": [\n    1,\n    2.5,\n    {\n      "a": true,\n      "z": null\n    }\n  ],\n  "c": [],\n  "d": "x"\n}',
    );
    expect(pythonJsonDumps([])).toBe('[]');
    expect(pythonJsonDumps({})).toBe('{}');
    expect(pythonJsonDumps({ a: [1, 2] }, { indent: null })).toBe('{"a": [1, 2]}');
    expect(pythonJsonDumps(new Map<string, number>([['b', 1], ['a', 2]]), { sortKeys: false })).toBe('{\n  "b": 1,\n  "a": 2\n}');
  });

  it('writes floats as Python repr does, and tells 16 from 16.0', () => {
    const cases: [number, string][] = [
      [0.05, '0.05'], [1e-5, '1e-05'], [16, '16.0'], [1e16, '1e+16'], [1e15, '1000000000000000.0'], [0.0001, '0.0001'],
      [1.5e-7, '1.5e-07'], [1.2345678901234568e20, '1.2345678901234568e+20'], [-0, '-0.0'], [0.1 + 0.2, '0.30000000000000004'],
      [5e-324, '5e-324'], [1.7976931348623157e308, '1.7976931348623157e+308'], [123.456, '123.456'], [-2.5e-5, '-2.5e-05'],
      [0.00012, '0.00012'], [NaN, 'NaN'], [Infinity, 'Infinity'], [-Infinity, '-Infinity'],
    ];
    for (const [x, s] of cases) {
      expect(pythonFloatRepr(x)).toBe(s);
      expect(pythonJsonDumps(pyFloat(x))).toBe(s);
    }
    expect(pythonJsonDumps([16, pyFloat(16), 0.05, 1e-5, 2 ** 60])).toBe('[\n  16,\n  16.0,\n  0.05,\n  1e-05,\n  1152921504606846976\n]');
  });

  it('escapes as ensure_ascii does and sorts keys by code point', () => {
    expect(pythonJsonDumps('café ✓ 😀 \n\t"\\ \u0001\u007f')).toBe('"caf\\u00e9 \\u2713 \\ud83d\\ude00 \\n\\t\\"\\\\ \\u0001\\u007f"');
    // U+FF61 sorts before U+1F600 by code point, though its UTF-16 unit is above the surrogate 0xD83D.
    expect(pythonJsonDumps({ '\uff61': 1, '😀': 2, a: 3 })).toBe('{\n  "a": 3,\n  "\\uff61": 1,\n  "\\ud83d\\ude00": 2\n}');
    expect(compareCodePoints('\uff61', '😀')).toBeLessThan(0);
    expect(pythonJsonDumps('ü', { ensureAscii: false })).toBe('"ü"');
  });
});

describe('makeLoraConfig', () => {
  it('fills PEFT defaults per architecture', () => {
    const g = make({});
    expect(g.target_modules).toEqual(['c_attn']);
    expect(g.fan_in_fan_out).toBe(true);
    expect([g.r, g.lora_alpha, g.lora_dropout, g.bias, g.init_lora_weights, g.use_rslora, g.use_dora]).toEqual([8, 8, 0, 'none', true, false, false]);
    expect([g.peft_type, g.task_type, g.base_model_name_or_path, g.revision, g.inference_mode, g.peft_version]).toEqual(['LORA', 'CAUSAL_LM', 'tiny', null, false, PEFT_VERSION]);
    expect([g.rank_pattern, g.alpha_pattern, g.loftq_config, g.megatron_core, g.qalora_group_size]).toEqual([{}, {}, {}, 'megatron.core', 16]);
    for (const m of [llama(), qwen2()]) {
      const c = makeLoraConfig({}, m, { nameOrPath: 'x', revision: 'abc123' });
      expect(c.target_modules).toEqual(['q_proj', 'v_proj']);
      expect(c.fan_in_fan_out).toBe(false);
      expect(c.revision).toBe('abc123');
    }
    expect(DEFAULT_LORA_TARGET_MODULES).toEqual({ gpt2: ['c_attn'], llama: ['q_proj', 'v_proj'], qwen2: ['q_proj', 'v_proj'] });
    // PEFT forces fan_in_fan_out by layer type.
    expect(make({ fan_in_fan_out: false }).fan_in_fan_out).toBe(true);
    expect(make({ fan_in_fan_out: true }, llama()).fan_in_fan_out).toBe(false);
    expect(Object.keys(g).sort()).toEqual([...LORA_CONFIG_FIELDS]);
  });

  it('serializes byte for byte as PEFT 0.21.0 saves the same config', () => {
    // PEFT: get_peft_model(gpt2, LoraConfig(task_type="CAUSAL_LM", r=4, lora_alpha=16, lora_dropout=0.05,
    // rank_pattern={"h.1.attn.c_attn": 2})).save_pretrained(...) with name_or_path "tiny".
    const c = { ...make({ r: 4, lora_alpha: 16, lora_dropout: 0.05, rank_pattern: { 'h.1.attn.c_attn': 2 } }), inference_mode: true };
    expect(loraConfigToJson(c)).toBe(`{
  "alora_invocation_tokens": null,
  "alpha_pattern": {},
  "arrow_config": null,
  "auto_mapping": null,
  "base_model_name_or_path": "tiny",
  "bias": "none",
  "corda_config": null,
  "ensure_weight_tying": false,
  "eva_config": null,
  "exclude_modules": null,
  "fan_in_fan_out": true,
  "inference_mode": true,
  "init_lora_weights": true,
  "kasa_config": null,
  "layer_replication": null,
  "layers_pattern": null,
  "layers_to_transform": null,
  "loftq_config": {},
  "lora_alpha": 16,
  "lora_bias": false,
  "lora_dropout": 0.05,
  "lora_ga_config": null,
  "megatron_config": null,
  "megatron_core": "megatron.core",
  "modules_to_save": null,
  "monteclora_config": null,
  "peft_type": "LORA",
  "peft_version": "0.21.0",
  "qalora_group_size": 16,
  "r": 4,
  "rank_pattern": {
    "h.1.attn.c_attn": 2
  },
  "revision": null,
  "target_modules": [
    "c_attn"
  ],
  "target_parameters": null,
  "task_type": "CAUSAL_LM",
  "trainable_token_indices": null,
  "use_bdlora": null,
  "use_dora": false,
  "use_qalora": false,
  "use_rslora": false,
  "velora_config": null
}`);
    const d = loraConfigToJson(make({ lora_alpha: 32.5, init_lora_weights: 'gaussian', target_modules: ['v_proj', 'q_proj', 'q_proj'] }, llama()));
    expect(d).toContain('"lora_alpha": 32.5,');
    expect(d).toContain('"lora_dropout": 0.0,');
    expect(d).toContain('"init_lora_weights": "gaussian",');
    expect(d).toContain('"target_modules": [\n    "q_proj",\n    "v_proj"\n  ],');
  });

  const cases: [string, Record<string, unknown>, RegExp][] = [
    ['r 0', { r: 0 }, /r = 0 is invalid; expected a positive integer/],
    ['r 1.5', { r: 1.5 }, /r = 1\.5 is invalid; expected a positive integer/],
    ['lora_alpha string', { lora_alpha: '16' }, /lora_alpha = "16" is invalid; expected a finite number/],
    ['lora_alpha NaN', { lora_alpha: NaN }, /lora_alpha = NaN is invalid/],
    ['lora_dropout 1', { lora_dropout: 1 }, /lora_dropout = 1 is invalid; expected a number in \[0, 1\)/],
    ['lora_dropout negative', { lora_dropout: -0.1 }, /lora_dropout = -0\.1 is invalid/],
    ['bias', { bias: 'some' }, /bias = "some" is invalid; expected "none", "all" or "lora_only"/],
    ['init pissa', { init_lora_weights: 'pissa' }, /init_lora_weights = "pissa" is not supported yet; supported: true .*false .*"gaussian"/],
    ['init number', { init_lora_weights: 1 }, /init_lora_weights = 1 is invalid; expected true, false or "gaussian"/],
    ['use_dora string', { use_dora: 'yes' }, /use_dora = "yes" is invalid/],
    ['use_dora with lora_bias', { use_dora: true, lora_bias: true }, /lora_bias = true cannot be used with use_dora = true \(PEFT refuses this combination\)/],
    ['lora_bias', { lora_bias: true }, /lora_bias = true is not supported yet/],
    ['modules_to_save', { modules_to_save: ['lm_head'] }, /modules_to_save = \["lm_head"\] is not supported yet/],
    ['layers_to_transform range', { layers_to_transform: 5 }, /layers_to_transform = 5 is invalid; expected .*0\.\.1 \(the model has 2 layers\)/],
    ['layers_to_transform entry', { layers_to_transform: [0, 'a'] }, /layers_to_transform = \[0,"a"\] is invalid.*found "a"/],
    ['rank_pattern zero', { rank_pattern: { q: 0 } }, /rank_pattern\["q"\] = 0 is invalid; expected a positive integer rank/],
    ['rank_pattern float', { rank_pattern: { q: 2.5 } }, /rank_pattern\["q"\] = 2\.5 is invalid/],
    ['rank_pattern not object', { rank_pattern: [1] }, /rank_pattern = \[1\] is invalid; expected an object/],
    ['alpha_pattern negative', { alpha_pattern: { q: -1 } }, /alpha_pattern\["q"\] = -1 is invalid; expected a positive number/],
    ['rank_pattern bad regex', { rank_pattern: { '(': 2 } }, /rank_pattern key "\(".*not a valid regular expression/],
    ['target_modules empty list', { target_modules: [] }, /target_modules = \[\] is invalid; expected a non-empty list of module names/],
    ['target_modules empty entry', { target_modules: ['c_attn', ''] }, /target_modules = \["c_attn",""\] is invalid.*found the entry ""/],
    ['target_modules empty string', { target_modules: '' }, /target_modules = "" is invalid/],
    ['target_modules bad regex', { target_modules: 'c_(attn' }, /target_modules: "c_\(attn" is not a valid regular expression/],
    ['target_modules inline flag', { target_modules: '(?i)C_ATTN' }, /inline flags/],
    ['target_modules nested quantifier', { target_modules: '(.*)*Z' }, /target_modules: "\(\.\*\)\*Z" repeats a repetition \(a nested quantifier/],
    ['target_modules over 1000 characters', { target_modules: 'c_attn|'.repeat(150) + 'c_attn' }, /target_modules: .* characters long, over the limit of 1000/],
    ['rank_pattern key with repeated alternatives', { rank_pattern: { '(c|_|.)+attn': 2 } }, /rank_pattern key .*repeats a group of alternatives/],
    ['unknown field', { rank: 8 }, /unknown field "rank"/],
    ['layers_to_transform with regex', { target_modules: '.*c_attn', layers_to_transform: 0 }, /layers_to_transform = 0 cannot be used when target_modules is a string/],
    ['layers_to_transform with all-linear', { target_modules: 'all-linear', layers_to_transform: [0] }, /cannot be used when target_modules is a string/],
    ['layers_pattern alone', { layers_pattern: 'h' }, /layers_pattern = "h" is set but layers_to_transform is null/],
    ['task_type', { task_type: 'SEQ_CLS' }, /task_type = "SEQ_CLS" is invalid; expected "CAUSAL_LM"/],
    ['base name contradiction', { base_model_name_or_path: 'other' }, /base_model_name_or_path = "other" contradicts the base model given \("tiny"\)/],
  ];
  for (const [name, partial, message] of cases) {
    it(`refuses ${name}`, () => {
      expect(() => make(bad(partial))).toThrow(LoraConfigError);
      expect(() => make(bad(partial))).toThrow(message);
    });
  }

  it('refuses an empty base model name', () => {
    expect(() => makeLoraConfig({}, gpt2(), { nameOrPath: '' })).toThrow(/base model's name or path is empty/);
  });

  it('parses adapter_config.json with PEFT defaults for missing fields, ignoring empty unknown fields only', () => {
    const { config, warnings } = parseLoraConfigJson('{"peft_type": "LORA", "task_type": null, "r": 4, "runtime_config": {"x": 1}, "future_thing": null}', gpt2());
    expect([config.r, config.lora_alpha, config.target_modules, config.task_type, config.fan_in_fan_out]).toEqual([4, 8, ['c_attn'], 'CAUSAL_LM', true]);
    expect(warnings.join('\n')).toMatch(/ignored the field "runtime_config"[\s\S]*ignored the field "future_thing"/);
    expect(() => parseLoraConfigJson('{"peft_type": "LORA", "future_thing": {"on": true}}', gpt2())).toThrow(/unknown field "future_thing" = \{"on":true\}.*newer PEFT/);
    expect(() => parseLoraConfigJson('{"r": 4}', gpt2())).toThrow(/"peft_type" is missing/);
    expect(() => parseLoraConfigJson('{"peft_type": "IA3"}', gpt2())).toThrow(/peft_type = "IA3" is invalid; expected "LORA"/);
    expect(parseLoraConfigJson('{"peft_type": "LORA", "use_dora": true}', gpt2()).config.use_dora).toBe(true);
    expect(() => parseLoraConfigJson('{"peft_type": "LORA", "use_dora": true, "lora_bias": true}', gpt2())).toThrow(/lora_bias = true cannot be used with use_dora = true/);
    expect(() => parseLoraConfigJson('{"peft_type": "LORA", "init_lora_weights": "Gaussian"}', gpt2()).config.init_lora_weights).not.toThrow();
    expect(parseLoraConfigJson('{"peft_type": "LORA", "init_lora_weights": "Gaussian"}', gpt2()).config.init_lora_weights).toBe('gaussian');
    expect(() => parseLoraConfigJson('{peft_type', gpt2())).toThrow(/adapter_config.json: not valid JSON/);
  });
});

describe('resolveLoraTargets (PEFT check_target_module_exists)', () => {
  const g = gpt2();
  const l = llama();
  const table: [string, Partial<LoraConfig>, ModelConfig, string[]][] = [
    ['default gpt2', {}, g, ['transformer.h.0.attn.c_attn', 'transformer.h.1.attn.c_attn']],
    ['suffix "c_proj" hits attention and MLP', { target_modules: ['c_proj'] }, g,
      ['transformer.h.0.attn.c_proj', 'transformer.h.0.mlp.c_proj', 'transformer.h.1.attn.c_proj', 'transformer.h.1.mlp.c_proj']],
    ['suffix "attn.c_proj" only attention', { target_modules: ['attn.c_proj'] }, g, ['transformer.h.0.attn.c_proj', 'transformer.h.1.attn.c_proj']],
    ['full path', { target_modules: ['transformer.h.1.mlp.c_fc'] }, g, ['transformer.h.1.mlp.c_fc']],
    ['a partial name does not match', { target_modules: ['proj', 'c_fc'] }, g, ['transformer.h.0.mlp.c_fc', 'transformer.h.1.mlp.c_fc']],
    ['regex fullmatch', { target_modules: '.*\\.0\\.attn\\.c_(attn|proj)' }, g, ['transformer.h.0.attn.c_attn', 'transformer.h.0.attn.c_proj']],
    ['regex with a Python named group', { target_modules: '.*\\.(?P<n>1)\\.mlp\\.c_fc' }, g, ['transformer.h.1.mlp.c_fc']],
    ['all-linear gpt2', { target_modules: 'all-linear' }, g, [0, 1].flatMap((i) => ['attn.c_attn', 'attn.c_proj', 'mlp.c_fc', 'mlp.c_proj'].map((s) => `transformer.h.${i}.${s}`))],
    ['ALL-LINEAR upper case', { target_modules: 'ALL-LINEAR' }, l,
      [0, 1].flatMap((i) => ['self_attn.q_proj', 'self_attn.k_proj', 'self_attn.v_proj', 'self_attn.o_proj', 'mlp.gate_proj', 'mlp.up_proj', 'mlp.down_proj'].map((s) => `model.layers.${i}.${s}`))],
    ['default llama', {}, l, ['model.layers.0.self_attn.q_proj', 'model.layers.0.self_attn.v_proj', 'model.layers.1.self_attn.q_proj', 'model.layers.1.self_attn.v_proj']],
    ['layers_to_transform int', { target_modules: ['c_attn'], layers_to_transform: 1 }, g, ['transformer.h.1.attn.c_attn']],
    ['layers_to_transform list', { target_modules: ['q_proj', 'down_proj'], layers_to_transform: [0] }, l, ['model.layers.0.self_attn.q_proj', 'model.layers.0.mlp.down_proj']],
    ['layers_to_transform empty list means all', { target_modules: ['c_attn'], layers_to_transform: [] }, g, ['transformer.h.0.attn.c_attn', 'transformer.h.1.attn.c_attn']],
    ['an exact name bypasses layers_to_transform (as in PEFT)', { target_modules: ['transformer.h.1.attn.c_attn', 'c_fc'], layers_to_transform: [0] }, g,
      ['transformer.h.0.mlp.c_fc', 'transformer.h.1.attn.c_attn']],
    ['layers_pattern', { target_modules: ['c_attn'], layers_to_transform: [1], layers_pattern: 'h' }, g, ['transformer.h.1.attn.c_attn']],
    ['layers_pattern that is not in the names', { target_modules: ['c_attn', 'c_fc'], layers_to_transform: [1], layers_pattern: ['layers', 'h'] }, g,
      ['transformer.h.1.attn.c_attn', 'transformer.h.1.mlp.c_fc']],
    ['exclude_modules list', { target_modules: ['c_proj'], exclude_modules: ['mlp.c_proj'] }, g, ['transformer.h.0.attn.c_proj', 'transformer.h.1.attn.c_proj']],
    ['exclude_modules regex', { target_modules: 'all-linear', exclude_modules: '.*\\.1\\..*|.*mlp.*' }, g, ['transformer.h.0.attn.c_attn', 'transformer.h.0.attn.c_proj']],
  ];
  for (const [name, partial, model, expected] of table) {
    it(name, () => {
      expect(paths(makeLoraConfig(partial, model, base), model)).toEqual(expected);
    });
  }

  it('takes r and lora_alpha from rank_pattern and alpha_pattern as get_pattern_key matches keys', () => {
    const c = make({ r: 8, lora_alpha: 16, target_modules: 'all-linear', rank_pattern: { 'h.1.attn.c_attn': 2, 'mlp\\.c_(fc|proj)': 4, attn: 32 }, alpha_pattern: { c_attn: 64 } });
    const got = Object.fromEntries(resolveLoraTargets(c, gpt2()).map((t) => [t.path, [t.r, t.alpha, t.scale, t.inFeatures, t.outFeatures, t.layout]]));
    expect(got).toEqual({
      'transformer.h.0.attn.c_attn': [8, 64, 8, 32, 96, 'conv1d'],
      // "attn" must match a whole trailing name segment: it does not match "...attn.c_attn" or "...attn.c_proj".
      'transformer.h.0.attn.c_proj': [8, 16, 2, 32, 32, 'conv1d'],
      'transformer.h.0.mlp.c_fc': [4, 16, 4, 32, 128, 'conv1d'],
      'transformer.h.0.mlp.c_proj': [4, 16, 4, 128, 32, 'conv1d'],
      'transformer.h.1.attn.c_attn': [2, 64, 32, 32, 96, 'conv1d'],
      'transformer.h.1.attn.c_proj': [8, 16, 2, 32, 32, 'conv1d'],
      'transformer.h.1.mlp.c_fc': [4, 16, 4, 32, 128, 'conv1d'],
      'transformer.h.1.mlp.c_proj': [4, 16, 4, 128, 32, 'conv1d'],
    });
    const rs = resolveLoraTargets(makeLoraConfig({ r: 4, lora_alpha: 8, use_rslora: true, rank_pattern: { '^model.layers.1.self_attn.v_proj': 16 } }, l, base), l);
    expect(rs.map((t) => [t.r, t.scale, t.outFeatures])).toEqual([[4, 4, 32], [4, 4, 16], [4, 4, 32], [16, 2, 16]]);
  });

  it('refuses pattern keys whose pick would change once the keys are saved sorted', () => {
    const c = make({ rank_pattern: { c_attn: 4, 'attn.c_attn': 2 } });
    expect(() => resolveLoraTargets(c, gpt2())).toThrow(/rank_pattern keys "c_attn" \(4\) and "attn.c_attn" \(2\) both match "transformer.h.0.attn.c_attn"/);
    // Same value: no ambiguity.
    expect(resolveLoraTargets(make({ rank_pattern: { c_attn: 4, 'attn.c_attn': 4 } }), gpt2()).map((t) => t.r)).toEqual([4, 4]);
  });

  it('errors on no match, listing the modules, and on modules LoRA cannot adapt here', () => {
    expect(() => resolveLoraTargets(make({ target_modules: 'c_attn' }), g)).toThrow(
      /target_modules "c_attn" match no module of this gpt2 model\. Available linear modules: transformer\.h\.<i>\.attn\.c_attn, transformer\.h\.<i>\.attn\.c_proj, transformer\.h\.<i>\.mlp\.c_fc, transformer\.h\.<i>\.mlp\.c_proj for layers i = 0\.\.1/,
    );
    expect(() => resolveLoraTargets(make({ target_modules: ['q_proj'] }), g)).toThrow(/match no module/);
    expect(() => resolveLoraTargets(make({ target_modules: ['c_attn'], layers_to_transform: [1], layers_pattern: 'layers' }), g)).toThrow(
      /match no module of this gpt2 model with layers_to_transform \[1\] and layers_pattern "layers"/,
    );
    expect(() => resolveLoraTargets(make({ target_modules: ['mlp'] }), g)).toThrow(/match "transformer.h.0.mlp", which is not a linear layer/);
    expect(() => resolveLoraTargets(make({ target_modules: ['lm_head'] }), g)).toThrow(/"lm_head", which is the output layer; LoRA on lm_head is not supported yet/);
    expect(() => resolveLoraTargets(make({ target_modules: ['embed_tokens'] }, l), l)).toThrow(/"model.embed_tokens", which is an embedding/);
  });

  it('condenses 20+ target modules to minimal suffixes, as PEFT saves them', () => {
    // PEFT 0.21.0 saves ["c_fc", "c_proj", "c_attn"] (a set) for all-linear on a 6-layer GPT-2, and the 8 full paths for 2 layers.
    expect(effectiveTargetModules(make({ target_modules: 'all-linear' }, gpt2(6)), gpt2(6))).toEqual(['c_attn', 'c_fc', 'c_proj']);
    expect(effectiveTargetModules(make({ target_modules: 'all-linear' }), g)).toEqual(paths(make({ target_modules: 'all-linear' }), g));
    expect(effectiveTargetModules(make({ target_modules: '.*c_attn' }), g)).toBe('.*c_attn');
    // The example of PEFT's _find_minimal_target_modules docstring.
    const targets = [...Array(100).keys()].flatMap((i) => [`model.decoder.layers.${i}.self_attn.q_proj`, `model.decoder.layers.${i}.self_attn.v_proj`]);
    const others = [...Array(100).keys()].map((i) => `model.decoder.layers.${i}.self_attn.k_proj`);
    expect(findMinimalTargetModules(targets, others).sort()).toEqual(['q_proj', 'v_proj']);
  });
});

describe('initLoraWeights (PEFT reset_lora_parameters)', () => {
  const g = gpt2();
  const targets = resolveLoraTargets(make({ target_modules: ['c_attn', 'mlp.c_proj'], r: 8 }), g);
  const stats = (x: Float32Array) => {
    let s = 0;
    let s2 = 0;
    for (const v of x) {
      s += v;
      s2 += v * v;
    }
    const mean = s / x.length;
    return { mean, std: Math.sqrt(s2 / x.length - mean * mean), maxAbs: x.reduce((m, v) => Math.max(m, Math.abs(v)), 0) };
  };

  it('kaiming_uniform_(a=√5) has bound 1/√fan_in', () => {
    for (const n of [1, 32, 768, 4096]) expect(kaimingUniformBound(n)).toBeCloseTo(1 / Math.sqrt(n), 14);
  });

  it('true: A ~ U(±1/√in), B = 0', () => {
    const w = initLoraWeights(targets, true, 1);
    for (const t of targets) {
      const { a, b } = w.get(t.path)!;
      expect(a.length).toBe(t.r * t.inFeatures);
      expect(b.length).toBe(t.outFeatures * t.r);
      const bound = 1 / Math.sqrt(t.inFeatures);
      const s = stats(a);
      expect(s.maxAbs).toBeLessThanOrEqual(Math.fround(bound));
      expect(s.maxAbs).toBeGreaterThan(0.9 * bound);
      expect(Math.abs(s.mean)).toBeLessThan(0.15 * bound);
      expect(s.std).toBeGreaterThan(0.85 * bound / Math.sqrt(3));
      expect(s.std).toBeLessThan(1.15 * bound / Math.sqrt(3));
      expect(b.every((v) => v === 0)).toBe(true);
    }
  });

  it('"gaussian": A ~ N(0, (1/r)²), B = 0', () => {
    const big = resolveLoraTargets(make({ target_modules: 'all-linear', r: 4 }, gpt2(6)), gpt2(6));
    const w = initLoraWeights(big, 'gaussian', 2);
    const all = Float32Array.from([...w.values()].flatMap((p) => [...p.a]));
    const s = stats(all);
    expect(s.std).toBeGreaterThan(0.97 / 4);
    expect(s.std).toBeLessThan(1.03 / 4);
    expect(Math.abs(s.mean)).toBeLessThan(0.01);
    expect([...w.values()].every((p) => p.b.every((v) => v === 0))).toBe(true);
  });

  it('false: A ~ U(±1/√in) and B ~ U(±1/√r), as nn.Linear leaves them', () => {
    const w = initLoraWeights(targets, false, 3);
    for (const t of targets) {
      const { a, b } = w.get(t.path)!;
      expect(stats(a).maxAbs).toBeLessThanOrEqual(Math.fround(1 / Math.sqrt(t.inFeatures)));
      const sb = stats(b);
      expect(sb.maxAbs).toBeLessThanOrEqual(Math.fround(1 / Math.sqrt(t.r)));
      expect(sb.maxAbs).toBeGreaterThan(0.9 / Math.sqrt(t.r));
    }
  });

  it('is seeded: the same seed gives the same weights, modules and seeds differ', () => {
    const x = initLoraWeights(targets, true, 5);
    const y = initLoraWeights(targets, true, 5);
    const z = initLoraWeights(targets, true, 6);
    expect(x.get(targets[0].path)!.a).toEqual(y.get(targets[0].path)!.a);
    expect(x.get(targets[0].path)!.a).not.toEqual(z.get(targets[0].path)!.a);
    expect(x.get(targets[0].path)!.a.slice(0, 32)).not.toEqual(x.get(targets[2].path)!.a.slice(0, 32));
    expect(() => initLoraWeights(targets, 'pissa' as never, 1)).toThrow(/not supported/);
  });
});

describe('print_trainable_parameters', () => {
  it('prints PEFT\'s line for GPT-2 124M with the default LoRA (worked by hand)', () => {
    // Base: wte 50257·768 + wpe 1024·768 + 12 × (2 LayerNorms 4·768 + c_attn 768·2304+2304 + c_proj 768·768+768
    // + c_fc 768·3072+3072 + c_proj 3072·768+768) + ln_f 2·768 = 124,439,808 (lm_head is tied).
    // LoRA r=8 on c_attn: 12 × 8 × (768 + 2304) = 294,912. 100 · 294,912 / 124,734,720 = 0.23643… → "0.2364".
    const m = parseModelConfig({ model_type: 'gpt2' });
    const targets = resolveLoraTargets(makeLoraConfig({}, m, { nameOrPath: 'gpt2' }), m);
    const counts = countParameters(m, targets);
    expect(counts).toEqual({ trainable: 294912, all: 124734720 });
    expect(trainableParametersLine(counts.trainable, counts.all)).toBe('trainable params: 294,912 || all params: 124,734,720 || trainable%: 0.2364');
  });

  it('matches PEFT 0.21.0 with biases trained, and formats like Python', () => {
    // Lines printed by PEFT for tiny GPT-2s (n_embd 32, vocab 64, n_positions 16), default LoRA.
    const one = gpt2(1);
    const c1 = make({ bias: 'all' }, one);
    const n1 = countParameters(one, resolveLoraTargets(c1, one), 'all');
    expect(trainableParametersLine(n1.trainable, n1.all)).toBe('trainable params: 1,408 || all params: 16,352 || trainable%: 8.6106');
    const two = gpt2(2);
    const n2 = countParameters(two, resolveLoraTargets(make({ bias: 'lora_only' }), two), 'lora_only');
    expect(trainableParametersLine(n2.trainable, n2.all)).toBe('trainable params: 2,240 || all params: 30,080 || trainable%: 7.4468');
    const n3 = countParameters(two, resolveLoraTargets(make({ target_modules: 'all-linear' }), two));
    expect(trainableParametersLine(n3.trainable, n3.all)).toBe('trainable params: 8,192 || all params: 36,224 || trainable%: 22.6148');
    // Python rounds the exact binary value half to even: 100/3200 = 0.03125 → "0.0312" (toFixed gives "0.0313").
    expect(trainableParametersLine(1, 3200)).toBe('trainable params: 1 || all params: 3,200 || trainable%: 0.0312');
    expect(trainableParametersLine(1234, 5678)).toBe('trainable params: 1,234 || all params: 5,678 || trainable%: 21.7330');
    expect(pythonFixed(2.5, 0)).toBe('2');
    expect(pythonFixed(0.125, 2)).toBe('0.12');
    expect(pythonFixed(100, 4)).toBe('100.0000');
    expect(pythonFixed(1e-9, 4)).toBe('0.0000');
    expect(() => trainableParametersLine(1, 0)).toThrow(/all must be a positive integer/);
  });
});

describe('model card', () => {
  it('is the README.md PEFT 0.21.0 writes', () => {
    const card = peftModelCard({ baseModel: 'gpt2' });
    expect(card.startsWith(
      '---\nbase_model: gpt2\nlibrary_name: peft\npipeline_tag: text-generation\ntags:\n- base_model:adapter:gpt2\n- lora\n- transformers\n---\n\n# Model Card for Model ID\n\n',
    )).toBe(true);
    expect(card.endsWith('## Model Card Contact\n\n[More Information Needed]\n### Framework versions\n\n- PEFT 0.21.0')).toBe(true);
    // SHA-256 of the README.md that PEFT 0.21.0 (huggingface_hub 1.33.0) saved for an adapter of "gpt2".
    expect(card.length).toBe(5162);
    expect(createHash('sha256').update(card).digest('hex')).toBe('fd3d4f488b3e4c391d1009d0db895bda01ec271e17fbd43075e1ca774579db43');
  });

  it('quotes YAML scalars where PyYAML does', () => {
    const cases: [string, string][] = [
      ['HuggingFaceTB/SmolLM2-135M', 'HuggingFaceTB/SmolLM2-135M'], ['my model', 'my model'], ['a: b', "'a: b'"], ['x:', "'x:'"],
      ['123', "'123'"], ['1.5', "'1.5'"], ['true', "'true'"], ['yes', "'yes'"], ['/abs/path', '/abs/path'], ['-x', '-x'],
      ['- x', "'- x'"], ['', "''"], ['base_model:adapter:', "'base_model:adapter:'"], ['模型', '模型'], ['#a', "'#a'"],
      ['a #b', "'a #b'"], ['2020-01-01', "'2020-01-01'"], ['~', "'~'"], ['null', "'null'"], ['0x1f', "'0x1f'"], ["it's", "it's"],
      [' lead', "' lead'"], ['trail ', "'trail '"], ['@x', "'@x'"], ['x,y', 'x,y'], ['?x', '?x'], ["'q", "'''q'"],
    ];
    for (const [s, y] of cases) expect([s, yamlScalar(s)]).toEqual([s, y]);
    expect(peftModelCard({ baseModel: 'a: b' })).toContain("base_model: 'a: b'\n");
  });
});
