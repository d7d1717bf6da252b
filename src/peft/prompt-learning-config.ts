/**
 * PEFT's three prompt-learning configs for a causal LM, field for field as `dataclasses.asdict` emits them in PEFT
 * 0.21.0, with their defaults, the fields PEFT derives from the base model, and checks that name the field and the
 * expected value:
 *
 * - PromptTuningConfig (`tuners/prompt_tuning/config.py`, peft_type "PROMPT_TUNING");
 * - PromptEncoderConfig, P-tuning (`tuners/p_tuning/config.py`, "P_TUNING");
 * - PrefixTuningConfig, prefix tuning / P-tuning v2 (`tuners/prefix_tuning/config.py`, "PREFIX_TUNING");
 *
 * all on PromptLearningConfig and PeftConfig (`config.py`). PEFT fills token_dim, num_attention_heads, num_layers and
 * encoder_hidden_size from the base model's config in `utils/other.py` `_prepare_prompt_learning_config`, and
 * num_transformer_submodules (1 for a causal LM) in `peft_model.py` `_setup_prompt_encoder`; a saved
 * adapter_config.json holds them all. The README's "Prompt learning in PEFT" section lists the facts with the PEFT
 * file each comes from.
 *
 * Where PEFT only warns about (or silently ignores) an option, makePromptLearningConfig refuses it, since training
 * would ignore it too; a loaded adapter_config.json gets a warning instead, because PEFT loads it and the option only
 * mattered while training.
 */
import type { ModelConfig } from '../model/config';
import { ConfigFieldChecker, isPlainObject, isUnusedValue, parseConfigObject, screenUnknownFields, showValue as show } from './config-values';
import { PEFT_VERSION } from './peft-version';
import { PROMPT_LEARNING_PEFT_TYPES, type PromptLearningPeftType } from './peft-type';
import { pythonJsonDumps, pyFloat, type PyJson } from './python-json';

export { PROMPT_LEARNING_PEFT_TYPES, type PromptLearningPeftType } from './peft-type';

/** PeftConfig and PromptLearningConfig fields (`config.py`). */
export interface PromptLearningConfigBase {
  task_type: 'CAUSAL_LM';
  auto_mapping: null;
  peft_version: string;
  base_model_name_or_path: string | null;
  revision: string | null;
  inference_mode: boolean;
  /** No default in PEFT: required. */
  num_virtual_tokens: number;
  /** Derived: hidden_size; for prefix tuning head_dim × num_key_value_heads. */
  token_dim: number;
  /** 1 for a causal LM (2 is for encoder-decoder models). */
  num_transformer_submodules: 1;
  /** Derived: num_attention_heads; for prefix tuning num_key_value_heads. */
  num_attention_heads: number;
  /** Derived: num_hidden_layers (n_layer). */
  num_layers: number;
  modules_to_save: null;
}

/** `tuners/prompt_tuning/config.py`, PromptTuningInit. */
export const PROMPT_TUNING_INITS = ['RANDOM', 'TEXT', 'SAMPLE_VOCAB'] as const;
export type PromptTuningInit = (typeof PROMPT_TUNING_INITS)[number];

export interface PromptTuningConfig extends PromptLearningConfigBase {
  peft_type: 'PROMPT_TUNING';
  prompt_tuning_init: PromptTuningInit;
  /** The hard prompt TEXT init starts from. */
  prompt_tuning_init_text: string | null;
  /** For TEXT: the base model's name (its tokenizer tokenizes the text). */
  tokenizer_name_or_path: string | null;
  tokenizer_kwargs: { [key: string]: PyJson } | null;
}

/** `tuners/p_tuning/config.py`, PromptEncoderReparameterizationType. */
export const ENCODER_REPARAMETERIZATION_TYPES = ['MLP', 'LSTM'] as const;
export type EncoderReparameterizationType = (typeof ENCODER_REPARAMETERIZATION_TYPES)[number];

