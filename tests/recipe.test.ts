/**
 * The GPU recipe (src/recipe) against the run it exports, by reading its files back: for every method and every
 * record shape, recipe.json's training block and adapter_config hold the run's settings and options, train.py reads
 * every setting from it, the accelerate configs and requirements say what they must, and the data file holds the
 * records. Expected values are written here from the inputs, not taken from the code under test. No GPU, no Python.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parseDataset, type DataRecord, type RecordShape } from '../src/data';
import type { WeightFormat } from '../src/kernels/weight-format';
import { parseModelConfig, type ModelConfig } from '../src/model/config';
import { METHOD_IDS, type MethodId } from '../src/methods/method';
import { RUN_DEFAULTS, type RunOptions } from '../src/options/run-fields';
import { PEFT_VERSION } from '../src/peft/peft-version';
import { buildRecipe, type RecipeInput } from '../src/recipe/build-recipe';
import { lrMultiplier, type LrScheduleKind } from '../src/trainer/lr-schedule';
import type { TrainingSettings } from '../src/trainer/trainer';
import { makeTinyModel, type TinyModelKind } from './fixtures/tiny-models';

const text = (bytes: Uint8Array | undefined): string => {
  expect(bytes, 'file is missing').toBeDefined();
  return new TextDecoder().decode(bytes);
};

function tinyConfig(kind: TinyModelKind): ModelConfig {
  return parseModelConfig(JSON.parse(text(makeTinyModel(kind).get('config.json'))));
}

const PROMPT_COMPLETION_JSONL = [
  { prompt: 'Question: what is 2+2?\nAnswer:', completion: ' four.' },
  { prompt: 'Question: the capital of France?\nAnswer:', completion: ' Paris.' },
  { prompt: 'Question: the colour of the sky?\nAnswer:', completion: ' blue.' },
]
  .map((r) => JSON.stringify(r))
  .join('\n');

/** A sample dataset per record shape: the studio's samples, and a small prompt/completion file. */
function dataset(shape: RecordShape): { records: DataRecord[]; shape: RecordShape; source: string; raw: Record<string, unknown>[] } {
  const file = { text: 'pirate.jsonl', alpaca: 'invitations.jsonl', messages: 'butler.jsonl', 'prompt-completion': null }[shape];
  const source = file ?? 'qa.jsonl';
  const body = file ? readFileSync(new URL(`../public/datasets/${file}`, import.meta.url), 'utf8') : PROMPT_COMPLETION_JSONL;
  const parsed = parseDataset(body, source);
  expect(parsed.problems).toEqual([]);
  expect(parsed.shape).toBe(shape);
  const raw = body.split('\n').filter((l) => l.trim() !== '').map((l) => JSON.parse(l) as Record<string, unknown>);
  return { records: parsed.records, shape, source, raw };
}

/** Settings unlike every default, so that a value taken from a default instead of the input shows. */
const TRAINING: TrainingSettings = {
  lr: 3e-4,
  schedule: 'cosine',
  warmupSteps: 7,
  maxSteps: 0,
  epochs: 2.5,
  batchSize: 4,
  gradAccum: 3,
  maxGradNorm: 0.7,
  weightDecay: 0.01,
  loraplusLrRatio: 1,
  beta1: 0.85,
  beta2: 0.995,
  eps: 1e-7,
  seed: 1234,
  evalEvery: 5,
  checkpointEvery: 20,
  gradientCheckpointing: true,
};
const RUN: RunOptions = { ...RUN_DEFAULTS, maxLength: 96, valSplit: 0.2, quant: 'f32', skipBadRecords: true };

/** Options of each method for the tiny Llama, none of them a default. */
const OPTIONS: Record<MethodId, Record<string, unknown>> = {
  lora: { r: 4, lora_alpha: 16, lora_dropout: 0.05, bias: 'lora_only', use_rslora: true, use_dora: false, target_modules: ['v_proj', 'q_proj', 'o_proj'] },
  'prompt-tuning': { num_virtual_tokens: 7, prompt_tuning_init: 'SAMPLE_VOCAB' },
  'p-tuning': { num_virtual_tokens: 5, encoder_reparameterization_type: 'LSTM', encoder_hidden_size: 16, encoder_num_layers: 2, encoder_dropout: 0.1 },
  'prefix-tuning': { num_virtual_tokens: 6, prefix_projection: true, encoder_hidden_size: 12 },
  ia3: { target_modules: ['k_proj', 'v_proj', 'down_proj'], feedforward_modules: ['down_proj'] },
  bottleneck: { config: 'houlsby', reduction_factor: 8, non_linearity: 'gelu' },
};

