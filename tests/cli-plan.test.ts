/**
 * `peft-studio plan`, run as a user runs it against a loopback Hub that holds only the real models' config.json:
 * it reads that file and nothing else, and its numbers are the memory plan's. The issue's targets: SmolLM2-135M at
 * batch 4 × 512 with nf4 weights peaks under 2 GiB; Qwen2.5-0.5B needs gradient checkpointing for that, and a
 * device whose buffers hold its 545 MB embedding table.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { planMemory, WEBGPU_DEFAULT_LIMITS } from '../src/engine/memory-plan';
import { parseModelConfig } from '../src/model/config';
import { planMethodOf } from '../src/methods/plan-method';
import { cliAsync as cli } from './helpers/cli';
import { startHubServer, type HubServer } from './helpers/hub-server';

/** The two config.json files as the Hub serves them (the fields the studio reads). */
const SMOLLM2_135M = {
  architectures: ['LlamaForCausalLM'], model_type: 'llama', hidden_size: 576, intermediate_size: 1536, num_attention_heads: 9,
  num_key_value_heads: 3, num_hidden_layers: 30, vocab_size: 49152, max_position_embeddings: 8192, rms_norm_eps: 1e-5,
  rope_theta: 100000, tie_word_embeddings: true, hidden_act: 'silu', bos_token_id: 0, eos_token_id: 0,
};
const QWEN25_05B = {
  architectures: ['Qwen2ForCausalLM'], model_type: 'qwen2', hidden_size: 896, intermediate_size: 4864, num_attention_heads: 14,
  num_key_value_heads: 2, num_hidden_layers: 24, vocab_size: 151936, max_position_embeddings: 32768, rms_norm_eps: 1e-6,
  rope_theta: 1000000, tie_word_embeddings: true, hidden_act: 'silu', bos_token_id: 151643, eos_token_id: 151643,
};
const GIB = 2 ** 30;

interface PlanJson {
  label: string;
  weights: number;
  adapter: number;
  activations: number;
  peak: number;
  largest_buffer: { name: string; bytes: number };
  problems: string[];
  changes: { change: string; value: unknown; peak: number }[];
}
interface PlanOutput {
  chosen: PlanJson;
  limits: { maxStorageBufferBindingSize: number; source: string };
  formats: Record<string, { plain: PlanJson; gradient_checkpointing: PlanJson }>;
}