/** P-tuning (PEFT's PromptEncoderConfig). */
export interface PromptEncoderConfig extends PromptLearningConfigBase {
  peft_type: 'P_TUNING';
  encoder_reparameterization_type: EncoderReparameterizationType;
  /** Derived default: token_dim. */
  encoder_hidden_size: number;
  /** LSTM layers; the MLP encoder ignores it (fixed layers). */
  encoder_num_layers: number;
  /** Dropout between LSTM layers; the MLP encoder has none. */
  encoder_dropout: number;
}

export interface PrefixTuningConfig extends PromptLearningConfigBase {
  peft_type: 'PREFIX_TUNING';
  /** null: N(0, 1) init; "zero": the prefix (or the projection's last layer) starts at zero. */
  init_weights: 'zero' | null;
  /** Derived default: token_dim. Used only with prefix_projection. */
  encoder_hidden_size: number;
  prefix_projection: boolean;
}

export type PromptLearningConfig = PromptTuningConfig | PromptEncoderConfig | PrefixTuningConfig;
export type ConfigOf<T extends PromptLearningPeftType> = Extract<PromptLearningConfig, { peft_type: T }>;

/** Every key of adapter_config.json PEFT 0.21.0 writes for prompt tuning, sorted. */
export const PROMPT_TUNING_CONFIG_FIELDS = [
  'auto_mapping', 'base_model_name_or_path', 'inference_mode', 'modules_to_save', 'num_attention_heads', 'num_layers',
  'num_transformer_submodules', 'num_virtual_tokens', 'peft_type', 'peft_version', 'prompt_tuning_init',
  'prompt_tuning_init_text', 'revision', 'task_type', 'token_dim', 'tokenizer_kwargs', 'tokenizer_name_or_path',
] as const satisfies readonly (keyof PromptTuningConfig)[];

/** Every key of adapter_config.json PEFT 0.21.0 writes for P-tuning, sorted. */
export const PROMPT_ENCODER_CONFIG_FIELDS = [
  'auto_mapping', 'base_model_name_or_path', 'encoder_dropout', 'encoder_hidden_size', 'encoder_num_layers',
  'encoder_reparameterization_type', 'inference_mode', 'modules_to_save', 'num_attention_heads', 'num_layers',
  'num_transformer_submodules', 'num_virtual_tokens', 'peft_type', 'peft_version', 'revision', 'task_type', 'token_dim',
] as const satisfies readonly (keyof PromptEncoderConfig)[];

/** Every key of adapter_config.json PEFT 0.21.0 writes for prefix tuning, sorted. */
export const PREFIX_TUNING_CONFIG_FIELDS = [
  'auto_mapping', 'base_model_name_or_path', 'encoder_hidden_size', 'inference_mode', 'init_weights', 'modules_to_save',
  'num_attention_heads', 'num_layers', 'num_transformer_submodules', 'num_virtual_tokens', 'peft_type', 'peft_version',
  'prefix_projection', 'revision', 'task_type', 'token_dim',
] as const satisfies readonly (keyof PrefixTuningConfig)[];

const BASE_HELP = {
  num_virtual_tokens: 'Number of virtual tokens',
  token_dim: 'The hidden embedding dimension of the base transformer model',
  num_transformer_submodules: 'Number of transformer submodules',
  num_attention_heads: 'Number of attention heads',
  num_layers: 'Number of transformer layers',
} as const;

/** PEFT's help texts (the dataclass fields' metadata["help"]) for the fields a user sets, per method. */
export const PROMPT_LEARNING_HELP = {
  PROMPT_TUNING: {
    ...BASE_HELP,
    prompt_tuning_init: 'How to initialize the prompt tuning parameters',
    prompt_tuning_init_text: 'The text to use for prompt tuning initialization. Only used if prompt_tuning_init is `TEXT`',
    tokenizer_name_or_path: 'The tokenizer to use for prompt tuning initialization. Only used if prompt_tuning_init is `TEXT`',
    tokenizer_kwargs: 'The keyword arguments to pass to `AutoTokenizer.from_pretrained`. Only used if prompt_tuning_init is `TEXT`',
  },
  P_TUNING: {
    ...BASE_HELP,
    encoder_reparameterization_type: 'How to reparameterize the prompt encoder',
    encoder_hidden_size: 'The hidden size of the prompt encoder',
    encoder_num_layers: 'The number of layers of the prompt encoder',
    encoder_dropout: 'The dropout of the prompt encoder',
  },
  PREFIX_TUNING: {
    ...BASE_HELP,
    init_weights: 'If not set, weights are initialized at random, if set to "zero" the weights are initialized so that the activations will be a no-op (zero).',
    encoder_hidden_size: 'The hidden size of the encoder',
    prefix_projection: 'Whether to project the prefix tokens',
  },
} as const;

