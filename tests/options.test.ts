/**
 * The option schema (src/options) and what is made from it: the worker protocol's train-start checks, the CLI's
 * flags, usage and help, the studio's validation, and the README's option table.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseRequest } from '../src/worker/protocol';
import { peftDefaults } from '../src/peft/lora-config';
import { P_TUNING_FIELDS, PREFIX_TUNING_FIELDS, PROMPT_TUNING_FIELDS } from '../src/options/prompt-learning-fields';
import { LORA_FIELDS } from '../src/options/lora-fields';
import { BOTTLENECK_FIELDS } from '../src/options/bottleneck-fields';
import { IA3_FIELDS } from '../src/options/ia3-fields';
import { TRAINING_FIELDS } from '../src/options/training-fields';
import { RUN_FIELDS } from '../src/options/run-fields';
import { OPTIONS_TABLE_BEGIN, OPTIONS_TABLE_END, optionsTable } from '../src/options/options-table';
import type { Field, FieldSet } from '../src/options/field';
import { commandHelp, readFlags } from '../src/cli/flags';
import { CliUsageError } from '../src/cli/errors';
import { COMMANDS, USAGE } from '../src/cli/command-table';
import { TRAIN_FLAGS } from '../src/cli/commands/train';
import { loraOptions, trainableSummary, trainingFieldsError, DEFAULT_LORA_FIELDS, DEFAULT_TRAINING_FIELDS } from '../src/ui/stores/method';
import { parseModelConfig } from '../src/model/config';

const ALL_SETS: Record<string, FieldSet> = {
  lora: LORA_FIELDS, 'prompt-tuning': PROMPT_TUNING_FIELDS, 'p-tuning': P_TUNING_FIELDS, 'prefix-tuning': PREFIX_TUNING_FIELDS, ia3: IA3_FIELDS, bottleneck: BOTTLENECK_FIELDS, settings: TRAINING_FIELDS, run: RUN_FIELDS,
};
/** Every field once (a field shared by several methods is one object, with one flag). */
/** Each option once: a field two methods share is one flag (a copy may differ only in when it applies, `onlyWhen`). */
const allFields = () => {
  const byFlag = new Map<string, readonly [string, Field]>();
  for (const [k, f] of Object.values(ALL_SETS).flatMap((set) => Object.entries(set))) {
    const seen = byFlag.get(f.flag);
    const { onlyWhen: _a, ...field } = f;
    if (seen) {
      const { onlyWhen: _b, ...other } = seen[1];
      expect([k, field]).toEqual([seen[0], other]);
    } else byFlag.set(f.flag, [k, f]);
  }
  return [...byFlag.values()];
};

describe('the option schema', () => {
  it("has transformers' TrainingArguments defaults where it says so", () => {
    // transformers 4.x TrainingArguments: learning_rate 5e-5, lr_scheduler_type "linear", warmup_steps 0, max_steps -1
    // (our 0), num_train_epochs 3.0, per_device_train_batch_size 8, gradient_accumulation_steps 1, max_grad_norm 1.0,
    // weight_decay 0.0, adam_beta1 0.9, adam_beta2 0.999, adam_epsilon 1e-8, seed 42, save_steps 500,
    // gradient_checkpointing False.
    const transformers: Record<string, unknown> = {
      schedule: 'linear', warmupSteps: 0, maxSteps: 0, epochs: 3, batchSize: 8, gradAccum: 1, maxGradNorm: 1, weightDecay: 0,
      beta1: 0.9, beta2: 0.999, eps: 1e-8, seed: 42, checkpointEvery: 500, gradientCheckpointing: false,
    };
    for (const [key, f] of Object.entries(TRAINING_FIELDS as FieldSet)) {
      if (f.defaultFrom === 'transformers') expect([key, f.default]).toEqual([key, transformers[key]]);
      else expect([key, transformers[key]]).toEqual([key, undefined]);
    }
  });

  it("has PEFT's LoraConfig defaults for the LoRA fields", () => {
    const peft = peftDefaults() as unknown as Record<string, unknown>;
    for (const [key, f] of Object.entries(LORA_FIELDS as FieldSet)) {
      expect(f.defaultFrom).toBe('PEFT');
      expect([key, f.default]).toEqual([key, peft[key]]);
    }
    expect(LORA_FIELDS.lora_alpha.default).toBe(8);
  });

  it('gives every field its own flag, and every switch the default off (a flag can only turn it on)', () => {
    // allFields() fails when two different options share a flag.
    const flags = allFields().map(([, f]) => f.flag);
    for (const [key, f] of allFields()) if (f.kind === 'boolean') expect([key, f.default]).toEqual([key, false]);
    // No train flag of its own shadows a field's flag.
    expect(Object.keys(TRAIN_FLAGS)).toHaveLength(flags.length + ['model', 'data', 'out', 'method', 'adapter', 'resume', 'kernels', 'quiet'].length);
  });
});

