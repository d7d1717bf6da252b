/**
 * `peft-studio recipe`, run as a user runs it, on the tiny Llama: from train's flags (config.json only, no GPU) and
 * from a folder a 2-step `train` wrote (its run.json and adapter). Each writes the recipe's files (src/recipe), and
 * recipe.json carries the method, options and settings the flags or the run gave. A folder without run.json and a
 * non-empty --out are refused, saying why.
 */
import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { makeTinyModel } from './fixtures/tiny-models';
import { cliAsync as cli } from './helpers/cli';

/** Files every recipe holds (the rest depends on the run). */
const RECIPE_FILES = ['train.py', 'requirements.txt', 'README.md', 'recipe.json', 'data/records.jsonl'];

function recipeJson(dir: string): Record<string, unknown> {
  return JSON.parse(readFileSync(join(dir, 'recipe.json'), 'utf8')) as Record<string, unknown>;
}

function expectRecipeFolder(dir: string): void {
  for (const f of RECIPE_FILES) expect(existsSync(join(dir, f)), `${dir}/${f}`).toBe(true);
  expect(existsSync(join(dir, 'accelerate', 'single_gpu.yaml')), `${dir}/accelerate/single_gpu.yaml`).toBe(true);
}

describe('peft-studio recipe', () => {
  const dir = mkdtempSync(join(tmpdir(), 'peft-studio-recipe-'));
  mkdirSync(join(dir, 'model'));
  for (const [name, bytes] of makeTinyModel('llama')) writeFileSync(join(dir, 'model', name), bytes);
  writeFileSync(
    join(dir, 'data.jsonl'),
    ['{"prompt": "cat says", "completion": " meow"}', '{"prompt": "dog says", "completion": " woof"}', '{"prompt": "cow says", "completion": " moo"}'].join('\n'),
  );

  it("--model --data and train's flags: the recipe's files, with the flags' method, options and settings", async () => {
    const r = await cli(
      ['recipe', '--model', 'model', '--data', 'data.jsonl', '--out', 'from-flags', '--r', '4', '--alpha', '8', '--target', 'q_proj,v_proj', '--lr', '3e-3', '--steps', '40', '--batch', '2', '--seq', '64', '--quant', 'nf4'],
      dir,
    );
    expect(r.code, r.stderr).toBe(0);
    const out = join(dir, 'from-flags');
    expectRecipeFolder(out);
    expect(r.stderr).toContain(`base model: ${join(dir, 'model')} is a folder on this machine`);
    expect(r.stderr).toMatch(/^ {2}accelerate\/: .*single_gpu\.yaml/m);
    expect(r.stderr).toContain('start: cd from-flags && pip install -r requirements.txt && accelerate launch --config_file accelerate/single_gpu.yaml train.py');
    const recipe = recipeJson(out);
    expect(recipe).toMatchObject({
      base: { name_or_path: join(dir, 'model'), revision: null, model_type: 'llama' },
      method: 'lora',
      adapter_config: { peft_type: 'LORA', r: 4, lora_alpha: 8 },
      training: { learning_rate: 3e-3, max_steps: 40, per_device_train_batch_size: 2, max_length: 64 },
      quantization: { studio_weight_format: 'nf4', bnb_4bit_quant_type: 'nf4' },
      data: { records: 3, shape: 'prompt-completion', loss_mask: 'completion-only' },
    });
    expect([...((recipe.adapter_config as { target_modules: string[] }).target_modules)].sort()).toEqual(['q_proj', 'v_proj']);
  }, 120_000);

  it('--run DIR: the recipe of a 2-step train run, from its run.json and adapter', async () => {
    const train = await cli(['train', '--model', 'model', '--data', 'data.jsonl', '--out', 'run', '--steps', '2', '--batch', '3', '--lr', '1e-2', '--r', '2', '--seq', '32', '--save-every', '0'], dir);
    expect(train.code, train.stderr).toBe(0);
    const runFile = JSON.parse(readFileSync(join(dir, 'run', 'run.json'), 'utf8'));
    expect(runFile).toMatchObject({
      format: 'peft-studio-run',
      version: 1,
      model: join(dir, 'model'),
      data: join(dir, 'data.jsonl'),
      training: { lr: 1e-2, maxSteps: 2, batchSize: 3, checkpointEvery: 0 },
      run: { maxLength: 32, quant: 'f32', valSplit: 0, skipBadRecords: false },
    });

    const r = await cli(['recipe', '--run', 'run', '--out', 'from-run'], dir);
    expect(r.code, r.stderr).toBe(0);
    expectRecipeFolder(join(dir, 'from-run'));
    expect(recipeJson(join(dir, 'from-run'))).toMatchObject({
      base: { name_or_path: join(dir, 'model'), revision: null },
      method: 'lora',
      adapter_config: { peft_type: 'LORA', r: 2 },
      training: { learning_rate: 1e-2, max_steps: 2, per_device_train_batch_size: 3, max_length: 32, save_steps: 0 },
      quantization: null,
    });
  }, 300_000);

  it('refuses a folder without run.json (naming it, and what to do), --run with run flags, and a non-empty --out unless --force', async () => {
    mkdirSync(join(dir, 'old-run'));
    writeFileSync(join(dir, 'old-run', 'adapter_config.json'), '{"peft_type": "LORA"}');
    const old = await cli(['recipe', '--run', 'old-run', '--out', 'x'], dir);
    expect(old.code).toBe(1);
    expect(old.stderr).toContain(`${join('old-run', 'run.json')} not found`);
    expect(old.stderr).toContain('give the run as flags instead (recipe --model M --data FILE');

    const mixed = await cli(['recipe', '--run', 'old-run', '--lr', '1e-3', '--out', 'x'], dir);
    expect(mixed.code).toBe(1);
    expect(mixed.stderr).toContain('--lr cannot be combined with --run');

    mkdirSync(join(dir, 'full'));
    writeFileSync(join(dir, 'full', 'notes.txt'), 'mine');
    const args = ['recipe', '--model', 'model', '--data', 'data.jsonl', '--out', 'full'];
    const refused = await cli(args, dir);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain('--out full is not empty (it holds notes.txt)');
    expect(existsSync(join(dir, 'full', 'train.py'))).toBe(false);
    const forced = await cli([...args, '--force'], dir);
    expect(forced.code, forced.stderr).toBe(0);
    expectRecipeFolder(join(dir, 'full'));
    expect(readFileSync(join(dir, 'full', 'notes.txt'), 'utf8')).toBe('mine');
  }, 120_000);
});