/** PEFT's class names, for messages. */
export const PROMPT_LEARNING_CLASS_NAMES: Readonly<Record<PromptLearningPeftType, string>> = {
  PROMPT_TUNING: 'PromptTuningConfig',
  P_TUNING: 'PromptEncoderConfig',
  PREFIX_TUNING: 'PrefixTuningConfig',
};

const LABELS: Readonly<Record<PromptLearningPeftType, string>> = {
  PROMPT_TUNING: 'prompt tuning',
  P_TUNING: 'P-tuning',
  PREFIX_TUNING: 'prefix tuning',
};

const FIELDS: Readonly<Record<PromptLearningPeftType, readonly string[]>> = {
  PROMPT_TUNING: PROMPT_TUNING_CONFIG_FIELDS,
  P_TUNING: PROMPT_ENCODER_CONFIG_FIELDS,
  PREFIX_TUNING: PREFIX_TUNING_CONFIG_FIELDS,
};

/** The fields of a method's adapter_config.json, sorted. */
export function promptLearningConfigFields(peftType: PromptLearningPeftType): readonly string[] {
  return FIELDS[peftType];
}

export class PromptLearningConfigError extends Error {
  override name = 'PromptLearningConfigError';
}

type Nullable<T> = { [K in keyof T]: T[K] | null };
/** A config as the dataclass defaults leave it, before the base model fills the derived fields. */
export type PromptLearningDefaults<T extends PromptLearningPeftType> = Nullable<ConfigOf<T>>;

/** The dataclass defaults (null where PEFT derives the value from the model, or where it has no default). */
export function promptLearningDefaults<T extends PromptLearningPeftType>(peftType: T): PromptLearningDefaults<T> {
  const base = {
    task_type: 'CAUSAL_LM',
    peft_type: peftType,
    auto_mapping: null,
    peft_version: PEFT_VERSION,
    base_model_name_or_path: null,
    revision: null,
    inference_mode: false,
    num_virtual_tokens: null,
    token_dim: null,
    num_transformer_submodules: null,
    num_attention_heads: null,
    num_layers: null,
    modules_to_save: null,
  };
  const own: Record<PromptLearningPeftType, Record<string, unknown>> = {
    PROMPT_TUNING: { prompt_tuning_init: 'RANDOM', prompt_tuning_init_text: null, tokenizer_name_or_path: null, tokenizer_kwargs: null },
    P_TUNING: { encoder_reparameterization_type: 'MLP', encoder_hidden_size: null, encoder_num_layers: 2, encoder_dropout: 0.0 },
    PREFIX_TUNING: { init_weights: null, encoder_hidden_size: null, prefix_projection: false },
  };
  return { ...base, ...own[peftType] } as unknown as PromptLearningDefaults<T>;
}

/** The fields PEFT derives from the base model's config (`utils/other.py`, _prepare_prompt_learning_config). */
export interface DerivedPromptLearningFields {
  token_dim: number;
  num_attention_heads: number;
  num_layers: number;
  num_transformer_submodules: 1;
}

/**
 * token_dim, num_attention_heads and num_layers as PEFT derives them: hidden_size (n_embd), num_attention_heads
 * (n_head) and num_hidden_layers (n_layer). For prefix tuning on a model whose config has num_key_value_heads
 * (Llama, Qwen2), token_dim = head_dim × num_key_value_heads and num_attention_heads = num_key_value_heads, so the
 * prefix holds one key and value per KV head. GPT-2 has no num_key_value_heads; the same formula gives its values
 * (head_dim × n_head = n_embd), so it applies to every model here.
 */
