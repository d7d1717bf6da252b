/**
 * A prompt-learning adapter folder (prompt tuning, P-tuning, prefix tuning) as PEFT 0.21.0 writes and reads it
 * (`peft_model.py` save_pretrained / from_pretrained, `tuners/tuners_utils.py` BasePromptEncoder):
 *
 * - `adapter_config.json`: the method's config (prompt-learning-config.ts), inference_mode true;
 * - `adapter_model.safetensors`: one F32 tensor `prompt_embeddings` (no "base_model.model." prefix), metadata
 *   {"format": "pt"}: [n·s, token_dim] for prompt tuning and P-tuning, [n, num_layers·2·token_dim] for prefix
 *   tuning. For P-tuning and a projected prefix it is the encoder's OUTPUT (get_prompt_embedding_to_save); the
 *   encoder's own weights are not saved, and on load in inference mode PEFT builds no encoder and uses the tensor as
 *   it is;
 * - `README.md`: PEFT's model card (model-card.ts).
 *
 * PEFT loads the tensor with `embedding.load_state_dict({"weight": …}, strict=True)`, which refuses another shape,
 * and a missing tensor is a KeyError; export checks the shape and every value before writing all the same.
 */
import type { ModelConfig } from '../model/config';
import { parseSafetensors, tensorToFloat32 } from '../model-io/safetensors';
import {
  ADAPTER_CONFIG_FILE,
  ADAPTER_WEIGHTS_FILE,
  AdapterFilesError,
  adapterFileContents,
  checkTensorValues,
  MODEL_CARD_FILE,
  PEFT_KEY_PREFIX,
  writeAdapterWeights,
} from './adapter-files';
import { peftModelCard } from './model-card';
import {
  parsePromptLearningConfigJson,
  promptEmbeddingsShape,
  promptLearningConfigToJson,
  validatePromptLearningConfig,
  type PromptLearningConfig,
} from './prompt-learning-config';

/** The one key a prompt-learning adapter's safetensors holds (BasePromptEncoder._get_adapter_state_dict). */
export const PROMPT_EMBEDDINGS_KEY = 'prompt_embeddings';

function fail(msg: string): never {
  throw new AdapterFilesError(msg);
}

/** How the expected shape comes about, for messages. */
function describeShape(config: PromptLearningConfig): string {
  const [rows, cols] = promptEmbeddingsShape(config);
  if (config.peft_type === 'PREFIX_TUNING') {
    return `[num_virtual_tokens, num_layers·2·token_dim] = [${config.num_virtual_tokens}, ${config.num_layers}·2·${config.token_dim}] = [${rows}, ${cols}]`;
  }
  return `[num_virtual_tokens·num_transformer_submodules, token_dim] = [${config.num_virtual_tokens}·${config.num_transformer_submodules}, ${config.token_dim}] = [${rows}, ${cols}]`;
}

export interface ExportPromptLearningAdapterArgs<C extends PromptLearningConfig = PromptLearningConfig> {
  config: C;
  /**
   * What PEFT saves as prompt_embeddings, row-major: the virtual-token embeddings (prompt tuning), the prompt
   * encoder's output in eval mode (P-tuning), the prefix itself or the projection's output (prefix tuning).
   */
  embeddings: Float32Array;
  shape: readonly number[];
  model: ModelConfig;
}

/** adapter_config.json as PEFT's save_pretrained writes it after training (inference_mode true). */
export function promptLearningAdapterConfigJson(config: PromptLearningConfig): string {
  return promptLearningConfigToJson({ ...config, inference_mode: true });
}

/**
 * The files of a PEFT prompt-learning adapter folder: adapter_config.json, adapter_model.safetensors and README.md,
 * by file name. Throws before producing anything if the config does not fit the model, or the tensor's shape or a
 * value does not fit the config.
 */
