/**
 * `peft-studio export --format merged` and `peft-studio push`. Export, on the tiny GPT-2 (Conv1D, fused qkv, trained biases): the merged folder,
 * scored without an adapter on the GPU engine, gives the log-probabilities of the base model scored with the
 * adapter (f32: within 1e-4 nats per token; that the random adapter moves the log-probabilities far more is checked
 * in tests/merged-model.test.ts); a prompt-learning adapter and a non-empty --out are refused. Push: the adapter
 * folder's files (not its checkpoint/) arrive in a new repo of the loopback Hub, an ONNX folder with its onnx/; no
 * HF_TOKEN is an error. ONNX: `export --format onnx --quant q8,q4` writes transformers.js's files, which
 * onnxruntime-web runs.
 */
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { OnnxCausalLM } from '../src/deploy/onnx/onnx-causal-lm';
import { loadModel } from '../src/model-io/load-model';
import { NodeFolderSource } from '../src/model-io/node-folder-source';
import { linearModules } from '../src/model/weight-names';
import { makeTinyModel } from './fixtures/tiny-models';
import { cliAsync as cli } from './helpers/cli';
import { startHubServer } from './helpers/hub-server';
import { randomLoraFiles } from './helpers/random-lora-files';

function writeFolder(dir: string, files: ReadonlyMap<string, Uint8Array>): void {
  mkdirSync(dir, { recursive: true });
  for (const [name, bytes] of files) writeFileSync(join(dir, name), bytes);
}