export function derivedPromptLearningFields(peftType: PromptLearningPeftType, model: ModelConfig): DerivedPromptLearningFields {
  const prefix = peftType === 'PREFIX_TUNING';
  return {
    token_dim: prefix ? model.headDim * model.numKvHeads : model.hiddenSize,
    num_attention_heads: prefix ? model.numKvHeads : model.numHeads,
    num_layers: model.numLayers,
    num_transformer_submodules: 1,
  };
}

/**
 * The shape of the saved `prompt_embeddings` tensor (`peft_model.py` get_prompt_embedding_to_save): prompt tuning
 * and P-tuning [num_virtual_tokens · num_transformer_submodules, token_dim]; prefix tuning
 * [num_virtual_tokens, num_layers · 2 · token_dim].
 */
export function promptEmbeddingsShape(config: PromptLearningConfig): [number, number] {
  if (config.peft_type === 'PREFIX_TUNING') return [config.num_virtual_tokens, config.num_layers * 2 * config.token_dim];
  return [config.num_virtual_tokens * config.num_transformer_submodules, config.token_dim];
}

/**
 * Where layer `layer`'s keys and values lie in each row of a prefix's `prompt_embeddings` [n, L·2·token_dim]:
 * get_prompt views a row as [2L, heads, head_dim], so slice 2·layer holds the keys and 2·layer + 1 the values, each
 * token_dim = heads × head_dim wide, head h at h·head_dim inside it. Columns are [start, end).
 */
export function prefixKeyValueColumns(config: PrefixTuningConfig, layer: number): { keys: [number, number]; values: [number, number] } {
  if (!Number.isInteger(layer) || layer < 0 || layer >= config.num_layers) {
    throw new RangeError(`prefixKeyValueColumns: layer ${layer} is outside 0..${config.num_layers - 1}`);
  }
  const d = config.token_dim;
  return { keys: [2 * layer * d, (2 * layer + 1) * d], values: [(2 * layer + 1) * d, (2 * layer + 2) * d] };
}

/**
 * How many real tokens fit after the virtual tokens: the real tokens sit at positions num_virtual_tokens … (prompt
 * tuning and P-tuning prepend embeddings; prefix tuning's cache shifts the positions), and GPT-2 has learned
 * positions only up to n_positions (Llama's RoPE was trained up to max_position_embeddings).
 */
export function maxRealTokens(config: Pick<PromptLearningConfigBase, 'num_virtual_tokens'>, model: ModelConfig): number {
  return model.maxPositions - config.num_virtual_tokens;
}

// ---------------------------------------------------------------------------------------------------------------
// Validation

/**
 * "make": a new config for training; options training would ignore are refused. "check": an existing config object
 * (export); "load": an adapter_config.json. In "check" and "load", options that only mattered for training are
 * accepted ("load" warns), and "load" drops unknown empty fields with a warning.
 */
type Mode = 'make' | 'check' | 'load';

class Checker extends ConfigFieldChecker {
  constructor(
    where: string,
    readonly mode: Mode,
    readonly warnings: string[],
  ) {
    super(where, (message) => new PromptLearningConfigError(message));
  }

  /** An option training would ignore: refused for a new config, a warning for a loaded one. */
  ignored(field: string, value: unknown, why: string, expected: string): void {
    if (this.mode === 'make') throw new PromptLearningConfigError(`${this.where}: ${field} = ${show(value)} ${why}; expected ${expected}`);
    if (this.mode === 'load') this.warnings.push(`${this.where}: ${field} = ${show(value)} ${why}`);
  }

  oneOf<T extends string>(field: string, v: unknown, values: readonly T[], extra = ''): T {
    if (typeof v !== 'string' || !(values as readonly string[]).includes(v)) this.fail(field, v, `${values.map((x) => `"${x}"`).join(', ')}${extra}`);
    return v as T;
  }
}

