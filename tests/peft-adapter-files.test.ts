import { describe, expect, it } from 'vitest';
import { parseModelConfig, type ModelConfig } from '../src/model/config';
import type { ModelSource } from '../src/model-io/model-source';
import { f32ToBf16Bits, f32ToF16Bits, bf16BitsToF32, f16BitsToF32, parseSafetensors, tensorToFloat32, writeSafetensors, type TensorToWrite } from '../src/model-io/safetensors';
import {
  AdapterFilesError,
  expectedBiasTensors,
  exportLoraAdapter,
  importLoraAdapter,
  readAdapterFiles,
  type ExportLoraAdapterArgs,
} from '../src/peft/adapter-files';
import { LoraConfigError, makeLoraConfig, type LoraConfig } from '../src/peft/lora-config';
import { initLoraWeights, type LoraPair } from '../src/peft/lora-init';
import { resolveLoraTargets } from '../src/peft/lora-targets';
import { randomUniform } from '../src/util/random';

const gpt2 = (embd = 32, layers = 2): ModelConfig =>
  parseModelConfig({ model_type: 'gpt2', n_embd: embd, n_head: 4, n_layer: layers, vocab_size: 64, n_positions: 16 });
const llama = (extra: Record<string, unknown> = {}): ModelConfig =>
  parseModelConfig({
    model_type: 'llama', hidden_size: 32, num_attention_heads: 4, num_key_value_heads: 2, num_hidden_layers: 2,
    intermediate_size: 48, vocab_size: 64, ...extra,
  });
const enc = new TextEncoder();
const dec = new TextDecoder();

/** A config, its targets, and weights with a non-zero B (so that a wrong load is visible). */
function setup(partial: Partial<LoraConfig>, model: ModelConfig, seed = 1): ExportLoraAdapterArgs {
  const config = makeLoraConfig(partial, model, { nameOrPath: 'tiny' });
  const targets = resolveLoraTargets(config, model);
  const weights = initLoraWeights(targets, config.init_lora_weights, seed);
  let s = seed * 1000;
  for (const w of weights.values()) w.b.set(randomUniform(w.b.length, s++, -0.5, 0.5));
  const biases = new Map<string, Float32Array>();
  for (const [path, { length }] of expectedBiasTensors(model, targets, config.bias)) biases.set(path, randomUniform(length, s++));
  if (!config.use_dora) return { config, weights, biases, model, targets };
  const magnitudes = new Map(targets.map((t) => [t.path, randomUniform(t.outFeatures, s++, 0.5, 2)]));
  return { config, weights, biases, magnitudes, model, targets };
}

function shapes(files: Map<string, Uint8Array>): Record<string, number[]> {
  const st = parseSafetensors(files.get('adapter_model.safetensors')!, 'adapter_model.safetensors');
  return Object.fromEntries([...st.tensors].map(([k, t]) => [k, t.shape]));
}

/** The files with the safetensors rewritten by `edit` (tensor name → values and shape, as f32 unless a dtype is given). */
function editTensors(
  files: Map<string, Uint8Array>,
  edit: (tensors: TensorToWrite[]) => TensorToWrite[],
  metadata: Record<string, string> | undefined = { format: 'pt' },
): Map<string, Uint8Array> {
  const st = parseSafetensors(files.get('adapter_model.safetensors')!, 'x');
  const tensors: TensorToWrite[] = [...st.tensors.values()].map((t) => ({ name: t.name, dtype: 'F32', shape: t.shape, data: tensorToFloat32(st, t.name) }));
  const out = new Map(files);
  out.set('adapter_model.safetensors', writeSafetensors(edit(tensors), metadata));
  return out;
}

function editConfig(files: Map<string, Uint8Array>, edit: (c: Record<string, unknown>) => void): Map<string, Uint8Array> {
  const c = JSON.parse(dec.decode(files.get('adapter_config.json')!));
  edit(c);
  const out = new Map(files);
  out.set('adapter_config.json', enc.encode(JSON.stringify(c)));
  return out;
}