describe('peft-studio export --format merged', () => {
  const dir = mkdtempSync(join(tmpdir(), 'peft-studio-export-'));
  beforeAll(async () => {
    writeFolder(join(dir, 'model'), makeTinyModel('gpt2'));
    const loaded = await loadModel(new NodeFolderSource(join(dir, 'model')));
    const targets = [...new Set(linearModules(loaded.config).map((m) => m.shortName))];
    writeFolder(join(dir, 'adapter'), randomLoraFiles(loaded.config, loaded.weights, { targets, r: 4, alpha: 8, bias: 'lora_only', seed: 5 }).files);
  });

  it('writes a model that scores without the adapter as the base model scores with it', async () => {
    const out = await cli(['export', '--model', 'model', '--adapter', 'adapter', '--out', 'merged'], dir);
    expect(out.code, out.stderr).toBe(0);
    expect(out.stderr).toMatch(/LoRA adapter merged into model; wrote config\.json, generation_config\.json, .*model\.safetensors to merged \(F32: model\.safetensors [\d.]+ MiB\)/);
    expect(readdirSync(join(dir, 'merged'))).toEqual(expect.arrayContaining(['config.json', 'generation_config.json', 'model.safetensors', 'tokenizer.json']));

    const score = async (args: string[]) => {
      const r = await cli(['score', ...args, '--text', 'cat says meow, dog says woof', '--json', '--kernels', 'direct'], dir);
      expect(r.code, r.stderr).toBe(0);
      return JSON.parse(r.stdout) as { ids: number[]; logprobs: number[] };
    };
    const merged = await score(['--model', 'merged']);
    const adapted = await score(['--model', 'model', '--adapter', 'adapter']);
    expect(merged.ids).toEqual(adapted.ids);
    expect(merged.logprobs.length).toBeGreaterThan(5);
    merged.logprobs.forEach((lp, i) => expect(Math.abs(lp - adapted.logprobs[i]), `token ${i}: merged ${lp}, adapted ${adapted.logprobs[i]}`).toBeLessThan(1e-4));
  }, 400_000);

  it('--format onnx writes the transformers.js folder with the q8 and q4 variants, which onnxruntime-web runs', async () => {
    const out = await cli(['export', '--model', 'model', '--adapter', 'adapter', '--out', 'onnx', '--format', 'onnx', '--quant', 'q8,q4'], dir);
    expect(out.code, out.stderr).toBe(0);
    expect(readdirSync(join(dir, 'onnx')).sort()).toEqual(['config.json', 'generation_config.json', 'onnx', 'tokenizer.json', 'tokenizer_config.json']);
    const onnxFiles = readdirSync(join(dir, 'onnx', 'onnx')).sort();
    expect(onnxFiles).toEqual(['decoder_model_merged.onnx', 'decoder_model_merged_quantized.onnx', 'model.onnx', 'model_q4.onnx', 'model_quantized.onnx']);
    const config = (await loadModel(new NodeFolderSource(join(dir, 'model')))).config;
    for (const file of onnxFiles) {
      const lm = await OnnxCausalLM.create({ model: readFileSync(join(dir, 'onnx', 'onnx', file)) }, config);
      const logits = await lm.logits([[1, 2, 3]], [[1, 1, 1]]);
      expect(logits.length).toBe(3 * config.vocabSize);
      expect(logits.every(Number.isFinite), file).toBe(true);
      await lm.release();
    }

    const bad = await cli(['export', '--model', 'model', '--adapter', 'adapter', '--out', 'onnx-bad', '--format', 'onnx', '--quant', 'q3'], dir);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/--quant q3: "q3" is not a quantization; expected q8 or q4/);
    const f16 = await cli(['export', '--model', 'model', '--adapter', 'adapter', '--out', 'onnx-bad', '--format', 'onnx', '--dtype', 'F16'], dir);
    expect(f16.stderr).toMatch(/--dtype F16 applies to --format merged; ONNX is written in float32/);
  }, 200_000);

  it('refuses a prompt-learning adapter and a folder that is not empty, saying why', async () => {
    writeFolder(join(dir, 'prompt'), new Map([['adapter_config.json', new TextEncoder().encode(JSON.stringify({ peft_type: 'PROMPT_TUNING' }))]]));
    writeFileSync(join(dir, 'prompt', 'adapter_model.safetensors'), new Uint8Array(8));
    const prompt = await cli(['export', '--model', 'model', '--adapter', 'prompt', '--out', 'merged-prompt'], dir);
    expect(prompt.code).toBe(1);
    expect(prompt.stderr).toMatch(/a Prompt tuning adapter \(peft_type PROMPT_TUNING\) cannot be merged into the model/);
    expect(readdirSync(dir)).not.toContain('merged-prompt');

    writeFolder(join(dir, 'busy'), new Map([['keep.txt', new Uint8Array([1])]]));
    const busy = await cli(['export', '--model', 'model', '--adapter', 'adapter', '--out', 'busy'], dir);
    expect(busy.code).toBe(1);
    expect(busy.stderr).toMatch(/--out busy is not empty \(it holds keep\.txt\); give a new or empty folder/);
  }, 120_000);

  it('push: sends the folder\'s files to a new Hub repo with the token in HF_TOKEN', async () => {
    mkdirSync(join(dir, 'adapter', 'checkpoint'), { recursive: true });
    writeFileSync(join(dir, 'adapter', 'checkpoint', 'step.bin'), new Uint8Array(4));
    const hub = await startHubServer({}, { writeToken: 'hf_w' });
    try {
      const env = { PEFT_STUDIO_HUB_ENDPOINT: hub.endpoint };
      const noToken = await cli(['push', '--repo', 'me/tiny-lora', 'adapter'], dir, { ...env, HF_TOKEN: '' });
      expect(noToken.code).toBe(1);
      expect(noToken.stderr).toContain('push needs a Hub token with write access in HF_TOKEN');
      const pushed = await cli(['push', '--repo', 'me/tiny-lora', 'adapter'], dir, { ...env, HF_TOKEN: 'hf_w' });
      expect(pushed.code, pushed.stderr).toBe(0);
      expect(pushed.stdout.trim()).toBe(`${hub.endpoint}/me/tiny-lora`);
      expect(hub.commits).toHaveLength(1);
      expect([...hub.commits[0].files.keys()].sort()).toEqual(['README.md', 'adapter_config.json', 'adapter_model.safetensors']);
      expect(hub.commits[0].files.get('adapter_model.safetensors')).toEqual(new Uint8Array(readFileSync(join(dir, 'adapter', 'adapter_model.safetensors'))));

      // An ONNX export goes up with its onnx/ folder, where transformers.js looks for it.
      const onnx = await cli(['push', '--repo', 'me/tiny-onnx', 'onnx'], dir, { ...env, HF_TOKEN: 'hf_w' });
      expect(onnx.code, onnx.stderr).toBe(0);
      expect([...hub.commits[1].files.keys()].filter((n) => n.startsWith('onnx/')).sort()).toEqual(readdirSync(join(dir, 'onnx', 'onnx')).map((n) => `onnx/${n}`).sort());
      expect(Buffer.from(hub.commits[1].files.get('onnx/model.onnx')!).equals(readFileSync(join(dir, 'onnx', 'onnx', 'model.onnx')))).toBe(true);
    } finally {
      await hub.close();
    }
  }, 120_000);
});