function normalize(
  raw: Record<string, unknown>,
  peftType: PromptLearningPeftType,
  model: ModelConfig,
  where: string,
  mode: Mode,
  warnings: string[],
): PromptLearningConfig {
  const className = PROMPT_LEARNING_CLASS_NAMES[peftType];
  screenUnknownFields({
    raw, fields: FIELDS[peftType], className, where, mode: mode === 'load' ? 'load' : 'make', warnings,
    error: (m) => new PromptLearningConfigError(m),
  });
  const c = new Checker(where, mode, warnings);
  const d = promptLearningDefaults(peftType) as Record<string, unknown>;
  const get = (k: string): unknown => (raw[k] === undefined ? d[k] : raw[k]);
  const label = LABELS[peftType];

  const t = get('peft_type');
  if (t !== peftType) c.fail('peft_type', t, `"${peftType}" (${className})`);
  let taskType = get('task_type');
  if (mode === 'load' && taskType === null) {
    warnings.push(
      `${where}: task_type is null; read as "CAUSAL_LM". (PEFT's PeftModel.from_pretrained would build a plain PeftModel, whose forward ` +
        `ignores the virtual tokens; AutoPeftModelForCausalLM applies them)`,
    );
    taskType = 'CAUSAL_LM';
  }
  if (taskType !== 'CAUSAL_LM') c.fail('task_type', taskType, '"CAUSAL_LM" (PEFT Studio adapts causal language models)');
  const autoMapping = get('auto_mapping');
  if (autoMapping !== null && !(mode === 'load' && isPlainObject(autoMapping))) c.fail('auto_mapping', autoMapping, 'null');
  const peftVersion = get('peft_version');
  if (typeof peftVersion !== 'string' || peftVersion.length === 0) c.fail('peft_version', peftVersion, 'a version string such as "0.21.0"');
  const inferenceMode = c.bool('inference_mode', get('inference_mode'));
  const baseName = c.nullableString('base_model_name_or_path', get('base_model_name_or_path'));
  const revision = c.nullableString('revision', get('revision'));
  const modulesToSave = get('modules_to_save');
  if (!isUnusedValue(modulesToSave)) {
    throw new PromptLearningConfigError(`${where}: modules_to_save = ${show(modulesToSave)} is not supported yet (extra fully trained modules); expected null`);
  }

  const n = c.positiveInt('num_virtual_tokens', get('num_virtual_tokens'), ' (PEFT has no default; its examples use 20)');
  const maxN = model.maxPositions - 1;
  if (n > maxN) {
    c.fail(
      'num_virtual_tokens', n,
      `at most ${maxN}: the real tokens start at position ${n}, and this model has ${model.maxPositions} positions, ` +
        `which leaves ${Math.max(0, model.maxPositions - n)} for them (at least 1 is needed)`,
    );
  }
  const submodules = get('num_transformer_submodules');
  if (submodules !== null && submodules !== 1) c.fail('num_transformer_submodules', submodules, '1 (a causal LM; 2 is for encoder-decoder models)');

  const derived = derivedPromptLearningFields(peftType, model);
  const how: Record<'token_dim' | 'num_attention_heads' | 'num_layers', string> = {
    token_dim:
      peftType === 'PREFIX_TUNING'
        ? `head_dim ${model.headDim} × ${model.numKvHeads} key/value heads, as PEFT sets it for prefix tuning`
        : `the hidden size`,
    num_attention_heads: peftType === 'PREFIX_TUNING' ? 'the key/value heads, as PEFT sets it for prefix tuning' : 'the attention heads',
    num_layers: 'the layers',
  };
  const dims = {} as Record<'token_dim' | 'num_attention_heads' | 'num_layers', number>;
  for (const k of ['token_dim', 'num_attention_heads', 'num_layers'] as const) {
    const v = get(k);
    if (v !== null && v !== derived[k]) {
      const hint = mode === 'load' ? '; is the adapter for another base model?' : '; leave it out and it is derived from the model';
      c.fail(k, v, `${derived[k]}, ${how[k]} of this ${model.modelType} model${hint}`);
    }
    dims[k] = derived[k];
  }
  const base: PromptLearningConfigBase = {
    task_type: 'CAUSAL_LM',
    auto_mapping: null,
    peft_version: peftVersion as string,
    base_model_name_or_path: baseName,
    revision,
    inference_mode: inferenceMode,
    num_virtual_tokens: n,
    ...dims,
    num_transformer_submodules: 1,
    modules_to_save: null,
  };

  if (peftType === 'PROMPT_TUNING') {
    const init = c.oneOf('prompt_tuning_init', get('prompt_tuning_init'), PROMPT_TUNING_INITS, ' (upper case: PEFT treats any other value as "RANDOM")');
    const text = c.nullableString('prompt_tuning_init_text', get('prompt_tuning_init_text'));
    let tokenizer = c.nullableString('tokenizer_name_or_path', get('tokenizer_name_or_path'));
    const kwargs = get('tokenizer_kwargs');
    if (kwargs !== null && !isPlainObject(kwargs)) c.fail('tokenizer_kwargs', kwargs, 'null or an object');
    const hasKwargs = isPlainObject(kwargs) && Object.keys(kwargs).length > 0;
    if (init === 'TEXT') {
      // PromptTuningConfig.__post_init__ raises for both.
      if (text === null || (mode === 'make' && text.length === 0)) c.fail('prompt_tuning_init_text', text, 'the text of the hard prompt to start from, since prompt_tuning_init is "TEXT"');
      if (mode === 'make') {
        if (tokenizer === null) tokenizer = baseName;
        else if (tokenizer !== baseName) {
          c.fail('tokenizer_name_or_path', tokenizer, `null or the base model's name ${show(baseName)}: PEFT Studio tokenizes the text with the base model's tokenizer`);
        }
        if (hasKwargs) c.fail('tokenizer_kwargs', kwargs, "null: PEFT Studio tokenizes the text with the base model's tokenizer as it is");
      }
      if (!tokenizer) c.fail('tokenizer_name_or_path', tokenizer, 'the tokenizer of the TEXT init (PEFT requires it when prompt_tuning_init is "TEXT")');
    } else {
      // PromptTuningConfig.__post_init__ raises for tokenizer_kwargs; the other two are silently unused.
      if (hasKwargs) c.fail('tokenizer_kwargs', kwargs, `null; PEFT only accepts it when prompt_tuning_init is "TEXT" (it is "${init}")`);
      if (text !== null) c.ignored('prompt_tuning_init_text', text, `is only used when prompt_tuning_init is "TEXT" (it is "${init}")`, 'null, or prompt_tuning_init "TEXT"');
      if (tokenizer !== null) c.ignored('tokenizer_name_or_path', tokenizer, `is only used when prompt_tuning_init is "TEXT" (it is "${init}")`, 'null, or prompt_tuning_init "TEXT"');
    }
    return {
      ...base,
      peft_type: 'PROMPT_TUNING',
      prompt_tuning_init: init,
      prompt_tuning_init_text: text,
      tokenizer_name_or_path: tokenizer,
      tokenizer_kwargs: kwargs as PromptTuningConfig['tokenizer_kwargs'],
    };
  }

  const hiddenRaw = get('encoder_hidden_size');
  const hidden = hiddenRaw === null ? dims.token_dim : c.positiveInt('encoder_hidden_size', hiddenRaw);

  if (peftType === 'P_TUNING') {
    const type = c.oneOf(
      'encoder_reparameterization_type', get('encoder_reparameterization_type'), ENCODER_REPARAMETERIZATION_TYPES,
      ' (PEFT raises "Prompt encoder type not recognized" for anything else)',
    );
    const layers = c.positiveInt('encoder_num_layers', get('encoder_num_layers'));
    const dropout = get('encoder_dropout');
    if (typeof dropout !== 'number' || !(dropout >= 0 && dropout < 1)) c.fail('encoder_dropout', dropout, 'a number in [0, 1)');
    const defaultLayers = d.encoder_num_layers as number;
    if (type === 'MLP') {
      // p_tuning/model.py: the MLP head is always Linear-ReLU-Linear-ReLU-Linear; PEFT warns about encoder_num_layers
      // and never reads encoder_dropout.
      if (layers !== defaultLayers) {
        c.ignored('encoder_num_layers', layers, `is ignored by the MLP encoder (PEFT only warns; its MLP has fixed layers)`, `${defaultLayers} (the default), or encoder_reparameterization_type "LSTM"`);
      }
      if (dropout !== 0) {
        c.ignored('encoder_dropout', dropout, 'is ignored by the MLP encoder (it has no dropout; PEFT does not warn)', '0, or encoder_reparameterization_type "LSTM"');
      }
    } else if (dropout !== 0 && layers === 1) {
      // torch.nn.LSTM applies dropout between layers only, and warns that one layer ignores it.
      c.ignored('encoder_dropout', dropout, 'is ignored with encoder_num_layers 1 (torch.nn.LSTM drops out between layers only)', '0, or encoder_num_layers of at least 2');
    }
    return {
      ...base,
      peft_type: 'P_TUNING',
      encoder_reparameterization_type: type,
      encoder_hidden_size: hidden,
      encoder_num_layers: layers,
      encoder_dropout: dropout as number,
    };
  }

  const projection = c.bool('prefix_projection', get('prefix_projection'));
  const initWeights = get('init_weights');
  if (initWeights !== null && initWeights !== 'zero') c.fail('init_weights', initWeights, 'null (random N(0, 1) init) or "zero" (PEFT treats any other value as null)');
  if (!projection && hiddenRaw !== null && hidden !== dims.token_dim) {
    c.ignored('encoder_hidden_size', hidden, `is only used with prefix_projection true (${label} without projection trains the prefix itself)`, `${dims.token_dim} (the default), or prefix_projection true`);
  }
  return {
    ...base,
    peft_type: 'PREFIX_TUNING',
    init_weights: initWeights as 'zero' | null,
    encoder_hidden_size: hidden,
    prefix_projection: projection,
  };
}