describe('train-start checks made from the schema', () => {
  const start = (patch: Record<string, unknown> = {}) => ({
    id: 1,
    kind: 'train-start',
    model: { kind: 'tiny', arch: 'llama' },
    data: { text: '{"text": "hi"}' },
    method: { id: 'lora', options: { r: 4, lora_alpha: 16, target_modules: 'all-linear', bias: 'lora_only' } },
    settings: { lr: 1e-3, schedule: 'cosine', maxSteps: 3, beta2: 0.99 },
    quant: 'nf4',
    maxLength: 32,
    valSplit: 0.2,
    skipBadRecords: false,
    runName: 'run',
    resume: false,
    ...patch,
  });
  const refusal = (patch: Record<string, unknown>) => {
    try {
      parseRequest(start(patch));
    } catch (e) {
      expect(e).toBeInstanceOf(TypeError);
      return (e as Error).message;
    }
    throw new Error('accepted');
  };

  it('accepts a good request', () => {
    expect(parseRequest(start()).kind).toBe('train-start');
    expect(parseRequest(start({ method: { id: 'lora', options: {} }, settings: {} })).kind).toBe('train-start');
  });

  it('names an unknown field and lists the known ones', () => {
    expect(refusal({ method: { id: 'lora', options: { r: 4, alpha: 16 } } })).toBe(
      'train-start: method.options.alpha = 16: expected one of the fields r, lora_alpha, lora_dropout, bias, use_rslora, use_dora, target_modules',
    );
    expect(refusal({ method: { id: 'adalora', options: {} } })).toMatch(/^train-start: method\.id = "adalora": expected one of lora/);
    expect(refusal({ settings: { learning_rate: 1e-3 } })).toMatch(/^train-start: settings\.learning_rate = 0\.001: expected one of the fields lr, schedule, /);
  });

  it('names a field of the wrong type or out of bounds, and what it expects', () => {
    expect(refusal({ method: { id: 'lora', options: { r: 0 } } })).toBe('train-start: method.options.r = 0: expected an integer ≥ 1');
    expect(refusal({ method: { id: 'lora', options: { lora_dropout: 1 } } })).toBe('train-start: method.options.lora_dropout = 1: expected a number ≥ 0 and < 1');
    expect(refusal({ method: { id: 'lora', options: { bias: 'all' } } })).toBe('train-start: method.options.bias = "all": expected one of none, lora_only');
    expect(refusal({ method: { id: 'lora', options: { target_modules: [] } } })).toBe('train-start: method.options.target_modules = []: expected a non-empty list of module names, a regex, or "all-linear"');
    expect(refusal({ method: { id: 'lora', options: { use_rslora: 'yes' } } })).toBe('train-start: method.options.use_rslora = "yes": expected true or false');
    expect(refusal({ settings: { batchSize: 2.5 } })).toBe('train-start: settings.batchSize = 2.5: expected an integer ≥ 1');
    expect(refusal({ settings: { lr: Number.NaN } })).toBe('train-start: settings.lr = NaN: expected a number > 0');
    expect(refusal({ settings: { beta1: 1 } })).toBe('train-start: settings.beta1 = 1: expected a number ≥ 0 and < 1');
    expect(refusal({ settings: { schedule: 'step' } })).toBe('train-start: settings.schedule = "step": expected one of constant, linear, cosine');
    expect(refusal({ valSplit: 1 })).toBe('train-start: valSplit = 1: expected a number ≥ 0 and < 1');
    expect(refusal({ maxLength: 1 })).toBe('train-start: maxLength = 1: expected an integer ≥ 2');
    expect(refusal({ quant: 'q5' })).toBe('train-start: quant = "q5": expected one of f32, q8, q4, nf4');
    expect(refusal({ skipBadRecords: undefined })).toBe('train-start: skipBadRecords = undefined: expected true or false');
  });

  it('checks the run options of model-load and data-preview alike', () => {
    expect(() => parseRequest({ id: 2, kind: 'model-load', model: { kind: 'default' }, quant: 'int8' })).toThrow('model-load: quant = "int8": expected one of f32, q8, q4, nf4');
    expect(() => parseRequest({ id: 3, kind: 'data-preview', data: { text: '' }, maxLength: 0, previewCount: 1 })).toThrow(
      'data-preview: maxLength = 0: expected an integer ≥ 2',
    );
  });
});