describe('peft-studio plan', () => {
  let hub: HubServer;
  const dir = mkdtempSync(join(tmpdir(), 'peft-studio-plan-'));
  const json = (o: object) => new TextEncoder().encode(JSON.stringify(o));
  beforeAll(async () => {
    hub = await startHubServer({
      'HuggingFaceTB/SmolLM2-135M': { files: new Map([['config.json', json(SMOLLM2_135M)]]) },
      'Qwen/Qwen2.5-0.5B': { files: new Map([['config.json', json(QWEN25_05B)]]) },
    });
  });
  afterAll(() => hub.close());
  const plan = async (args: string[]) => {
    const r = await cli(['plan', ...args], dir, { PEFT_STUDIO_HUB_ENDPOINT: hub.endpoint });
    expect(r.code, r.stderr).toBe(0);
    return r;
  };

  it('SmolLM2-135M, batch 4 × 512, nf4: reads config.json only, and fits 2 GiB without checkpointing', async () => {
    const before = hub.requests.length;
    const r = await plan(['--model', 'HuggingFaceTB/SmolLM2-135M', '--batch', '4', '--seq', '512', '--quant', 'nf4', '--limits', 'webgpu', '--json']);
    const paths = hub.requests.slice(before).map((q) => q.path);
    expect(paths.length).toBeGreaterThan(0);
    expect(paths.every((p) => p.endsWith('/config.json')), paths.join(', ')).toBe(true);
    const out = JSON.parse(r.stdout) as PlanOutput;
    expect(out.limits.maxStorageBufferBindingSize).toBe(WEBGPU_DEFAULT_LIMITS.maxStorageBufferBindingSize);
    expect(out.chosen.label).toBe('fits');
    expect(out.chosen.peak).toBeLessThanOrEqual(2 * GIB);
    // The output is the plan's, for every format, with and without checkpointing.
    const config = parseModelConfig(SMOLLM2_135M);
    const method = planMethodOf('lora', {}, config, { nameOrPath: 'HuggingFaceTB/SmolLM2-135M' });
    for (const format of ['f32', 'q8', 'q4', 'nf4'] as const) {
      for (const gradientCheckpointing of [false, true]) {
        const p = planMemory({ config, batch: 4, seqLen: 512, format, gradientCheckpointing, method, limits: WEBGPU_DEFAULT_LIMITS });
        const got = out.formats[format][gradientCheckpointing ? 'gradient_checkpointing' : 'plain'];
        expect({ weights: got.weights, adapter: got.adapter, activations: got.activations, peak: got.peak }).toEqual({
          weights: p.weights, adapter: p.adapter, activations: p.activations, peak: p.peak,
        });
      }
    }
    // Fewer bits per weight and checkpointing each cost less memory.
    expect(out.formats.nf4.plain.weights).toBeLessThan(out.formats.q8.plain.weights);
    expect(out.formats.q8.plain.weights).toBeLessThan(out.formats.f32.plain.weights);
    expect(out.formats.nf4.gradient_checkpointing.activations).toBeLessThan(out.formats.nf4.plain.activations / 4);
  }, 60_000);

  it("Qwen2.5-0.5B, batch 4 × 512, nf4: over 2 GiB without checkpointing, under with it; WebGPU's default limits refuse its embedding table", async () => {
    const plain = JSON.parse((await plan(['--model', 'Qwen/Qwen2.5-0.5B', '--batch', '4', '--seq', '512', '--quant', 'nf4', '--limits', 'webgpu', '--json'])).stdout) as PlanOutput;
    expect(plain.chosen.label).toBe('wont-fit');
    expect(plain.chosen.peak).toBeGreaterThan(2 * GIB);
    expect(plain.chosen.largest_buffer.bytes).toBe(4 * 151936 * 896);
    expect(plain.chosen.problems.join('\n')).toContain('the token embedding table [151936, 896]');
    expect(plain.chosen.problems.join('\n')).toContain('maxStorageBufferBindingSize');
    expect(plain.chosen.problems.join('\n')).toContain('over the memory budget');
    const checkpointed = JSON.parse(
      (await plan(['--model', 'Qwen/Qwen2.5-0.5B', '--batch', '4', '--seq', '512', '--quant', 'nf4', '--gradient-checkpointing', '--limits', 'webgpu', '--json'])).stdout,
    ) as PlanOutput;
    expect(checkpointed.chosen.peak).toBeLessThanOrEqual(2 * GIB);
    expect(checkpointed.chosen.problems.join('\n')).not.toContain('over the memory budget');
  }, 60_000);

  it('prints a table of every format, the label of the chosen run, and what would make it fit', async () => {
    const r = await plan(['--model', 'Qwen/Qwen2.5-0.5B', '--batch', '4', '--seq', '512', '--quant', 'nf4', '--budget', '64', '--limits', 'webgpu']);
    for (const format of ['f32', 'q8', 'q4', 'nf4']) expect(r.stdout).toMatch(new RegExp(`^${format} `, 'm'));
    expect(r.stdout).toContain("nf4: won't fit");
    expect(r.stdout).toContain('maxStorageBufferBindingSize');
    const tight = await plan(['--model', 'HuggingFaceTB/SmolLM2-135M', '--batch', '4', '--seq', '512', '--quant', 'f32', '--budget', '1.5', '--limits', 'webgpu']);
    expect(tight.stdout).toMatch(/f32: won't fit, peak \d\.\d\d GiB/);
    expect(tight.stdout).toMatch(/fits with: .*gradient checkpointing/);
  }, 60_000);

  it('refuses a model without config.json, naming the file', async () => {
    const r = await cli(['plan', '--model', 'HuggingFaceTB/missing'], dir, { PEFT_STUDIO_HUB_ENDPOINT: hub.endpoint });
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain('config.json');
  }, 60_000);
});
