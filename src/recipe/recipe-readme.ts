/**
 * README.md of a recipe: how to run it, the GPU memory to expect, what carries over from the studio exactly and what
 * does not, where the loss masks are made (and where TRL's options would make the same), and how to bring the
 * adapter back into the studio.
 */
import { ACCELERATE_CONFIG_FILES } from './accelerate-configs';
import { formatBytes, type MemoryEstimate } from './memory-estimate';
import { RECIPE_FILE, type RecipeJson } from './recipe-settings';

export interface RecipeReadmeInput {
  recipe: RecipeJson;
  methodLabel: string;
  memory: MemoryEstimate;
  trainableParams: number;
}

/** The studio's setting names beside transformers' (the README's table). */
const STUDIO_NAMES: Readonly<Record<keyof RecipeJson['training'], string>> = {
  learning_rate: 'lr (--lr)',
  lr_scheduler_type: 'schedule (--schedule)',
  warmup_steps: 'warmupSteps (--warmup)',
  max_steps: 'maxSteps (--steps; 0 there is −1 here)',
  num_train_epochs: 'epochs (--epochs)',
  per_device_train_batch_size: 'batchSize (--batch)',
  gradient_accumulation_steps: 'gradAccum (--grad-accum)',
  max_grad_norm: 'maxGradNorm (--max-grad-norm)',
  weight_decay: 'weightDecay (--weight-decay)',
  adam_beta1: 'beta1 (--adam-beta1)',
  adam_beta2: 'beta2 (--adam-beta2)',
  adam_epsilon: 'eps (--adam-epsilon)',
  seed: 'seed (--seed)',
  max_length: 'maxLength (--seq)',
  loraplus_lr_ratio: 'loraplusLrRatio (--loraplus-lr-ratio)',
  val_split: 'valSplit (--val-split)',
  eval_steps: 'evalEvery (--eval-every)',
  save_steps: 'checkpointEvery (--save-every)',
  gradient_checkpointing: 'gradientCheckpointing (--gradient-checkpointing)',
};

function masksSection(r: RecipeJson): string {
  const where: Record<RecipeJson['data']['loss_mask'], string> = {
    'all-tokens':
      'Text records: the loss counts every token, and an EOS token is appended to each text. (TRL\'s SFTTrainer does the same for a ' +
      '"text" dataset: it appends EOS and trains on every token.)',
    'completion-only':
      'Prompt/completion records (and Alpaca records, which the studio turned into prompt/completion with its template before ' +
      'this export): the ids are encode(prompt) with the tokenizer\'s special tokens (e.g. BOS), then encode(completion) without ' +
      'them, then EOS; the loss counts only the completion and the EOS. In TRL this is SFTTrainer\'s `completion_only_loss` ' +
      '(SFTConfig; on by default for prompt/completion datasets).',
    'assistant-only':
      'Chat records: the conversation is rendered by the model\'s chat template and encoded without added special tokens (the ' +
      'template writes them); the loss counts only the assistant turns, each up to and including the template\'s end-of-turn ' +
      'text, and no EOS is added. In TRL this is SFTTrainer\'s `assistant_only_loss` (SFTConfig), which needs the chat template ' +
      'to mark the assistant text with `{% generation %}` … `{% endgeneration %}`; most templates (ChatML, Llama 3) have no such ' +
      'markers. The studio instead finds each assistant turn by rendering the conversation up to it and matching the encodings ' +
      'as token prefixes, which works with any template.',
  };
  return [
    '## Data and loss masks',
    '',
    `\`${r.data.records_file}\` holds the ${r.data.records} records of \`${r.data.source}\` as the studio read them, in file order, ` +
      `normalized to {"text"}, {"prompt", "completion"} or {"messages"} (shape here: ${r.data.shape}).`,
    '',
    where[r.data.loss_mask],
    '',
    'train.py makes the ids and the masks itself, in `recipe_data.py`: a port of the studio\'s tokenizer pipeline ' +
      '(src/data/tokenize.ts), so the masks are the studio\'s token for token with either kind of template (the studio\'s tests ' +
      'run it against the studio\'s own tokenization). It does not need TRL. Examples are cut to `max_length` tokens; a record ' +
      'left with nothing to learn from stops the run, or with `"skip_bad_records": true` (here ' +
      `${r.data.skip_bad_records}) is left out and listed, as in the studio.`,
    '',
    `The validation split (\`val_split\` = ${r.training.val_split}) is the studio's: the same seeded pick (a port of its ` +
      'shuffle), made after tokenization, so the same examples are held out. When `max_steps` is −1 the number of optimizer ' +
      'steps is the studio\'s, ceil(num_train_epochs · ceil(train examples / batch) / accumulation), passed to the Trainer as ' +
      'max_steps.',
  ].join('\n');
}