/**
 * A full config of `peftType` from the fields given: PEFT's defaults, the base model's name and revision, and
 * token_dim, num_attention_heads, num_layers, num_transformer_submodules and encoder_hidden_size derived from the
 * model as PEFT derives them. For TEXT init, tokenizer_name_or_path is the base model. Every field is checked; a bad
 * one throws a PromptLearningConfigError naming the field, its value and what is expected.
 */
export function makePromptLearningConfig<T extends PromptLearningPeftType>(
  peftType: T,
  partial: Partial<ConfigOf<T>>,
  model: ModelConfig,
  base: { nameOrPath: string; revision?: string | null },
): ConfigOf<T> {
  if (!(PROMPT_LEARNING_PEFT_TYPES as readonly string[]).includes(peftType)) {
    throw new PromptLearningConfigError(`peft_type ${show(peftType)} is not a prompt-learning method; expected one of ${PROMPT_LEARNING_PEFT_TYPES.join(', ')}`);
  }
  const where = `${LABELS[peftType]} config`;
  if (typeof base.nameOrPath !== 'string' || base.nameOrPath.length === 0) {
    throw new PromptLearningConfigError(`${where}: the base model's name or path is empty; expected e.g. "gpt2" or "HuggingFaceTB/SmolLM2-135M"`);
  }
  const raw: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(partial)) if (v !== undefined) raw[k] = v;
  for (const k of ['base_model_name_or_path', 'revision'] as const) {
    const want = k === 'base_model_name_or_path' ? base.nameOrPath : (base.revision ?? null);
    if (raw[k] !== undefined && raw[k] !== want) {
      throw new PromptLearningConfigError(`${where}: ${k} = ${show(raw[k])} contradicts the base model given (${show(want)}); leave it out`);
    }
  }
  raw.base_model_name_or_path = base.nameOrPath;
  raw.revision = base.revision ?? null;
  return normalize(raw, peftType, model, where, 'make', []) as ConfigOf<T>;
}