describe('exportLoraAdapter', () => {
  it('writes PEFT\'s keys, shapes and metadata for GPT-2 (Conv1D, in nn.Linear layout)', () => {
    const args = setup({ r: 4, lora_alpha: 16, lora_dropout: 0.05, rank_pattern: { 'h.1.attn.c_attn': 2 } }, gpt2());
    const files = exportLoraAdapter(args);
    expect([...files.keys()]).toEqual(['adapter_config.json', 'adapter_model.safetensors', 'README.md']);
    expect(shapes(files)).toEqual({
      'base_model.model.transformer.h.0.attn.c_attn.lora_A.weight': [4, 32],
      'base_model.model.transformer.h.0.attn.c_attn.lora_B.weight': [96, 4],
      'base_model.model.transformer.h.1.attn.c_attn.lora_A.weight': [2, 32],
      'base_model.model.transformer.h.1.attn.c_attn.lora_B.weight': [96, 2],
    });
    const st = parseSafetensors(files.get('adapter_model.safetensors')!, 'x');
    expect(st.metadata).toEqual({ format: 'pt' });
    expect([...st.tensors.values()].every((t) => t.dtype === 'F32')).toBe(true);
    expect(tensorToFloat32(st, 'base_model.model.transformer.h.1.attn.c_attn.lora_B.weight')).toEqual(args.weights.get('transformer.h.1.attn.c_attn')!.b);
    const config = dec.decode(files.get('adapter_config.json')!);
    expect(config).toContain('  "inference_mode": true,\n');
    expect(config).toContain('  "fan_in_fan_out": true,\n');
    expect(config).toContain('  "base_model_name_or_path": "tiny",\n');
    expect(config).toContain('  "rank_pattern": {\n    "h.1.attn.c_attn": 2\n  },\n');
    const readme = dec.decode(files.get('README.md')!);
    expect(readme.startsWith('---\nbase_model: tiny\nlibrary_name: peft\npipeline_tag: text-generation\ntags:\n- base_model:adapter:tiny\n- lora\n- transformers\n---\n')).toBe(true);
    expect(readme.endsWith('### Framework versions\n\n- PEFT 0.21.0')).toBe(true);
  });

  it('writes PEFT\'s keys for Llama with grouped-query attention, and all-linear as the module list PEFT saves', () => {
    const m = llama();
    const files = exportLoraAdapter(setup({ target_modules: 'all-linear', r: 8 }, m));
    const s = shapes(files);
    expect(Object.keys(s)).toHaveLength(28);
    expect(s['base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight']).toEqual([8, 32]);
    expect(s['base_model.model.model.layers.0.self_attn.q_proj.lora_B.weight']).toEqual([32, 8]);
    expect(s['base_model.model.model.layers.0.self_attn.v_proj.lora_B.weight']).toEqual([16, 8]);
    expect(s['base_model.model.model.layers.1.self_attn.k_proj.lora_B.weight']).toEqual([16, 8]);
    expect(s['base_model.model.model.layers.1.mlp.down_proj.lora_A.weight']).toEqual([8, 48]);
    expect(s['base_model.model.model.layers.1.mlp.gate_proj.lora_B.weight']).toEqual([48, 8]);
    const config = JSON.parse(dec.decode(files.get('adapter_config.json')!));
    expect(config.target_modules).toEqual([0, 1].flatMap((i) =>
      ['mlp.down_proj', 'mlp.gate_proj', 'mlp.up_proj', 'self_attn.k_proj', 'self_attn.o_proj', 'self_attn.q_proj', 'self_attn.v_proj'].map((n) => `model.layers.${i}.${n}`)));
    expect(config.fan_in_fan_out).toBe(false);
  });

  it('saves biases under PEFT\'s names: base_layer.bias for adapted layers, .bias for the rest', () => {
    const onlyFiles = exportLoraAdapter(setup({ bias: 'lora_only', target_modules: ['c_attn'] }, gpt2(32, 1)));
    expect(Object.keys(shapes(onlyFiles)).sort()).toEqual([
      'base_model.model.transformer.h.0.attn.c_attn.base_layer.bias',
      'base_model.model.transformer.h.0.attn.c_attn.lora_A.weight',
      'base_model.model.transformer.h.0.attn.c_attn.lora_B.weight',
    ]);
    const all = setup({ bias: 'all' }, gpt2(32, 1));
    expect(shapes(exportLoraAdapter(all))).toEqual({
      'base_model.model.transformer.h.0.attn.c_attn.base_layer.bias': [96],
      'base_model.model.transformer.h.0.attn.c_attn.lora_A.weight': [8, 32],
      'base_model.model.transformer.h.0.attn.c_attn.lora_B.weight': [96, 8],
      'base_model.model.transformer.h.0.attn.c_proj.bias': [32],
      'base_model.model.transformer.h.0.ln_1.bias': [32],
      'base_model.model.transformer.h.0.ln_2.bias': [32],
      'base_model.model.transformer.h.0.mlp.c_fc.bias': [128],
      'base_model.model.transformer.h.0.mlp.c_proj.bias': [32],
      'base_model.model.transformer.ln_f.bias': [32],
    });
    // Llama has no biases unless attention_bias is set.
    expect(Object.keys(shapes(exportLoraAdapter(setup({ bias: 'all' }, llama()))))).toHaveLength(8);
  });

  it('refuses anything that does not match the config and the model', () => {
    const ok = setup({ bias: 'lora_only' }, gpt2());
    const t0 = ok.targets[0].path;
    const w = (m: Map<string, LoraPair>) => ({ ...ok, weights: m });
    const cases: [string, ExportLoraAdapterArgs, RegExp][] = [
      ['a missing target', { ...ok, targets: ok.targets.slice(1) }, /the config targets "transformer.h.0.attn.c_attn", but targets do not include it/],
      ['an extra target', { ...ok, targets: [...ok.targets, { ...ok.targets[0], path: 'transformer.h.0.mlp.c_fc' }] }, /target "transformer.h.0.mlp.c_fc" is not targeted by the config/],
      ['a wrong rank', { ...ok, targets: ok.targets.map((t, i) => (i === 0 ? { ...t, r: 4 } : t)) }, /target "transformer.h.0.attn.c_attn" has r 4, but the config and model give 8/],
      ['missing weights', w(new Map([...ok.weights].slice(1))), /no LoRA weights for the target "transformer.h.0.attn.c_attn"/],
      ['a short A', w(new Map([...ok.weights].map(([p, v]) => [p, p === t0 ? { a: v.a.slice(1), b: v.b } : v]))),
        /lora_A.weight: has 255 values, expected \[8, 32\] = 256/],
      ['a NaN in B', w(new Map([...ok.weights].map(([p, v]) => [p, p === t0 ? { a: v.a, b: Float32Array.from(v.b, (x, i) => (i === 5 ? NaN : x)) } : v]))),
        /transformer.h.0.attn.c_attn.lora_B.weight: value at index 5 is NaN/],
      ['weights for an untargeted module', w(new Map([...ok.weights, ['transformer.h.0.mlp.c_fc', ok.weights.get(t0)!]])), /weights are given for "transformer.h.0.mlp.c_fc", which the config does not target/],
      ['a missing bias', { ...ok, biases: new Map() }, /bias "lora_only" saves base_model.model.transformer.h.0.attn.c_attn.base_layer.bias, but no bias is given/],
      ['a bias of another module', { ...ok, biases: new Map([...ok.biases!, ['transformer.h.0.ln_1', new Float32Array(32)]]) }, /a bias is given for "transformer.h.0.ln_1", which bias "lora_only" does not save/],
      ['biases with bias "none"', { ...setup({}, gpt2()), biases: new Map([[t0, new Float32Array(96)]]) }, /biases are given .* but the config's bias is "none"/],
    ];
    for (const [name, args, message] of cases) {
      expect(() => exportLoraAdapter(args), name).toThrow(AdapterFilesError);
      expect(() => exportLoraAdapter(args), name).toThrow(message);
    }
    expect(() => exportLoraAdapter({ ...ok, config: { ...ok.config, lora_bias: true as false } })).toThrow(LoraConfigError);
    // DoRA: the magnitudes must come with use_dora, for every target, with [out] values.
    expect(() => exportLoraAdapter({ ...ok, config: { ...ok.config, use_dora: true } })).toThrow(/use_dora is true but no lora_magnitude_vector is given for the target "transformer.h.0.attn.c_attn"/);
    expect(() => exportLoraAdapter({ ...ok, magnitudes: new Map([[t0, new Float32Array(96)]]) })).toThrow(/a DoRA magnitude is given for "transformer.h.0.attn.c_attn" but use_dora is false/);
  });
});

describe('importLoraAdapter', () => {
  for (const [name, partial, model] of [
    ['gpt2', { r: 4, lora_alpha: 16, lora_dropout: 0.05, rank_pattern: { 'h.1.attn.c_attn': 2 }, alpha_pattern: { c_attn: 3.5 } }, gpt2()],
    ['gpt2 all-linear with biases', { target_modules: 'all-linear', bias: 'all', init_lora_weights: 'gaussian' }, gpt2()],
    ['llama all-linear rsLoRA', { target_modules: 'all-linear', use_rslora: true, init_lora_weights: false, r: 2 }, llama()],
    ['qwen2 lora_only', { bias: 'lora_only', target_modules: ['q_proj', 'k_proj', 'o_proj'] }, parseModelConfig({ model_type: 'qwen2', hidden_size: 32, num_attention_heads: 4, num_key_value_heads: 2, num_hidden_layers: 2, intermediate_size: 48, vocab_size: 64 })],
    ['gpt2 DoRA', { use_dora: true, r: 4, target_modules: ['c_attn', 'mlp.c_proj'] }, gpt2()],
    ['llama all-linear DoRA with lora_only', { use_dora: true, target_modules: 'all-linear', bias: 'lora_only', r: 2 }, llama({ attention_bias: true })],
  ] as [string, Partial<LoraConfig>, ModelConfig][]) {
    it(`round-trips ${name}: identical tensors, config and targets`, () => {
      const args = setup(partial, model);
      const files = exportLoraAdapter(args);
      const got = importLoraAdapter(files, model);
      expect(got.warnings).toEqual([]);
      const saved = JSON.parse(dec.decode(files.get('adapter_config.json')!));
      expect(got.config).toEqual({ ...args.config, inference_mode: true, target_modules: saved.target_modules });
      expect(got.targets).toEqual(args.targets);
      expect([...got.weights.keys()]).toEqual(args.targets.map((t) => t.path));
      for (const [p, w] of args.weights) {
        expect(got.weights.get(p)!.a).toEqual(w.a);
        expect(got.weights.get(p)!.b).toEqual(w.b);
      }
      expect(got.biases).toEqual(args.biases);
      // DoRA: use_dora true and base_model.model.<module>.lora_magnitude_vector [out] (no ".weight"), read back exactly.
      expect(saved.use_dora).toBe(Boolean(partial.use_dora));
      expect(got.magnitudes).toEqual(args.magnitudes ?? new Map());
      const mags = Object.fromEntries(Object.entries(shapes(files)).filter(([k]) => k.endsWith('.lora_magnitude_vector')));
      expect(mags).toEqual(Object.fromEntries(partial.use_dora ? args.targets.map((t) => [`base_model.model.${t.path}.lora_magnitude_vector`, [t.outFeatures]]) : []));
      // Exporting the import again gives the same bytes.
      const again = exportLoraAdapter({ ...got, model });
      for (const f of files.keys()) expect(again.get(f)).toEqual(files.get(f));
    });
  }

  const model = gpt2();
  const args = setup({ r: 4, target_modules: ['c_attn', 'mlp.c_fc'] }, model);
  const files = exportLoraAdapter(args);
  const key = (p: string, w: 'A' | 'B') => `base_model.model.${p}.lora_${w}.weight`;

  it('accepts F16 and BF16 tensors and keys that still hold the adapter name', () => {
    for (const [dtype, round] of [['F16', (x: number) => f16BitsToF32(f32ToF16Bits(x))], ['BF16', (x: number) => bf16BitsToF32(f32ToBf16Bits(x))]] as const) {
      const half = editTensors(files, (ts) => ts.map((t) => ({ ...t, dtype })));
      const got = importLoraAdapter(half, model);
      const w = args.weights.get('transformer.h.0.mlp.c_fc')!;
      expect(got.weights.get('transformer.h.0.mlp.c_fc')!.b).toEqual(Float32Array.from(w.b, round));
    }
    const named = editTensors(files, (ts) => ts.map((t) => ({ ...t, name: t.name.replace(/\.weight$/, '.default.weight') })), undefined);
    const got = importLoraAdapter(named, model);
    expect(got.weights.get('transformer.h.1.attn.c_attn')!.a).toEqual(args.weights.get('transformer.h.1.attn.c_attn')!.a);
  });

  const rename = (from: string, to: string) => editTensors(files, (ts) => ts.map((t) => (t.name === from ? { ...t, name: to } : t)));
  const drop = (name: string) => editTensors(files, (ts) => ts.filter((t) => t.name !== name));
  const cases: [string, () => Map<string, Uint8Array>, RegExp][] = [
    ['a module this base model does not have', () => rename(key('transformer.h.1.mlp.c_fc', 'A'), key('transformer.h.5.mlp.c_fc', 'A')),
      /tensor "base_model.model.transformer.h.5.mlp.c_fc.lora_A.weight": "transformer.h.5.mlp.c_fc" is not a module of this gpt2 base model/],
    ['a module the config does not target', () => rename(key('transformer.h.1.mlp.c_fc', 'A'), key('transformer.h.1.mlp.c_proj', 'A')),
      /"transformer.h.1.mlp.c_proj" is not targeted by adapter_config.json \(target_modules \["c_attn","mlp.c_fc"\]\); PEFT would not load this tensor/],
    ['a rank that differs from r', () => editConfig(files, (c) => (c.r = 8)),
      /tensor "base_model.model.transformer.h.0.attn.c_attn.lora_A.weight": has rank 4 \(shape \[4, 32\]\), but adapter_config.json gives "transformer.h.0.attn.c_attn" rank 8 \(r = 8\); expected \[8, 32\]/],
    ['a rank that differs from rank_pattern', () => editConfig(files, (c) => (c.rank_pattern = { c_fc: 2 })),
      /"transformer.h.0.mlp.c_fc" rank 2 \(r = 4 and rank_pattern \{"c_fc":2\}\)/],
    ['a missing lora_B', () => drop(key('transformer.h.1.attn.c_attn', 'B')),
      /adapter_model.safetensors: base_model.model.transformer.h.1.attn.c_attn.lora_B.weight missing; adapter_config.json targets "transformer.h.1.attn.c_attn"/],
    ['peft_type not LORA', () => editConfig(files, (c) => (c.peft_type = 'PREFIX_TUNING')), /adapter_config.json: peft_type = "PREFIX_TUNING" is invalid; expected "LORA"/],
    ['use_dora true without the magnitudes', () => editConfig(files, (c) => (c.use_dora = true)),
      /base_model.model.transformer.h.0.attn.c_attn.lora_magnitude_vector missing; adapter_config.json has use_dora true/],
    ['a DoRA magnitude vector without use_dora', () => editTensors(files, (ts) => [...ts, { name: 'base_model.model.transformer.h.0.attn.c_attn.lora_magnitude_vector', dtype: 'F32', shape: [96], data: new Float32Array(96) }]),
      /lora_magnitude_vector": a DoRA magnitude vector, but adapter_config.json has use_dora false/],
    ['a key without PEFT\'s prefix', () => rename(key('transformer.h.0.attn.c_attn', 'A'), 'transformer.h.0.attn.c_attn.lora_A.weight'),
      /tensor "transformer.h.0.attn.c_attn.lora_A.weight": expected a key starting with "base_model.model."/],
    ['an unknown tensor', () => editTensors(files, (ts) => [...ts, { name: 'base_model.model.transformer.wte.weight', dtype: 'F32', shape: [2], data: new Float32Array(2) }]),
      /"base_model.model.transformer.wte.weight": not a LoRA tensor/],
    ['lora_A stored twice', () => editTensors(files, (ts) => [...ts, { ...ts.find((t) => t.name === key('transformer.h.0.attn.c_attn', 'A'))!, name: 'base_model.model.transformer.h.0.attn.c_attn.lora_A.default.weight' }]),
      /lora_A of "transformer.h.0.attn.c_attn" is stored twice/],
    ['a bias under the wrong name', () => editTensors(files, (ts) => [...ts, { name: 'base_model.model.transformer.h.0.attn.c_attn.bias', dtype: 'F32', shape: [96], data: new Float32Array(96) }]),
      /"transformer.h.0.attn.c_attn" is adapted by adapter_config.json, so PEFT names its bias "base_model.model.transformer.h.0.attn.c_attn.base_layer.bias"/],
    ['a missing adapter_config.json', () => new Map([...files].filter(([f]) => f !== 'adapter_config.json')), /adapter_config.json is missing/],
    ['a pickle instead of safetensors', () => new Map([['adapter_config.json', files.get('adapter_config.json')!], ['adapter_model.bin', new Uint8Array(4)]]),
      /adapter_model.bin is a pickle, which is never read here/],
    ['an unknown config field with a value', () => editConfig(files, (c) => (c.use_something_new = true)), /unknown field "use_something_new" = true/],
  ];
  for (const [name, make, message] of cases) {
    it(`refuses ${name}`, () => {
      expect(() => importLoraAdapter(make(), model)).toThrow(message);
    });
  }

  it('refuses an adapter for another base model (in/out features)', () => {
    const big = gpt2(64);
    const other = exportLoraAdapter(setup({ r: 4 }, big));
    expect(() => importLoraAdapter(other, model)).toThrow(
      /tensor "base_model.model.transformer.h.0.attn.c_attn.lora_A.weight": has shape \[4, 64\], but "transformer.h.0.attn.c_attn" of this base model has in_features 32 \(expected \[4, 32\]\); is the adapter for another base model\?/,
    );
    const l = llama();
    const gqa = exportLoraAdapter(setup({ target_modules: ['v_proj'] }, l));
    expect(() => importLoraAdapter(gqa, llama({ num_key_value_heads: 4 }))).toThrow(/"model.layers.0.self_attn.v_proj" of this base model has out_features 32 \(expected \[32, 8\]\)/);
    expect(() => importLoraAdapter(files, llama())).toThrow(/target_modules \["c_attn","mlp.c_fc"\] match no module of this llama model/);
  });

  it('warns about biases PEFT would only warn about', () => {
    const lo = setup({ bias: 'lora_only' }, model);
    const withoutBias = editTensors(exportLoraAdapter(lo), (ts) => ts.filter((t) => !t.name.endsWith('.bias')));
    expect(importLoraAdapter(withoutBias, model).warnings.join('\n')).toMatch(/bias is "lora_only" but 2 of 2 biases are not in the file/);
  });
});

describe('readAdapterFiles', () => {
  const source = (files: Record<string, Uint8Array>): ModelSource => ({
    description: 'folder /adapters/x',
    exists: async (f) => f in files,
    read: async (f) => files[f],
  });
  it('reads adapter_config.json and adapter_model.safetensors, and refuses a pickle', async () => {
    const files = exportLoraAdapter(setup({}, gpt2()));
    const all = Object.fromEntries(files);
    const got = await readAdapterFiles(source(all));
    expect([...got.keys()]).toEqual(['adapter_config.json', 'adapter_model.safetensors']);
    expect(importLoraAdapter(got, gpt2()).targets).toHaveLength(2);
    await expect(readAdapterFiles(source({ 'adapter_config.json': all['adapter_config.json'], 'adapter_model.bin': new Uint8Array(1) }))).rejects.toThrow(
      /folder \/adapters\/x: only adapter_model.bin \(a pickle\) is there, which is never read here/,
    );
    await expect(readAdapterFiles(source({ 'adapter_model.safetensors': all['adapter_model.safetensors'] }))).rejects.toThrow(/adapter_config.json not found/);
    await expect(readAdapterFiles(source({ 'adapter_config.json': all['adapter_config.json'] }))).rejects.toThrow(/adapter_model.safetensors not found/);
  });
});
