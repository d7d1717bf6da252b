/**
 * --method on the command line: a prompt-tuning run with TEXT init on the tiny Llama writes PEFT's files for it,
 * generate and score take the adapter (scoring skips the virtual tokens' rows), and another method's option is
 * refused naming the flag and its method. For IA³ and DoRA, `score --adapter` on the exported folder gives the
 * log-probabilities that the float64 reference computes from the same files read PEFT's way (PEFT's formulas:
 * src/methods/ia3/reference.ts, src/methods/lora/reference.ts).
 */
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ia3Reference } from '../src/methods/ia3/reference';
import { loraReference } from '../src/methods/lora/reference';
import { parseSafetensors } from '../src/model-io/safetensors';
import type { ReferenceMethod } from '../src/model/reference/method-hooks';
import { referenceForward } from '../src/model/reference/reference-model';
import { importLoraAdapter } from '../src/peft/adapter-files';
import { importIa3Adapter } from '../src/peft/ia3-files';
import { loraScaling } from '../src/peft/lora-scaling';
import { makeTinyModel } from './fixtures/tiny-models';
import { cliAsync as cli } from './helpers/cli';
import { expectClose } from './helpers/compare';
import { loadTinyModel } from './helpers/tiny-training';

/** An adapter folder's files. */
function folder(dir: string): Map<string, Uint8Array> {
  return new Map(['adapter_config.json', 'adapter_model.safetensors'].map((n) => [n, new Uint8Array(readFileSync(join(dir, n)))]));
}

/** log p(ids[t+1] | ids[..t]) from the float64 reference's logits, with the adapter applied as PEFT applies it. */
async function referenceLogprobs(ids: number[], method: ((config: Awaited<ReturnType<typeof loadTinyModel>>['config']) => ReferenceMethod) | null): Promise<number[]> {
  const m = await loadTinyModel('llama');
  const V = m.config.vocabSize;
  const logits = referenceForward(m.config, m.weights, { inputIds: [ids] }, method?.(m.config));
  return ids.slice(1).map((next, t) => {
    const row = logits.subarray(t * V, (t + 1) * V);
    const max = Math.max(...row);
    return row[next] - max - Math.log(row.reduce((a, v) => a + Math.exp(v - max), 0));
  });
}

/** `score --adapter DIR --text T --json` against the reference on the same files. */
async function expectScoreMatchesReference(dir: string, adapter: string, method: (config: Awaited<ReturnType<typeof loadTinyModel>>['config']) => ReferenceMethod): Promise<void> {
  const score = await cli(['score', '--model', 'model', '--adapter', adapter, '--text', 'cat says meow', '--json'], dir);
  expect(score.code, score.stderr).toBe(0);
  const s = JSON.parse(score.stdout) as { ids: number[]; logprobs: number[] };
  const want = await referenceLogprobs(s.ids, method);
  expectClose(`${adapter} log-probs`, s.logprobs, want, { atol: 1e-4, rtol: 1e-4 });
  // The trained adapter moves them well beyond that tolerance.
  const base = await referenceLogprobs(s.ids, null);
  expect(Math.max(...want.map((v, i) => Math.abs(v - base[i])))).toBeGreaterThan(1e-2);
}