describe('CLI flags made from the schema', () => {
  const fail = (f: () => unknown) => {
    try {
      f();
    } catch (e) {
      expect(e).toBeInstanceOf(CliUsageError);
      return (e as Error).message;
    }
    throw new Error('accepted');
  };

  it('reads the flags given and leaves the others to their defaults', () => {
    expect(readFlags(LORA_FIELDS, {})).toEqual({});
    expect(readFlags(LORA_FIELDS, { r: '16', alpha: '32', rslora: true, target: 'q_proj, v_proj', bias: 'lora_only' })).toEqual({
      r: 16, lora_alpha: 32, use_rslora: true, target_modules: ['q_proj', 'v_proj'], bias: 'lora_only',
    });
    expect(readFlags(LORA_FIELDS, { target: 'all-linear' })).toEqual({ target_modules: 'all-linear' });
    expect(readFlags(LORA_FIELDS, { target: '.*\\.(q|v)_proj' })).toEqual({ target_modules: '.*\\.(q|v)_proj' });
    expect(readFlags(TRAINING_FIELDS, { lr: '2e-3', steps: '10', 'adam-epsilon': '1e-6' })).toEqual({ lr: 2e-3, maxSteps: 10, eps: 1e-6 });
    expect(readFlags(RUN_FIELDS, { seq: '64', 'skip-bad-records': true })).toEqual({ maxLength: 64, skipBadRecords: true });
  });

  it('refuses a bad value naming the flag, the field and what it expects', () => {
    expect(fail(() => readFlags(LORA_FIELDS, { alpha: '0' }))).toBe('--alpha 0: expected a number > 0 (lora_alpha)');
    expect(fail(() => readFlags(LORA_FIELDS, { bias: 'all' }))).toBe('--bias all: expected one of none, lora_only (bias)');
    expect(fail(() => readFlags(TRAINING_FIELDS, { steps: '1.5' }))).toBe('--steps 1.5: expected an integer ≥ 0 (maxSteps)');
    expect(fail(() => readFlags(TRAINING_FIELDS, { lr: 'fast' }))).toBe('--lr fast: expected a number > 0 (lr)');
    expect(fail(() => readFlags(TRAINING_FIELDS, { batch: '' }))).toBe('--batch : expected an integer ≥ 1 (batchSize)');
    expect(fail(() => readFlags(RUN_FIELDS, { 'val-split': '1' }))).toBe('--val-split 1: expected a number ≥ 0 and < 1 (valSplit)');
  });

  it('lists every flag of every command in the usage, and each field with its default in `train --help`', () => {
    for (const [name, c] of Object.entries(COMMANDS)) {
      for (const [flag, f] of Object.entries(c.flags)) {
        // A positional argument appears as its value (push … DIR), a flag as --flag.
        const text = f.positional ? ` ${f.value}` : `--${flag}`;
        expect(USAGE, `${name} ${text}`).toMatch(new RegExp(`${text}\\b`));
      }
    }
    expect(USAGE).toContain('--alpha 8 ');
    const help = commandHelp('train', TRAIN_FLAGS);
    expect(help).toContain('  --alpha 8\n      [--method lora] Scales the update by lora_alpha / r (lora_alpha / √r with rsLoRA). Default: 8.');
    expect(help).toContain('  --virtual-tokens 20\n      [--method prompt-tuning|p-tuning|prefix-tuning] Number of virtual tokens');
    expect(help).toContain('  --lr 2e-4\n');
    expect(help).toContain('  --model default|DIR|REPO (required)\n');
    for (const [, f] of allFields()) expect(help).toContain(`--${f.flag}`);
  });
});

describe('the studio validation made from the schema', () => {
  const info = {
    nameOrPath: 'tiny',
    config: parseModelConfig({ model_type: 'llama', hidden_size: 16, num_attention_heads: 4, num_key_value_heads: 2, num_hidden_layers: 2, intermediate_size: 40, vocab_size: 50 }),
  };

  it('refuses what the protocol refuses, naming the field', () => {
    // LoraConfig itself would take lora_alpha 0; a run's option must be > 0.
    const zeroAlpha = trainableSummary({ id: 'lora', options: loraOptions({ ...DEFAULT_LORA_FIELDS, target_modules: ['q_proj'], lora_alpha: 0 }) }, info);
    expect('error' in zeroAlpha && zeroAlpha.error).toBe('LoRA: lora_alpha = 0: expected a number > 0');
    expect(trainingFieldsError({ ...DEFAULT_TRAINING_FIELDS, eps: 0 })).toBe('eps = 0: expected a number > 0');
    expect(trainingFieldsError({ ...DEFAULT_TRAINING_FIELDS, valSplit: 1 })).toBe('valSplit = 1: expected a number ≥ 0 and < 1');
  });
});

describe('the README', () => {
  it('holds the option table made from the schema (npm run docs:options writes it)', () => {
    const readme = readFileSync(join(__dirname, '..', 'README.md'), 'utf8');
    const begin = readme.indexOf(OPTIONS_TABLE_BEGIN);
    const end = readme.indexOf(OPTIONS_TABLE_END);
    expect(begin).toBeGreaterThan(0);
    expect(readme.slice(begin + OPTIONS_TABLE_BEGIN.length, end).trim()).toBe(optionsTable());
    // Each row names its field, flag and default (a check that does not go through optionsTable).
    for (const [key, f] of allFields()) expect(readme).toMatch(new RegExp(`\`${key}\` \\| \`--${f.flag}\` \\|`));
  });
});