function quantizationSection(r: RecipeJson): string {
  const q = r.quantization;
  if (q === null) {
    return [
      '## Base weights',
      '',
      `The studio trained on float32 weights; the recipe loads the base in ${r.dtype}. For a large model, bitsandbytes 4-bit ` +
        '(QLoRA) saves most of the memory: set "quantization" in recipe.json as a quantized export writes it ' +
        '(load_in_4bit, bnb_4bit_quant_type "nf4", compute and storage dtype float32).',
    ].join('\n');
  }
  const what = q.load_in_8bit
    ? 'bitsandbytes 8-bit (LLM.int8). The studio\'s q8 holds absmax/127 in groups of 32; LLM.int8 rounds per row and keeps outliers in 16 bits, so W0 is close, not equal'
    : q.bnb_4bit_quant_type === 'nf4'
      ? 'bitsandbytes 4-bit NF4 (QLoRA), blocks of 64, no double quantization: the format of the studio\'s nf4'
      : 'bitsandbytes 4-bit FP4. The studio\'s q4 is an integer code ((q − 8)·absmax/7 in groups of 32) that bitsandbytes does not have; FP4 is its 4-bit format of the same size, not the same values';
  const sharding = q.load_in_8bit
    ? 'An 8-bit base cannot be sharded: use single_gpu.yaml or multi_gpu.yaml (DDP), not FSDP or ZeRO-3.'
    : 'Under FSDP and ZeRO-3 a 4-bit base needs its packed weights stored in the dtype of the other parameters ' +
      '(`bnb_4bit_quant_storage`, set by train.py from recipe.json), `fsdp_cpu_ram_efficient_loading: true` with ' +
      '`fsdp_sync_module_states: true` and `fsdp_use_orig_params: false` (fsdp.yaml), and `zero3_init_flag: true` ' +
      '(deepspeed_zero3.yaml); all are set.';
  return [
    '## Quantized base',
    '',
    `The studio trained on ${q.studio_weight_format} weights. The recipe loads the base as ${what}. Compute dtype: ` +
      `${q.bnb_4bit_compute_dtype ?? r.dtype}. train.py calls PEFT's prepare_model_for_kbit_training (without gradient checkpointing, as the studio).`,
    '',
    sharding,
  ].join('\n');
}