export const makePromptTuningConfig = (p: Partial<PromptTuningConfig>, model: ModelConfig, base: { nameOrPath: string; revision?: string | null }) =>
  makePromptLearningConfig('PROMPT_TUNING', p, model, base);
export const makePromptEncoderConfig = (p: Partial<PromptEncoderConfig>, model: ModelConfig, base: { nameOrPath: string; revision?: string | null }) =>
  makePromptLearningConfig('P_TUNING', p, model, base);
export const makePrefixTuningConfig = (p: Partial<PrefixTuningConfig>, model: ModelConfig, base: { nameOrPath: string; revision?: string | null }) =>
  makePromptLearningConfig('PREFIX_TUNING', p, model, base);

/**
 * Checks an existing config object again for this model (e.g. before export) and returns it normalized. Options
 * that only mattered for training (a TEXT init's tokenizer, an ignored encoder option) pass, as PEFT loads them.
 */
export function validatePromptLearningConfig<C extends PromptLearningConfig>(config: C, model: ModelConfig): C {
  const type = (config as { peft_type?: unknown }).peft_type;
  if (typeof type !== 'string' || !(PROMPT_LEARNING_PEFT_TYPES as readonly string[]).includes(type)) {
    throw new PromptLearningConfigError(`prompt-learning config: peft_type = ${show(type)} is invalid; expected one of ${PROMPT_LEARNING_PEFT_TYPES.map((x) => `"${x}"`).join(', ')}`);
  }
  const t = type as PromptLearningPeftType;
  return normalize(config as unknown as Record<string, unknown>, t, model, `${LABELS[t]} config`, 'check', []) as C;
}