export function exportPromptLearningAdapter(args: ExportPromptLearningAdapterArgs): Map<string, Uint8Array> {
  const { model } = args;
  const config = validatePromptLearningConfig(args.config, model);
  const where = 'exportPromptLearningAdapter';
  const expected = promptEmbeddingsShape(config);
  const shape = [...args.shape];
  if (shape.length !== 2 || shape[0] !== expected[0] || shape[1] !== expected[1]) {
    fail(`${where}: ${PROMPT_EMBEDDINGS_KEY} has shape [${shape.join(', ')}], expected ${describeShape(config)}`);
  }
  checkTensorValues(args.embeddings, expected[0] * expected[1], `${where}: ${PROMPT_EMBEDDINGS_KEY}`, expected);
  const safetensors = writeAdapterWeights([{ name: PROMPT_EMBEDDINGS_KEY, dtype: 'F32', shape: expected, data: args.embeddings }], where);

  const enc = new TextEncoder();
  const files = new Map<string, Uint8Array>();
  files.set(ADAPTER_CONFIG_FILE, enc.encode(promptLearningAdapterConfigJson(config)));
  files.set(ADAPTER_WEIGHTS_FILE, safetensors);
  files.set(MODEL_CARD_FILE, enc.encode(peftModelCard({ baseModel: config.base_model_name_or_path, peftType: config.peft_type, model })));
  return files;
}

export interface ImportedPromptLearningAdapter<C extends PromptLearningConfig = PromptLearningConfig> {
  config: C;
  /** prompt_embeddings as f32, row-major, of `shape` (promptEmbeddingsShape(config)). */
  embeddings: Float32Array;
  shape: [number, number];
  /** Things PEFT would also only warn about, or load without a word (see parsePromptLearningConfigJson). */
  warnings: string[];
}

/**
 * Reads a prompt-learning adapter folder's files (from readAdapterFiles or exportPromptLearningAdapter) for this
 * base model. Every error names the file and the tensor or field: another method's config, derived fields that do
 * not fit the model, a tensor other than prompt_embeddings, a missing one, a shape that does not fit the config,
 * a non-finite value. F16 and BF16 are converted to f32 (PEFT copies them into its f32 embedding).
 */
export function importPromptLearningAdapter(files: Map<string, Uint8Array>, model: ModelConfig): ImportedPromptLearningAdapter {
  const { configText, weightBytes } = adapterFileContents(files);
  const { config, warnings } = parsePromptLearningConfigJson(configText, model, ADAPTER_CONFIG_FILE);
  const file = ADAPTER_WEIGHTS_FILE;
  const st = parseSafetensors(weightBytes, file);
  for (const key of st.tensors.keys()) {
    if (key === PROMPT_EMBEDDINGS_KEY) continue;
    const hint = key.startsWith(PEFT_KEY_PREFIX)
      ? `; it looks like a tensor of a method that adapts the model's modules, such as LoRA, but ${ADAPTER_CONFIG_FILE} says peft_type "${config.peft_type}"`
      : '';
    fail(`${file}: tensor "${key}": not part of a ${config.peft_type} adapter, whose only tensor is "${PROMPT_EMBEDDINGS_KEY}"${hint}`);
  }
  const info = st.tensors.get(PROMPT_EMBEDDINGS_KEY);
  if (!info) fail(`${file}: "${PROMPT_EMBEDDINGS_KEY}" is missing; a ${config.peft_type} adapter holds this one tensor (PEFT's load fails without it)`);
  const where = `${file}: tensor "${PROMPT_EMBEDDINGS_KEY}"`;
  if (info.dtype !== 'F32' && info.dtype !== 'F16' && info.dtype !== 'BF16') fail(`${where}: dtype ${info.dtype} is not supported; expected F32, F16 or BF16`);
  const expected = promptEmbeddingsShape(config);
  if (info.shape.length !== 2 || info.shape[0] !== expected[0] || info.shape[1] !== expected[1]) {
    fail(
      `${where}: has shape [${info.shape.join(', ')}], but ${ADAPTER_CONFIG_FILE} and this ${model.modelType} model give ${describeShape(config)}; ` +
        `PEFT would refuse it too (load_state_dict with strict=True)`,
    );
  }
  // Refuses a NaN or ±Infinity while converting.
  const embeddings = tensorToFloat32(st, PROMPT_EMBEDDINGS_KEY);
  return { config, embeddings, shape: expected, warnings };
}
