/**
 * Parameter counts as PEFT reports them (`peft_model.py`):
 *
 * - get_nb_trainable_parameters sums `param.numel()` over `model.named_parameters()`, which lists a tied weight once
 *   (GPT-2's lm_head shares transformer.wte) and no buffers (GPT-2's attention mask); "all" is the base model plus
 *   the LoRA matrices, "trainable" the LoRA matrices plus the biases that bias="all" / "lora_only" unfreeze
 *   (`tuners_utils.py`, _mark_only_adapters_as_trainable: "all" every parameter whose name contains "bias",
 *   "lora_only" the bias of each adapted layer).
 * - print_trainable_parameters prints
 *   f"trainable params: {trainable:,d} || all params: {all:,d} || trainable%: {100 * trainable / all:.4f}".
 */
import type { ModelConfig } from '../model/config';
import { expectedTensors } from '../model/weight-names';
import type { LoraBias } from './lora-config';
import type { PromptLearningConfig } from './prompt-learning-config';

/** Python's `f"{n:,d}"`: an integer with a comma every three digits. */
export function pythonThousands(n: number): string {
  if (!Number.isSafeInteger(n)) throw new RangeError(`expected an integer, got ${n}`);
  const s = BigInt(Math.abs(n)).toString();
  return (n < 0 ? '-' : '') + s.replace(/\B(?=(\d{3})+(?!\d))/g, ',');
}

/**
 * Python's `f"{x:.4f}"`-style fixed formatting with `digits` decimals, rounding the exact binary value half to even
 * (toFixed rounds exact ties up, e.g. 0.03125 → "0.0313" where Python prints "0.0312").
 */
export function pythonFixed(x: number, digits: number): string {
  if (!Number.isFinite(x)) return Number.isNaN(x) ? 'nan' : x > 0 ? 'inf' : '-inf';
  const negative = x < 0 || Object.is(x, -0);
  // x = mant · 2^exp exactly.
  const view = new DataView(new ArrayBuffer(8));
  view.setFloat64(0, Math.abs(x));
  const hi = view.getUint32(0);
  const lo = view.getUint32(4);
  const bexp = (hi >>> 20) & 0x7ff;
  let mant = (BigInt(hi & 0xfffff) << 32n) | BigInt(lo);
  let exp: number;
  if (bexp === 0) exp = -1074;
  else {
    mant |= 1n << 52n;
    exp = bexp - 1075;
  }
  // q = round_half_even(mant · 2^exp · 10^digits)
  const num = mant * 10n ** BigInt(digits);
  let q: bigint;
  if (exp >= 0) q = num << BigInt(exp);
  else {
    const den = 1n << BigInt(-exp);
    q = num / den;
    const rem = num - q * den;
    const twice = rem * 2n;
    if (twice > den || (twice === den && (q & 1n) === 1n)) q += 1n;
  }
  let s = q.toString();
  if (digits > 0) {
    s = s.padStart(digits + 1, '0');
    s = `${s.slice(0, -digits)}.${s.slice(-digits)}`;
  }
  return (negative ? '-' : '') + s;
}

/** The line PEFT's print_trainable_parameters prints, e.g. "trainable params: 294,912 || all params: 124,734,720 || trainable%: 0.2364". */
export function trainableParametersLine(trainable: number, all: number): string {
  if (!Number.isSafeInteger(trainable) || trainable < 0) throw new RangeError(`trainable must be a non-negative integer, got ${trainable}`);
  if (!Number.isSafeInteger(all) || all <= 0) throw new RangeError(`all must be a positive integer, got ${all} (PEFT divides by it)`);
  // 100 * trainable is exact, and one IEEE division of exact operands rounds as Python's int / int does.
  return `trainable params: ${pythonThousands(trainable)} || all params: ${pythonThousands(all)} || trainable%: ${pythonFixed((100 * trainable) / all, 4)}`;
}