describe('peft-studio train --method', () => {
  const dir = mkdtempSync(join(tmpdir(), 'peft-studio-methods-'));
  mkdirSync(join(dir, 'model'));
  for (const [name, bytes] of makeTinyModel('llama')) writeFileSync(join(dir, 'model', name), bytes);
  writeFileSync(join(dir, 'data.jsonl'), ['cat says meow', 'dog says woof', 'cow says moo'].map((text) => JSON.stringify({ text })).join('\n'));

  it('trains prompt tuning from a hard prompt, and generate and score use the adapter', async () => {
    const train = await cli(
      ['train', '--model', 'model', '--data', 'data.jsonl', '--out', 'pt', '--method', 'prompt-tuning', '--virtual-tokens', '5', '--prompt-init', 'TEXT',
        '--prompt-init-text', 'animal sounds', '--steps', '3', '--lr', '0.1', '--batch', '3'],
      dir,
    );
    expect(train.code, train.stderr).toBe(0);
    expect(train.stderr).toMatch(/trainable params: 160 \|\| all params: [\d,]+ \|\| trainable%: /);
    const config = JSON.parse(readFileSync(join(dir, 'pt', 'adapter_config.json'), 'utf8'));
    expect(config).toMatchObject({ peft_type: 'PROMPT_TUNING', num_virtual_tokens: 5, token_dim: 32, prompt_tuning_init: 'TEXT', prompt_tuning_init_text: 'animal sounds', tokenizer_name_or_path: 'model' });
    const st = parseSafetensors(new Uint8Array(readFileSync(join(dir, 'pt', 'adapter_model.safetensors'))), 'adapter');
    expect(st.tensors.get('prompt_embeddings')?.shape).toEqual([5, 32]);

    const gen = await cli(['generate', '--model', 'model', '--adapter', 'pt', '--prompt', 'cat says', '--max-new-tokens', '3', '--json'], dir);
    expect(gen.code, gen.stderr).toBe(0);
    expect(JSON.parse(gen.stdout).ids.length).toBeGreaterThan(0);
    const score = await cli(['score', '--model', 'model', '--adapter', 'pt', '--text', 'cat says meow', '--json'], dir);
    expect(score.code, score.stderr).toBe(0);
    const s = JSON.parse(score.stdout);
    expect(s.logprobs).toHaveLength(s.ids.length - 1);
    for (const lp of s.logprobs) expect(lp).toBeLessThan(0);
  }, 300_000);

  it('trains IA³ (--method ia3): PEFT\'s files with ia3_l (out, 1) and (1, in); feed-forward modules outside the targets are refused', async () => {
    const train = await cli(
      ['train', '--model', 'model', '--data', 'data.jsonl', '--out', 'ia3', '--method', 'ia3', '--ia3-target', 'k_proj,down_proj', '--feedforward-modules', 'down_proj',
        '--steps', '2', '--lr', '0.1', '--batch', '3'],
      dir,
    );
    expect(train.code, train.stderr).toBe(0);
    const config = JSON.parse(readFileSync(join(dir, 'ia3', 'adapter_config.json'), 'utf8'));
    expect(config).toMatchObject({ peft_type: 'IA3', task_type: 'CAUSAL_LM', target_modules: ['down_proj', 'k_proj'], feedforward_modules: ['down_proj'], init_ia3_weights: true, fan_in_fan_out: false });
    const st = parseSafetensors(new Uint8Array(readFileSync(join(dir, 'ia3', 'adapter_model.safetensors'))), 'adapter');
    const shapes = Object.fromEntries([...st.tensors].map(([k, t]) => [k, t.shape]));
    const expected: Record<string, number[]> = {};
    for (const l of [0, 1]) {
      expected[`base_model.model.model.layers.${l}.self_attn.k_proj.ia3_l`] = [16, 1]; // (kv heads · head dim, 1): output-scaled
      expected[`base_model.model.model.layers.${l}.mlp.down_proj.ia3_l`] = [1, 48]; // (1, intermediate): input-scaled
    }
    expect(shapes).toEqual(expected);
    await expectScoreMatchesReference(dir, 'ia3', (c) => {
      const a = importIa3Adapter(folder(join(dir, 'ia3')), c);
      return ia3Reference(c, new Map(a.targets.map((t) => [t.path, { feedforward: t.feedforward, l: a.vectors.get(t.path)! }])));
    });

    const bad = await cli(['train', '--model', 'model', '--data', 'data.jsonl', '--out', 'x', '--method', 'ia3', '--ia3-target', 'k_proj,v_proj', '--feedforward-modules', 'down_proj'], dir);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain('feedforward_modules = ["down_proj"] is invalid; it must be a subset of target_modules');
  }, 300_000);

  it('trains bottleneck adapters (--method bottleneck): AdapterHub\'s files, read back by --adapter; a bottleneck size of 0 is refused', async () => {
    const train = await cli(
      ['train', '--model', 'model', '--data', 'data.jsonl', '--out', 'bn', '--method', 'bottleneck', '--bottleneck-config', 'houlsby', '--reduction-factor', '8',
        '--non-linearity', 'tanh', '--steps', '2', '--lr', '0.01', '--batch', '3'],
      dir,
    );
    expect(train.code, train.stderr).toBe(0);
    const config = JSON.parse(readFileSync(join(dir, 'bn', 'adapter_config.json'), 'utf8'));
    expect(config).toMatchObject({
      model_type: 'llama', hidden_size: 32, model_class: 'LlamaForCausalLM', name: 'bottleneck', version: 'adapters.1.2.0',
      config: { architecture: 'bottleneck', mh_adapter: true, output_adapter: true, reduction_factor: 8, non_linearity: 'tanh', original_ln_before: false },
    });
    expect(config.peft_type).toBeUndefined();
    const st = parseSafetensors(new Uint8Array(readFileSync(join(dir, 'bn', 'adapter.safetensors'))), 'adapter');
    const shapes = Object.fromEntries([...st.tensors].map(([k, t]) => [k, t.shape]));
    const expected: Record<string, number[]> = {};
    for (const l of [0, 1]) {
      for (const place of ['attention_adapters', 'output_adapters']) {
        const p = `model.layers.${l}.${place}.adapters.bottleneck`;
        expected[`${p}.adapter_down.0.weight`] = [4, 32]; // bottleneck 32 // 8 = 4
        expected[`${p}.adapter_down.0.bias`] = [4];
        expected[`${p}.adapter_up.weight`] = [32, 4];
        expected[`${p}.adapter_up.bias`] = [32];
      }
    }
    expect(shapes).toEqual(expected);
    const gen = await cli(['generate', '--model', 'model', '--adapter', 'bn', '--prompt', 'cat says', '--max-new-tokens', '2', '--json'], dir);
    expect(gen.code, gen.stderr).toBe(0);

    const bad = await cli(['train', '--model', 'model', '--data', 'data.jsonl', '--out', 'x', '--method', 'bottleneck', '--reduction-factor', '64'], dir);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain('reduction_factor = 64 gives a bottleneck size of 0 (hidden_size 32 // 64)');
  }, 300_000);

  it("refuses another method's option, naming the flag and the method it belongs to", async () => {
    const r = await cli(['train', '--model', 'model', '--data', 'data.jsonl', '--out', 'x', '--method', 'prefix-tuning', '--r', '4'], dir);
    expect(r.code).toBe(1);
    expect(r.stderr.trim()).toBe('peft-studio: --r is an option of LoRA, not of Prefix tuning (--method prefix-tuning) (see peft-studio --help)');
    const bad = await cli(['train', '--model', 'model', '--data', 'data.jsonl', '--out', 'x', '--method', 'prompt-tuning', '--virtual-tokens', '0'], dir);
    expect(bad.code).toBe(1);
    expect(bad.stderr.trim()).toBe('peft-studio: --virtual-tokens 0: expected an integer ≥ 1 (num_virtual_tokens) (see peft-studio --help)');
    // LoRA+ speeds up lora_B: with another method the ratio is refused, naming the setting.
    const plus = await cli(['train', '--model', 'model', '--data', 'data.jsonl', '--out', 'x', '--method', 'prompt-tuning', '--virtual-tokens', '4', '--loraplus-lr-ratio', '16'], dir);
    expect(plus.code).toBe(1);
    expect(plus.stderr).toContain('loraplusLrRatio (--loraplus-lr-ratio) = 16: LoRA+ applies to LoRA only');
  }, 120_000);

  it('trains LoRA+ (--loraplus-lr-ratio): the log and the model card say so, adapter_config.json does not', async () => {
    const r = await cli(['train', '--model', 'model', '--data', 'data.jsonl', '--out', 'plus', '--loraplus-lr-ratio', '16', '--steps', '2', '--batch', '3'], dir);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toContain('LoRA+: lora_B learns at 16 × the learning rate of lora_A');
    expect(readFileSync(join(dir, 'plus', 'README.md'), 'utf8')).toContain('AdamW with LoRA+ (lora_B at 16 × the learning rate)');
    expect(readFileSync(join(dir, 'plus', 'adapter_config.json'), 'utf8')).not.toMatch(/loraplus/i);
  }, 300_000);

  it('trains DoRA (--use-dora): use_dora and a lora_magnitude_vector [out] per adapted layer; --use-dora with another method is refused', async () => {
    const r = await cli(['train', '--model', 'model', '--data', 'data.jsonl', '--out', 'dora', '--use-dora', '--steps', '2', '--lr', '0.05', '--batch', '3'], dir);
    expect(r.code, r.stderr).toBe(0);
    // q_proj 32 → 32 and v_proj 32 → 16 at r = 8 in 2 layers: 2·(8·64 + 8·48) LoRA + 2·(32 + 16) magnitudes.
    expect(r.stderr).toMatch(/trainable params: 1,888 \|\| all params: /);
    const config = JSON.parse(readFileSync(join(dir, 'dora', 'adapter_config.json'), 'utf8'));
    expect(config).toMatchObject({ peft_type: 'LORA', use_dora: true, lora_bias: false });
    const st = parseSafetensors(new Uint8Array(readFileSync(join(dir, 'dora', 'adapter_model.safetensors'))), 'adapter');
    const shapes = Object.fromEntries([...st.tensors].filter(([k]) => k.includes('magnitude')).map(([k, t]) => [k, t.shape]));
    const expected: Record<string, number[]> = {};
    for (const l of [0, 1]) {
      expected[`base_model.model.model.layers.${l}.self_attn.q_proj.lora_magnitude_vector`] = [32];
      expected[`base_model.model.model.layers.${l}.self_attn.v_proj.lora_magnitude_vector`] = [16];
    }
    expect(shapes).toEqual(expected);
    await expectScoreMatchesReference(dir, 'dora', (c) => {
      const a = importLoraAdapter(folder(join(dir, 'dora')), c);
      const scale = loraScaling(a.config.lora_alpha, a.config.r, a.config.use_rslora);
      return loraReference(c, new Map([...a.weights].map(([path, w]) => [path, { a: w.a, b: w.b, r: a.config.r, scale, dropoutP: 0, seed: 0, magnitude: a.magnitudes.get(path) }])));
    });
    const bad = await cli(['train', '--model', 'model', '--data', 'data.jsonl', '--out', 'x', '--method', 'ia3', '--use-dora'], dir);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain('--use-dora is an option of LoRA');
  }, 300_000);
});
