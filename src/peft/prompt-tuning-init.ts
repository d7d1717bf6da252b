/**
 * Prompt tuning's initial virtual-token embeddings, as PEFT's PromptEmbedding (`tuners/prompt_tuning/model.py`)
 * makes them when it trains (in inference mode it skips all of this), with this project's seeded generator in place
 * of torch's:
 *
 * - RANDOM: `torch.nn.Embedding(n·s, token_dim)`'s own init, N(0, 1) per value.
 * - SAMPLE_VOCAB: n·s token ids drawn uniformly from [0, vocab rows) (`torch.randint(0, num_embeddings)`), and
 *   their rows of the model's input embedding.
 * - TEXT: `tokenizer(prompt_tuning_init_text)["input_ids"]` (special tokens included: a BOS for Llama, none for
 *   GPT-2 and Qwen2), cut to n·s ids if longer, else repeated ceil(n·s / len) times and cut; their rows of the input
 *   embedding. PEFT divides by the id count, so a text with no tokens fails there (here: an error naming the field).
 *
 * The rows are copied (PEFT: `.detach().clone().to(torch.float32)`); the result is the [n·s, token_dim] parameter.
 */
import { mulberry32, randomNormal } from '../util/random';
import { PromptLearningConfigError, type PromptTuningConfig } from './prompt-learning-config';

/** PEFT's TEXT rule: `ids` cut to `total`, or repeated ceil(total / len) times and cut. */
export function textInitTokenIds(ids: readonly number[], total: number): number[] {
  if (!Number.isSafeInteger(total) || total <= 0) throw new RangeError(`textInitTokenIds: total = ${total}; expected a positive integer`);
  if (ids.length === 0) {
    throw new PromptLearningConfigError('prompt tuning config: prompt_tuning_init_text tokenizes to no tokens; expected a text with at least one token');
  }
  if (ids.length >= total) return ids.slice(0, total);
  const reps = Math.ceil(total / ids.length);
  const out: number[] = [];
  for (let r = 0; r < reps; r++) out.push(...ids);
  return out.slice(0, total);
}

/** The rows of the input embedding that SAMPLE_VOCAB and TEXT start from; null for RANDOM. */
export function promptTuningInitTokenIds(
  config: PromptTuningConfig,
  vocabRows: number,
  encode: (text: string) => number[],
  seed: number,
): number[] | null {
  const total = config.num_virtual_tokens * config.num_transformer_submodules;
  if (config.prompt_tuning_init === 'RANDOM') return null;
  let ids: number[];
  if (config.prompt_tuning_init === 'SAMPLE_VOCAB') {
    const next = mulberry32(seed);
    ids = Array.from({ length: total }, () => Math.min(vocabRows - 1, Math.floor(next() * vocabRows)));
  } else {
    if (config.prompt_tuning_init_text === null) {
      throw new PromptLearningConfigError('prompt tuning config: prompt_tuning_init_text = null is invalid; expected the text of the hard prompt to start from, since prompt_tuning_init is "TEXT"');
    }
    ids = textInitTokenIds(encode(config.prompt_tuning_init_text), total);
  }
  for (const id of ids) {
    if (!Number.isInteger(id) || id < 0 || id >= vocabRows) {
      throw new RangeError(`promptTuningInit: token id ${id} is outside the model's input embedding (0..${vocabRows - 1}); is the tokenizer the base model's?`);
    }
  }
  return ids;
}

/**
 * The initial prompt_embeddings [n·s, token_dim] (row-major) for `config.prompt_tuning_init`. `embeddingTable` is
 * the model's input embedding [V, token_dim] as f32; `encode` the base model's tokenizer with its special tokens
 * (TextTokenizer.encode with default options, like `tokenizer(text)` in transformers).
 */
export function promptTuningInit(
  config: PromptTuningConfig,
  embeddingTable: Float32Array,
  encode: (text: string) => number[],
  seed: number,
): Float32Array {
  const d = config.token_dim;
  const total = config.num_virtual_tokens * config.num_transformer_submodules;
  if (embeddingTable.length === 0 || embeddingTable.length % d !== 0) {
    throw new RangeError(`promptTuningInit: the embedding table has ${embeddingTable.length} values, expected [vocab, token_dim ${d}]`);
  }
  const ids = promptTuningInitTokenIds(config, embeddingTable.length / d, encode, seed);
  if (ids === null) return randomNormal(total * d, seed, 1);
  const out = new Float32Array(total * d);
  ids.forEach((id, row) => out.set(embeddingTable.subarray(id * d, (id + 1) * d), row * d));
  return out;
}