/**
 * Parses adapter_config.json text as PEFT's PeftConfig.from_pretrained would, for this base model. The method comes
 * from peft_type; pass `expected` to require one. Missing fields get PEFT's defaults (and the derived ones), unknown
 * fields with an empty value are ignored with a warning, derived fields must match the model.
 */
export function parsePromptLearningConfigJson(
  text: string,
  model: ModelConfig,
  file = 'adapter_config.json',
  expected?: PromptLearningPeftType,
): { config: PromptLearningConfig; warnings: string[] } {
  const json = parseConfigObject(text, file, (m) => new PromptLearningConfigError(m));
  const list = (expected ? [expected] : PROMPT_LEARNING_PEFT_TYPES).map((x) => `"${x}"`).join(', ');
  if (!('peft_type' in json)) throw new PromptLearningConfigError(`${file}: "peft_type" is missing; PEFT requires it (expected ${list})`);
  const t = json.peft_type;
  if (typeof t !== 'string' || !(expected ? t === expected : (PROMPT_LEARNING_PEFT_TYPES as readonly string[]).includes(t))) {
    throw new PromptLearningConfigError(`${file}: peft_type = ${show(t)} is invalid; expected ${expected ? list : `one of ${list}`}`);
  }
  const warnings: string[] = [];
  const config = normalize(json, t as PromptLearningPeftType, model, file, 'load', warnings);
  return { config, warnings };
}

export function parsePromptTuningConfigJson(text: string, model: ModelConfig, file?: string): { config: PromptTuningConfig; warnings: string[] } {
  return parsePromptLearningConfigJson(text, model, file, 'PROMPT_TUNING') as { config: PromptTuningConfig; warnings: string[] };
}
export function parsePromptEncoderConfigJson(text: string, model: ModelConfig, file?: string): { config: PromptEncoderConfig; warnings: string[] } {
  return parsePromptLearningConfigJson(text, model, file, 'P_TUNING') as { config: PromptEncoderConfig; warnings: string[] };
}
export function parsePrefixTuningConfigJson(text: string, model: ModelConfig, file?: string): { config: PrefixTuningConfig; warnings: string[] } {
  return parsePromptLearningConfigJson(text, model, file, 'PREFIX_TUNING') as { config: PrefixTuningConfig; warnings: string[] };
}

/**
 * The config as PEFT's save_pretrained writes it: `json.dumps(asdict(config), indent=2, sort_keys=True)` with the
 * method's fields only, encoder_dropout a Python float (the dataclass default 0.0).
 */
export function promptLearningConfigToJson(config: PromptLearningConfig): string {
  const obj: Record<string, PyJson> = {};
  const record = config as unknown as Record<string, PyJson>;
  for (const k of FIELDS[config.peft_type]) {
    if (record[k] === undefined) throw new PromptLearningConfigError(`promptLearningConfigToJson: ${k} is missing from the ${LABELS[config.peft_type]} config`);
    obj[k] = record[k];
  }
  if (config.peft_type === 'P_TUNING') obj.encoder_dropout = pyFloat(config.encoder_dropout);
  return pythonJsonDumps(obj, { indent: 2, sortKeys: true });
}