const BASE = { nameOrPath: 'someone/tiny-llama', revision: 'abc123' };
const LLAMA = tinyConfig('llama');

function input(method: MethodId, shape: RecordShape, overrides: Partial<RecipeInput> = {}): RecipeInput {
  const { records, source } = dataset(shape);
  return {
    base: BASE,
    model: LLAMA,
    method,
    options: OPTIONS[method],
    training: TRAINING,
    run: RUN,
    weightFormat: RUN.quant,
    data: { records, shape, source },
    ...overrides,
  };
}

function recipeOf(files: Map<string, Uint8Array>): Record<string, any> {
  return JSON.parse(text(files.get('recipe.json')));
}

/** A two-level YAML reader for the accelerate configs: `key: value` lines, one indented block per mapping. */
function readYaml(body: string): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  let block: Record<string, unknown> | null = null;
  const scalar = (v: string): unknown => {
    const s = v.trim();
    if (/^'.*'$/.test(s)) return s.slice(1, -1);
    if (s === 'true' || s === 'false') return s === 'true';
    if (/^-?\d+(\.\d+)?$/.test(s)) return Number(s);
    return s;
  };
  for (const line of body.split('\n')) {
    if (line.trim() === '' || line.trim().startsWith('#')) continue;
    const m = /^( *)([A-Za-z0-9_]+):(.*)$/.exec(line);
    expect(m, `not a YAML mapping line: ${line}`).not.toBeNull();
    const [, indent, key, rest] = m!;
    if (indent.length === 0) {
      if (rest.trim() === '') out[key] = block = {};
      else {
        out[key] = scalar(rest);
        block = null;
      }
    } else {
      expect(block, `indented line outside a block: ${line}`).not.toBeNull();
      block![key] = scalar(rest);
    }
  }
  return out;
}

/** transformers' lambdas (optimization.py, 5.18), written out here as the reference for the studio's schedules. */
function transformersLambda(type: string, step: number, warmup: number, total: number): number {
  if (type === 'constant') return 1;
  if (step < warmup) return step / Math.max(1, warmup);
  if (type === 'constant_with_warmup') return 1;
  if (type === 'linear') return Math.max(0, (total - step) / Math.max(1, total - warmup));
  if (type === 'cosine') return Math.max(0, 0.5 * (1 + Math.cos(Math.PI * 0.5 * 2 * ((step - warmup) / Math.max(1, total - warmup)))));
  throw new Error(`no lambda for ${type}`);
}

const SHAPES: RecordShape[] = ['text', 'prompt-completion', 'alpaca', 'messages'];