export function recipeReadme(input: RecipeReadmeInput): string {
  const r = input.recipe;
  const m = input.memory;
  const settings = (Object.keys(STUDIO_NAMES) as (keyof RecipeJson['training'])[]).map(
    (k) => `| \`${k}\` | ${JSON.stringify(r.training[k])} | ${STUDIO_NAMES[k]} |`,
  );
  const bottleneck = r.method === 'bottleneck';
  return [
    `# Training recipe: ${input.methodLabel} on ${r.base.name_or_path}`,
    '',
    `Written by PEFT Studio ${r.studio_version} from a run set up in the studio: the same base model, method and options, ` +
      'training settings, data and loss masks, for transformers + ' +
      (bottleneck ? 'AdapterHub\'s `adapters`' : `PEFT ${String(r.adapter_config.peft_version ?? '')}`.trimEnd()) +
      ' launched by Accelerate. Every setting is in `recipe.json`, once; `train.py` reads it.',
    '',
    '## Run it',
    '',
    'From this folder:',
    '',
    '```sh',
    'pip install -r requirements.txt',
    `accelerate launch --config_file ${ACCELERATE_CONFIG_FILES.singleGpu} train.py                     # one GPU`,
    `accelerate launch --config_file ${ACCELERATE_CONFIG_FILES.multiGpu} --num_processes 4 train.py    # DDP on 4 GPUs`,
    ...(bottleneck
      ? []
      : [
          `accelerate launch --config_file ${ACCELERATE_CONFIG_FILES.fsdp} --num_processes 4 train.py         # FSDP, FULL_SHARD per ${r.base.decoder_layer_class}`,
          `accelerate launch --config_file ${ACCELERATE_CONFIG_FILES.deepspeedZero3} --num_processes 4 train.py  # DeepSpeed ZeRO-3 (${ACCELERATE_CONFIG_FILES.zero3Json})`,
        ]),
    '```',
    '',
    'The adapter is written to `output/adapter` (`--output_dir DIR` to change `output`). On several GPUs, train.py divides ' +
      'the batch (or else the accumulation) by the number of GPUs, so each optimizer step sees the studio\'s examples.' +
      (bottleneck ? ' Bottleneck adapters (AdapterHub) are trained on one GPU or with DDP; train.py does not shard them.' : ''),
    '',
    '## Expected GPU memory (one GPU)',
    '',
    '| part | estimate |',
    '|---|---|',
    `| base weights (${r.quantization ? r.quantization.studio_weight_format : r.dtype}) | ${formatBytes(m.weights)} |`,
    `| adapter, its gradient and AdamW's two moments (${input.trainableParams} parameters × 16 bytes) | ${formatBytes(m.adapter)} |`,
    `| activations of one micro-batch (${r.training.per_device_train_batch_size} × ${r.training.max_length} tokens, float32) | ${formatBytes(m.activations)} |`,
    `| **total** | **${formatBytes(m.total)}** |`,
    '',
    'An estimate, for choosing a GPU: the weights and adapter are counted exactly; the activations are what the studio\'s engine ' +
      'keeps for a micro-batch of the longest examples (PyTorch keeps tensors of the same sizes, but its fused attention may ' +
      'not keep the T² attention probabilities); add 0.5–1 GiB for the CUDA context and the allocator. FSDP and ZeRO-3 divide ' +
      'the weights by the number of GPUs; DDP does not.',
    '',
    '## Settings',
    '',
    `Method: ${input.methodLabel} (${r.peft_type ? `peft_type ${r.peft_type}` : 'AdapterHub\'s format, no peft_type'})` +
      `. \`adapter_config\` in ${RECIPE_FILE} is the adapter_config.json the studio exports for this run; train.py builds the ` +
      (bottleneck ? 'adapter from its "config" with `adapters.AdapterConfig.load`.' : 'PEFT config from it with `peft.get_peft_config` (with inference_mode false, to train).'),
    '',
    '| recipe.json `training` (TrainingArguments name) | value | the studio\'s setting |',
    '|---|---|---|',
    ...settings,
    '',
    '- `lr_scheduler_type`: the studio\'s constant, linear and cosine schedules are transformers\' `constant_with_warmup`, ' +
      '`linear` and `cosine` formula for formula (transformers\' plain `constant` would ignore the warmup).',
    '- AdamW: the studio\'s update is torch.optim.AdamW\'s (decoupled weight decay p ← p·(1 − lr·wd), bias-corrected moments, ε ' +
      'added to √v̂); train.py uses `optim="adamw_torch"`. Weight decay skips biases in both, with one difference when ' +
      'weight_decay > 0: transformers skips every parameter with "bias" anywhere in its name, so P-tuning\'s LSTM biases ' +
      '(`bias_ih_l0`, `bias_hh_l0`), which the studio decays, are not decayed here.' +
      (r.training.loraplus_lr_ratio !== 1 ? ' LoRA+: PEFT\'s `create_loraplus_optimizer`, the groups the studio uses.' : ''),
    '- Clipping: the global norm, as torch.nn.utils.clip_grad_norm_ (factor max_norm / (norm + 1e-6), at most 1).',
    '- Loss: the mean over the counted tokens of each micro-batch, averaged over the accumulated micro-batches, as in the studio ' +
      '(train.py sets `model_accepts_loss_kwargs = False` and `average_tokens_across_devices=False`; transformers would otherwise ' +
      'weight micro-batches by their token counts).',
    '',
    'What does not carry over bit for bit: the random initial adapter weights and dropout masks (torch\'s generator, not the ' +
      'studio\'s), the order of the examples within an epoch (transformers\' seeded sampler, not the studio\'s shuffle), float ' +
      'summation order on another GPU, and the base weights where the quantized format differs (see below). With several GPUs, ' +
      'the loss is the mean of the GPUs\' means.',
    '',
    masksSection(r),
    '',
    quantizationSection(r),
    '',
    '## Bring the adapter back into the studio',
    '',
    '- In the studio: the Export step → Import, and choose the files of `output/adapter` ' +
      (bottleneck ? '(adapter_config.json and adapter.safetensors, AdapterHub\'s format).' : '(adapter_config.json and adapter_model.safetensors).'),
    `- From the command line: \`peft-studio generate --model ${r.base.name_or_path} --adapter output/adapter --prompt "…"\`, or ` +
      `\`peft-studio score --model ${r.base.name_or_path} --adapter output/adapter --data ${r.data.records_file}\`.`,
    '',
  ].join('\n');
}