/** The base model's parameter count (tied embeddings once, no buffers). */
export function baseParameterCount(model: ModelConfig): number {
  let n = 0;
  for (const t of expectedTensors(model)) n += t.shape.reduce((p, d) => p * d, 1);
  return n;
}

/**
 * PEFT's get_nb_trainable_parameters for a LoRA model: all = base parameters + LoRA matrices; trainable = LoRA
 * matrices + the biases unfrozen by `bias`.
 */
export function countParameters(
  model: ModelConfig,
  targets: readonly { r: number; inFeatures: number; outFeatures: number; hasBias: boolean }[],
  bias: LoraBias = 'none',
  useDora = false,
): { trainable: number; all: number } {
  let lora = 0;
  // DoRA adds lora_magnitude_vector [out] per adapted layer.
  for (const t of targets) lora += t.r * (t.inFeatures + t.outFeatures) + (useDora ? t.outFeatures : 0);
  let biases = 0;
  if (bias === 'all') {
    for (const t of expectedTensors(model)) if (t.name.endsWith('.bias')) biases += t.shape.reduce((p, d) => p * d, 1);
  } else if (bias === 'lora_only') {
    for (const t of targets) if (t.hasBias) biases += t.outFeatures;
  }
  return { trainable: lora + biases, all: baseParameterCount(model) + lora };
}

/**
 * The trainable parameters of a prompt-learning method while training (PEFT's get_nb_trainable_parameters sums the
 * prompt encoder's parameters; the base model is frozen), from the modules PEFT builds:
 *
 * - prompt tuning (`tuners/prompt_tuning/model.py`): nn.Embedding(n·s, token_dim);
 * - P-tuning (`tuners/p_tuning/model.py`): nn.Embedding(n·s, d) and, for "MLP", Linear(d, h), Linear(h, h),
 *   Linear(h, d); for "LSTM", a bidirectional nn.LSTM(d, h, encoder_num_layers) (per layer and direction
 *   4h·in + 4h·h + 8h, with in = d for the first layer and 2h after it) and Linear(2h, 2h), Linear(2h, d);
 * - prefix tuning (`tuners/prefix_tuning/model.py`): nn.Embedding(n, L·2·d), or with prefix_projection
 *   nn.Embedding(n, d), Linear(d, h), Linear(h, L·2·d).
 *
 * (n = num_virtual_tokens, s = num_transformer_submodules, d = token_dim, h = encoder_hidden_size, L = num_layers.)
 */
export function promptLearningTrainableParameters(config: PromptLearningConfig): number {
  const linear = (i: number, o: number) => i * o + o;
  const d = config.token_dim;
  if (config.peft_type === 'PROMPT_TUNING') return config.num_virtual_tokens * config.num_transformer_submodules * d;
  if (config.peft_type === 'P_TUNING') {
    const h = config.encoder_hidden_size;
    const embedding = config.num_virtual_tokens * config.num_transformer_submodules * d;
    if (config.encoder_reparameterization_type === 'MLP') return embedding + linear(d, h) + linear(h, h) + linear(h, d);
    let lstm = 0;
    for (let l = 0; l < config.encoder_num_layers; l++) lstm += 2 * (4 * h * (l === 0 ? d : 2 * h) + 4 * h * h + 8 * h);
    return embedding + lstm + linear(2 * h, 2 * h) + linear(2 * h, d);
  }
  const out = config.num_layers * 2 * d;
  if (!config.prefix_projection) return config.num_virtual_tokens * out;
  return config.num_virtual_tokens * d + linear(d, config.encoder_hidden_size) + linear(config.encoder_hidden_size, out);
}

/** PEFT's get_nb_trainable_parameters for a prompt-learning model: all = base parameters + the prompt encoder's. */
export function countPromptLearningParameters(model: ModelConfig, config: PromptLearningConfig): { trainable: number; all: number } {
  const trainable = promptLearningTrainableParameters(config);
  return { trainable, all: baseParameterCount(model) + trainable };
}