describe.each(METHOD_IDS.map((m) => [m]))('recipe of %s', (method) => {
  describe.each(SHAPES.map((s) => [s]))('on %s records', (shape) => {
    const files = buildRecipe(input(method, shape));
    const recipe = recipeOf(files);

    it('recipe.json: the training settings under TrainingArguments names', () => {
      expect(recipe.training).toEqual({
        learning_rate: 3e-4,
        lr_scheduler_type: 'cosine',
        warmup_steps: 7,
        max_steps: -1,
        num_train_epochs: 2.5,
        per_device_train_batch_size: 4,
        gradient_accumulation_steps: 3,
        max_grad_norm: 0.7,
        weight_decay: 0.01,
        adam_beta1: 0.85,
        adam_beta2: 0.995,
        adam_epsilon: 1e-7,
        seed: 1234,
        max_length: 96,
        loraplus_lr_ratio: 1,
        val_split: 0.2,
        eval_steps: 5,
        save_steps: 20,
        gradient_checkpointing: true,
      });
      expect(recipe.method).toBe(method);
      expect(recipe.base).toEqual({ name_or_path: BASE.nameOrPath, revision: BASE.revision, model_type: 'llama', decoder_layer_class: 'LlamaDecoderLayer' });
      expect(recipe.dtype).toBe('float32');
      expect(recipe.quantization).toBeNull();
      expect(recipe.studio_version).toBe(JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')).version);
    });

    it('recipe.json: adapter_config holds every option of the method', () => {
      const c = recipe.adapter_config as Record<string, any>;
      const options = OPTIONS[method];
      if (method === 'bottleneck') {
        expect(recipe.peft_type).toBeNull();
        expect(c.model_name).toBe(BASE.nameOrPath);
        expect(c.model_type).toBe('llama');
        expect(c.config.mh_adapter).toBe(true); // houlsby: after the attention too
        expect(c.config.output_adapter).toBe(true);
        expect(c.config.reduction_factor).toBe(options.reduction_factor);
        expect(c.config.non_linearity).toBe(options.non_linearity);
        return;
      }
      const peftType = { lora: 'LORA', 'prompt-tuning': 'PROMPT_TUNING', 'p-tuning': 'P_TUNING', 'prefix-tuning': 'PREFIX_TUNING', ia3: 'IA3' }[method];
      expect(recipe.peft_type).toBe(peftType);
      expect(c.peft_type).toBe(peftType);
      expect(c.task_type).toBe('CAUSAL_LM');
      expect(c.base_model_name_or_path).toBe(BASE.nameOrPath);
      expect(c.revision).toBe(BASE.revision);
      expect(c.peft_version).toBe(PEFT_VERSION);
      for (const [k, v] of Object.entries(options)) {
        // PEFT keeps module lists as sets and saves them sorted.
        expect(c[k], k).toEqual(Array.isArray(v) ? [...v].sort() : v);
      }
      if (method === 'prefix-tuning' || method === 'prompt-tuning' || method === 'p-tuning') {
        expect(c.num_layers).toBe(LLAMA.numLayers);
        // Prefix tuning keeps one key and value per KV head under grouped-query attention (peft-methods.md).
        if (method === 'prefix-tuning') {
          expect(c.token_dim).toBe(LLAMA.headDim * LLAMA.numKvHeads);
          expect(c.num_attention_heads).toBe(LLAMA.numKvHeads);
        } else expect(c.token_dim).toBe(LLAMA.hiddenSize);
      }
    });

    it('train.py reads every training setting and the PEFT config from recipe.json', () => {
      const py = text(files.get('train.py'));
      for (const key of Object.keys(recipe.training)) expect(py, key).toContain(`TRAINING["${key}"]`);
      expect(py).toContain('RECIPE["adapter_config"]');
      expect(py).toContain('RECIPE["quantization"]');
      expect(py).toContain('RECIPE["data"]["skip_bad_records"]');
      expect(py).toContain('get_peft_config(config)');
      expect(py).toContain('create_loraplus_optimizer');
      expect(py).toContain('recipe_data.tokenize_records');
      expect(py).toContain('recipe_data.split_validation');
      expect(py).toContain('trainer.save_model');
      // No number of the run is written into the script: it takes them all from recipe.json.
      for (const v of ['3e-4', '0.0003', '1234', '0.995']) expect(py).not.toContain(v);
    });

    it('data/records.jsonl: every record, in order, in its normalized shape', () => {
      const { raw } = dataset(shape);
      const lines = text(files.get(recipe.data.records_file)).trimEnd().split('\n').map((l) => JSON.parse(l) as Record<string, any>);
      expect(recipe.data).toMatchObject({ shape, records: raw.length, records_file: 'data/records.jsonl', skip_bad_records: true });
      expect(recipe.data.loss_mask).toBe({ text: 'all-tokens', 'prompt-completion': 'completion-only', alpaca: 'completion-only', messages: 'assistant-only' }[shape]);
      expect(lines).toHaveLength(raw.length);
      lines.forEach((line, i) => {
        const r = raw[i];
        if (shape === 'text') expect(line).toEqual({ text: r.text });
        else if (shape === 'prompt-completion') expect(line).toEqual({ prompt: r.prompt, completion: r.completion });
        else if (shape === 'messages') expect(line).toEqual({ messages: r.messages });
        else {
          // Alpaca's template without its preamble, as the studio reads such records (README, Data).
          const input = typeof r.input === 'string' && r.input.trim() !== '' ? `### Input:\n${r.input}\n\n` : '';
          expect(line).toEqual({ prompt: `### Instruction:\n${r.instruction}\n\n${input}### Response:\n`, completion: r.output });
        }
      });
    });

    it('requirements.txt pins every package, PEFT at the studio\'s format version', () => {
      const lines = text(files.get('requirements.txt')).split('\n').filter((l) => l.trim() !== '' && !l.startsWith('#'));
      for (const l of lines) expect(l).toMatch(/^[A-Za-z0-9_.-]+==\d+(\.\d+)+$/);
      const names = lines.map((l) => l.split('==')[0]);
      expect(names).toEqual(expect.arrayContaining(['torch', 'transformers', 'accelerate', 'bitsandbytes', 'deepspeed']));
      if (method === 'bottleneck') expect(lines).toContain('adapters==1.2.0');
      else expect(lines).toContain(`peft==${PEFT_VERSION}`);
    });

    it('README: the commands, the memory estimate, the masks and the way back into the studio', () => {
      const md = text(files.get('README.md'));
      expect(md).toContain('pip install -r requirements.txt');
      expect(md).toContain('accelerate launch --config_file accelerate/single_gpu.yaml train.py');
      expect(md).toContain('accelerate launch --config_file accelerate/multi_gpu.yaml');
      if (method !== 'bottleneck') {
        expect(md).toContain('accelerate launch --config_file accelerate/fsdp.yaml');
        expect(md).toContain('accelerate launch --config_file accelerate/deepspeed_zero3.yaml');
      }
      expect(md).toMatch(/\*\*total\*\* \| \*\*\d+(\.\d+)? (GiB|MiB)\*\*/);
      if (shape === 'prompt-completion' || shape === 'alpaca') expect(md).toContain('completion_only_loss');
      if (shape === 'messages') {
        expect(md).toContain('assistant_only_loss');
        expect(md).toContain('{% generation %}');
      }
      expect(md).toContain('Export step → Import');
      expect(md).toContain('peft-studio generate');
      expect(md).toContain('--adapter output/adapter');
    });
  });
});

describe('recipe: accelerate configs', () => {
  const files = buildRecipe(input('lora', 'text'));
  it('one GPU, DDP, FSDP with the decoder layer class, and ZeRO-3 with its JSON', () => {
    expect(readYaml(text(files.get('accelerate/single_gpu.yaml')))).toMatchObject({ distributed_type: 'NO', num_processes: 1, mixed_precision: 'no' });
    expect(readYaml(text(files.get('accelerate/multi_gpu.yaml')))).toMatchObject({ distributed_type: 'MULTI_GPU', mixed_precision: 'no' });
    const fsdp = readYaml(text(files.get('accelerate/fsdp.yaml')));
    expect(fsdp).toMatchObject({ distributed_type: 'FSDP', mixed_precision: 'no' });
    expect(fsdp.fsdp_config).toMatchObject({
      fsdp_sharding_strategy: 'FULL_SHARD',
      fsdp_auto_wrap_policy: 'TRANSFORMER_BASED_WRAP',
      fsdp_transformer_layer_cls_to_wrap: 'LlamaDecoderLayer',
      fsdp_cpu_ram_efficient_loading: true,
      fsdp_sync_module_states: true,
      fsdp_use_orig_params: false,
    });
    const ds = readYaml(text(files.get('accelerate/deepspeed_zero3.yaml')));
    expect(ds).toMatchObject({ distributed_type: 'DEEPSPEED', deepspeed_config: { zero3_init_flag: true } });
    const zero3Path = (ds.deepspeed_config as Record<string, string>).deepspeed_config_file;
    const zero3 = JSON.parse(text(files.get(zero3Path)));
    expect(zero3.zero_optimization.stage).toBe(3);
    // "auto": transformers fills these from TrainingArguments, so recipe.json stays their one source.
    for (const k of ['gradient_accumulation_steps', 'gradient_clipping', 'train_micro_batch_size_per_gpu']) expect(zero3[k], k).toBe('auto');
  });

  it.each([
    ['gpt2', 'GPT2Block'],
    ['qwen2', 'Qwen2DecoderLayer'],
  ] as const)('FSDP wraps each %s block (%s)', (kind, cls) => {
    const model = tinyConfig(kind);
    const options = { r: 2 };
    const f = buildRecipe({ ...input('lora', 'text'), model, options, run: { ...RUN, maxLength: 32 } });
    expect((readYaml(text(f.get('accelerate/fsdp.yaml'))).fsdp_config as Record<string, unknown>).fsdp_transformer_layer_cls_to_wrap).toBe(cls);
    expect(recipeOf(f).adapter_config.target_modules).toEqual(kind === 'gpt2' ? ['c_attn'] : ['q_proj', 'v_proj']);
  });
});

describe('recipe: schedules, steps and quantization', () => {
  it.each([
    ['constant', 'constant_with_warmup'],
    ['linear', 'linear'],
    ['cosine', 'cosine'],
  ] as const)('the studio\'s %s schedule is transformers\' %s, step for step', (schedule: LrScheduleKind, type) => {
    const recipe = recipeOf(buildRecipe(input('lora', 'text', { training: { ...TRAINING, schedule } })));
    expect(recipe.training.lr_scheduler_type).toBe(type);
    for (const [warmup, total] of [[0, 10], [3, 10], [10, 10], [4, 37]]) {
      for (let step = 0; step < total; step++) {
        expect(lrMultiplier(step, { schedule, baseLr: 1, warmupSteps: warmup, totalSteps: total })).toBeCloseTo(transformersLambda(type, step, warmup, total), 15);
      }
    }
  });

  it('max_steps: the studio\'s step count when set, −1 (epochs decide) when 0', () => {
    expect(recipeOf(buildRecipe(input('lora', 'text', { training: { ...TRAINING, maxSteps: 40 } }))).training.max_steps).toBe(40);
  });

  it.each([
    ['nf4', { load_in_4bit: true, load_in_8bit: false, bnb_4bit_quant_type: 'nf4', bnb_4bit_use_double_quant: false, bnb_4bit_compute_dtype: 'float32', bnb_4bit_quant_storage: 'float32', match: 'same' }],
    ['q4', { load_in_4bit: true, load_in_8bit: false, bnb_4bit_quant_type: 'fp4', bnb_4bit_compute_dtype: 'float32', bnb_4bit_quant_storage: 'float32', match: 'closest' }],
    ['q8', { load_in_4bit: false, load_in_8bit: true, match: 'closest' }],
  ] as const)('a %s base is loaded with bitsandbytes', (format: WeightFormat, expected) => {
    const files = buildRecipe(input('lora', 'text', { weightFormat: format, run: { ...RUN, quant: format } }));
    const recipe = recipeOf(files);
    expect(recipe.quantization).toMatchObject({ studio_weight_format: format, ...expected });
    const md = text(files.get('README.md'));
    expect(md).toContain('## Quantized base');
    if (format === 'q8') expect(md).toContain('cannot be sharded');
    else expect(md).toContain('bnb_4bit_quant_storage');
  });
});

describe('recipe: refusals name the field', () => {
  it.each([
    ['an empty base name', { base: { nameOrPath: '', revision: null } }, /base\.nameOrPath/],
    ['a negative learning rate', { training: { ...TRAINING, lr: -1 } }, /training\.lr = -1/],
    ['a fractional batch', { training: { ...TRAINING, batchSize: 1.5 } }, /training\.batchSize = 1\.5/],
    ['a validation split of 1', { run: { ...RUN, valSplit: 1 } }, /run\.valSplit = 1/],
    ['a weight format unlike run.quant', { weightFormat: 'nf4' as const }, /weightFormat = "nf4" contradicts run\.quant = "f32"/],
    ['LoRA+ on IA³', { method: 'ia3' as const, options: OPTIONS.ia3, training: { ...TRAINING, loraplusLrRatio: 4 } }, /training\.loraplusLrRatio = 4/],
    ['a LoRA rank of 0', { options: { r: 0 } }, /\br = 0/],
    ['a LoRA target the model lacks', { options: { target_modules: ['nope_proj'] } }, /nope_proj/],
    ['no records', { data: { records: [], shape: 'text' as const, source: 'x.jsonl' } }, /data\.records is empty/],
  ])('%s', (_what, overrides: Partial<RecipeInput>, message) => {
    expect(() => buildRecipe({ ...input('lora', 'text'), ...overrides })).toThrow(message);
  });

  it('a record of another shape than the dataset\'s', () => {
    const { records } = dataset('text');
    const mixed: DataRecord[] = [...records, { kind: 'prompt-completion', prompt: 'a', completion: 'b', line: 99 }];
    expect(() => buildRecipe({ ...input('lora', 'text'), data: { records: mixed, shape: 'text', source: 'x.jsonl' } })).toThrow(/line 99/);
  });
});
