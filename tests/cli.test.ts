/** The peft-studio command line, run as a user runs it (bin/peft-studio.mjs), on a tiny model. */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseSafetensors } from '../src/model-io/safetensors';
import { makeTinyModel } from './fixtures/tiny-models';
import { startHubServer } from './helpers/hub-server';
import { CLI_BIN, cliAsync } from './helpers/cli';

const ROOT = join(__dirname, '..');
const BIN = CLI_BIN;

function cli(args: string[], cwd: string) {
  const r = spawnSync(process.execPath, [BIN, ...args], { cwd, encoding: 'utf8', timeout: 240_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** The development script that writes a tiny test model (scripts/make-tiny-model.ts), run as `npm run` runs it. */
function makeTinyModelScript(args: string[]) {
  const r = spawnSync('npm', ['run', '--silent', 'make-tiny-model', '--', ...args], { cwd: ROOT, encoding: 'utf8', timeout: 60_000 });
  return { code: r.status, stderr: r.stderr };
}

// Each CLI run starts Dawn and compiles its shaders: the training tests take 60–100 s on SwiftShader under load.
describe('peft-studio', () => {
  const dir = mkdtempSync(join(tmpdir(), 'peft-studio-cli-'));
  writeFileSync(
    join(dir, 'data.jsonl'),
    ['{"prompt": "cat says", "completion": " meow"}', '{"prompt": "dog says", "completion": " woof"}', '{"prompt": "cow says", "completion": " moo"}'].join('\n'),
  );

  it('makes a tiny model, trains an adapter on it, generates and scores with it', () => {
    const made = makeTinyModelScript(['--arch', 'qwen2', '--out', join(dir, 'tiny')]);
    expect(made.code, made.stderr).toBe(0);
    const train = cli(['train', '--model', 'tiny', '--data', 'data.jsonl', '--out', 'adapter', '--steps', '6', '--lr', '1e-2', '--batch', '3', '--target', 'q_proj,v_proj', '--bias', 'lora_only', '--save-every', '3'], dir);
    expect(train.code, train.stderr).toBe(0);
    expect(train.stderr).toMatch(/trainable params: [\d,]+ \|\| all params: [\d,]+ \|\| trainable%: \d+\.\d{4}/);
    const log = readFileSync(join(dir, 'adapter', 'train_log.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    expect(log.map((l) => l.step)).toEqual([1, 2, 3, 4, 5, 6]);
    for (const l of log) expect(Object.keys(l).sort()).toEqual(['grad_norm', 'loss', 'lr', 'step', 'tokens_per_s', 'val_loss']);
    const st = parseSafetensors(new Uint8Array(readFileSync(join(dir, 'adapter', 'adapter_model.safetensors'))), 'adapter');
    expect([...st.tensors.keys()]).toContain('base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight');
    // bias="lora_only": the trained biases of the adapted (biased) layers, under PEFT's base_layer names.
    expect(st.tensors.get('base_model.model.model.layers.1.self_attn.v_proj.base_layer.bias')?.shape).toEqual([16]);
    expect(JSON.parse(readFileSync(join(dir, 'adapter', 'adapter_config.json'), 'utf8')).peft_type).toBe('LORA');
    expect(existsSync(join(dir, 'adapter', 'checkpoint', 'trainer_state.json'))).toBe(true);

    const gen = cli(['generate', '--model', 'tiny', '--adapter', 'adapter', '--prompt', 'cat says', '--max-new-tokens', '5', '--json'], dir);
    expect(gen.code, gen.stderr).toBe(0);
    const g = JSON.parse(gen.stdout);
    expect(g.ids.length).toBeLessThanOrEqual(5);
    expect(typeof g.completion).toBe('string');

    // Continue training from the exported adapter: the first loss is the loss the adapter left off near.
    const more = cli(['train', '--model', 'tiny', '--data', 'data.jsonl', '--out', 'adapter2', '--adapter', 'adapter', '--steps', '2', '--lr', '1e-2', '--batch', '3'], dir);
    expect(more.code, more.stderr).toBe(0);
    expect(more.stderr).toMatch(/continuing from the adapter adapter/);
    const log2 = readFileSync(join(dir, 'adapter2', 'train_log.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    expect(log2[0].loss).toBeLessThan(log[0].loss);
    expect(JSON.parse(readFileSync(join(dir, 'adapter2', 'adapter_config.json'), 'utf8')).bias).toBe('lora_only');

    const score = cli(['score', '--model', 'tiny', '--adapter', 'adapter', '--text', 'cat says meow', '--json'], dir);
    expect(score.code, score.stderr).toBe(0);
    const s = JSON.parse(score.stdout);
    expect(s.logprobs).toHaveLength(s.ids.length - 1);
    const mean = -s.logprobs.reduce((a: number, b: number) => a + b, 0) / s.logprobs.length;
    expect(s.mean_nll).toBeCloseTo(mean, 10);
    for (const lp of s.logprobs) expect(lp).toBeLessThan(0);
  }, 300_000);

  it('trains on the embedded default model and a sample dataset named on the command line', () => {
    const train = cli(['train', '--model', 'default', '--data', 'pirate', '--out', 'pirate', '--steps', '2', '--batch', '2', '--seq', '32', '--r', '4'], dir);
    expect(train.code, train.stderr).toBe(0);
    expect(train.stderr).toMatch(/model: .*public\/models\/austen-2m \(llama, 4 layers, hidden 192\)/);
    expect(train.stderr).toMatch(/data: \d+ training and 0 validation examples from .*public\/datasets\/pirate\.jsonl/);
    const config = JSON.parse(readFileSync(join(dir, 'pirate', 'adapter_config.json'), 'utf8'));
    expect(config.base_model_name_or_path).toBe('austen-2m');
    expect(config.r).toBe(4);
    const st = parseSafetensors(new Uint8Array(readFileSync(join(dir, 'pirate', 'adapter_model.safetensors'))), 'adapter');
    expect(st.tensors.get('base_model.model.model.layers.3.self_attn.v_proj.lora_B.weight')?.shape).toEqual([64, 4]);

    const gen = cli(['generate', '--model', 'default', '--adapter', 'pirate', '--prompt', 'Mr. Darcy', '--max-new-tokens', '6', '--json'], dir);
    expect(gen.code, gen.stderr).toBe(0);
    expect(JSON.parse(gen.stdout).ids.length).toBeGreaterThan(0);
  }, 300_000);

  it("writes PEFT's defaults and a Hub model's name and revision apart, and runs the kernel profile asked for", async () => {
    const hub = await startHubServer({ 'peft-studio/tiny-llama': { files: makeTinyModel('llama'), revision: 'v1' } });
    try {
      const env = { PEFT_STUDIO_HUB_ENDPOINT: hub.endpoint, PEFT_STUDIO_CACHE: join(dir, 'hub-cache') };
      // No --alpha, --r or --target: PEFT's LoraConfig defaults.
      const train = await cliAsync(['train', '--model', 'peft-studio/tiny-llama@v1', '--data', 'data.jsonl', '--out', 'hub-adapter', '--steps', '1', '--batch', '3', '--kernels', 'direct'], dir, env);
      expect(train.code, train.stderr).toBe(0);
      expect(hub.requests.map((r) => r.path)).toContain('/peft-studio/tiny-llama/resolve/v1/config.json');
      expect(train.stderr).toMatch(/GPU: .*; kernel profile 'direct' \(--kernels; direct matmuls, for CPU drivers\)/);
      const config = JSON.parse(readFileSync(join(dir, 'hub-adapter', 'adapter_config.json'), 'utf8'));
      expect(config.base_model_name_or_path).toBe('peft-studio/tiny-llama');
      expect(config.revision).toBe('v1');
      expect(config.lora_alpha).toBe(8);
      expect(config.r).toBe(8);
      expect([...config.target_modules].sort()).toEqual(['q_proj', 'v_proj']);
    } finally {
      await hub.close();
    }
  }, 300_000);

  it('refuses a bad option value before loading anything, naming the flag and what it expects', () => {
    const alpha = cli(['train', '--model', 'nowhere/model', '--data', 'data.jsonl', '--out', 'x', '--alpha', '0'], dir);
    expect(alpha.code).toBe(1);
    expect(alpha.stderr.trim()).toBe('peft-studio: --alpha 0: expected a number > 0 (lora_alpha) (see peft-studio --help)');
    const kernels = cli(['score', '--model', 'nowhere/model', '--text', 'hi', '--kernels', 'fast'], dir);
    expect(kernels.code).toBe(1);
    expect(kernels.stderr.trim()).toBe('peft-studio: --kernels fast: expected one of tiled, direct (see peft-studio --help)');
    const help = cli(['train', '--help'], dir);
    expect(help.code).toBe(0);
    expect(help.stdout).toMatch(/--alpha 8\n +.*lora_alpha/);
  });

  it('exits 1 with a one-line reason on errors', () => {
    const missing = cli(['train', '--model', 'tiny', '--data', 'nope.jsonl', '--out', 'x'], dir);
    expect(missing.code).toBe(1);
    expect(missing.stderr.trim()).toBe('peft-studio: --data nope.jsonl: no such file, and not a sample dataset (pirate, invitations, butler) (see peft-studio --help)');
    writeFileSync(join(dir, 'bad.jsonl'), '{"prompt": "a", "completion": "b"}\n{"prompt": "c", "completion": "d"}\n{"prompt": oops}\n');
    const bad = cli(['train', '--model', 'tiny', '--data', 'bad.jsonl', '--out', 'x', '--steps', '1'], dir);
    expect(bad.code).toBe(1);
    const lines = bad.stderr.trim().split('\n');
    expect(lines.at(-1)).toMatch(/^peft-studio: .*line 3/);
    expect(lines.at(-1)).toMatch(/--skip-bad-records/);
    const unknown = cli(['fly'], dir);
    expect(unknown.code).toBe(1);
    // make-tiny-model is a development script now (scripts/make-tiny-model.ts), not a command.
    expect(unknown.stderr).toMatch(/unknown command "fly"; commands: train, compare-methods, generate, score, export, push, recipe, plan \(/);
  });
});
