/**
 * Deterministic tiny models in Hugging Face format, for tests and demos: GPT-2, Llama (grouped-query attention,
 * untied head) and Qwen2 (q/k/v biases, tied head). Each is a map from file name to bytes — config.json,
 * model.safetensors, tokenizer.json, tokenizer_config.json, generation_config.json — that transformers and
 * @xenova/transformers read like a real checkpoint. Weights come from a seeded PRNG; a forward pass takes
 * milliseconds.
 */
import { parseModelConfig } from '../model/config';
import { expectedTensors } from '../model/weight-names';
import { randomNormal, randomUniform } from '../util/random';
import { parseSafetensors, tensorToFloat32, writeSafetensors, type SafetensorsDtype, type TensorToWrite } from './safetensors';

export const TINY_MODEL_KINDS = ['gpt2', 'llama', 'qwen2'] as const;
export type TinyModelKind = (typeof TINY_MODEL_KINDS)[number];

export interface TinyModelOptions {
  /** Storage dtype of the weights; default F32. */
  dtype?: SafetensorsDtype;
  /** PRNG seed of the weights; default 0. */
  seed?: number;
}

// ---------------------------------------------------------------------------------------------------------------
// Tokenizer: byte-level BPE in GPT-2's scheme, with merges learned from a fixed corpus.

/** GPT-2's bytes_to_unicode: the printable character that stands for each byte, in vocabulary order. */
export function bytesToUnicode(): { bytes: number[]; chars: string[] } {
  const bs: number[] = [];
  for (let b = 0x21; b <= 0x7e; b++) bs.push(b);
  for (let b = 0xa1; b <= 0xac; b++) bs.push(b);
  for (let b = 0xae; b <= 0xff; b++) bs.push(b);
  const cs = bs.slice();
  let n = 0;
  for (let b = 0; b < 256; b++) {
    if (!bs.includes(b)) {
      bs.push(b);
      cs.push(256 + n++);
    }
  }
  return { bytes: bs, chars: cs.map((c) => String.fromCodePoint(c)) };
}

/** GPT-2's pre-tokenization pattern (the one ByteLevel uses with use_regex). */
const GPT2_SPLIT = /'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+/gu;

const CORPUS = [
  'The quick brown fox jumps over the lazy dog. The dog sleeps in the sun, and the fox runs into the forest.',
  'Low-rank adaptation trains two small matrices for each frozen weight; the rest of the model does not change.',
  'In the beginning there was the word, and the word was tokenized into bytes, and the bytes were merged.',
  'She said: "This is the end of the story." Then the reader turned the page and started another one.',
  'Hello, world! Training a language model in the browser is fun; testing it is the other half of the work.',
].join('\n');

/** Merges added on top of the 256 byte tokens. */
const NUM_MERGED_TOKENS = 40;

function learnMerges(byteChar: string[]): { merges: [string, string][]; tokens: string[] } {
  const enc = new TextEncoder();
  const counts = new Map<string, number>();
  for (const piece of CORPUS.match(GPT2_SPLIT) ?? []) {
    const word = Array.from(enc.encode(piece), (b) => byteChar[b]).join('\u0001');
    counts.set(word, (counts.get(word) ?? 0) + 1);
  }
  let words = [...counts].map(([w, c]) => ({ syms: w.split('\u0001'), count: c }));
  const merges: [string, string][] = [];
  const tokens: string[] = [];
  const known = new Set(byteChar);
  while (tokens.length < NUM_MERGED_TOKENS) {
    const pairs = new Map<string, number>();
    for (const { syms, count } of words) {
      for (let i = 0; i + 1 < syms.length; i++) {
        const k = `${syms[i]} ${syms[i + 1]}`;
        pairs.set(k, (pairs.get(k) ?? 0) + count);
      }
    }
    if (pairs.size === 0) break;
    let best = '';
    let bestCount = -1;
    for (const [k, c] of pairs) if (c > bestCount || (c === bestCount && k < best)) [best, bestCount] = [k, c];
    const [a, b] = best.split(' ') as [string, string];
    merges.push([a, b]);
    if (!known.has(a + b)) {
      known.add(a + b);
      tokens.push(a + b);
    }
    words = words.map(({ syms, count }) => {
      const out: string[] = [];
      for (let i = 0; i < syms.length; i++) {
        if (i + 1 < syms.length && syms[i] === a && syms[i + 1] === b) {
          out.push(a + b);
          i++;
        } else out.push(syms[i]);
      }
      return { syms: out, count };
    });
  }
  return { merges, tokens };
}

export interface TinyTokenizer {
  tokenizerJson: Record<string, unknown>;
  tokenizerConfig: Record<string, unknown>;
  vocabSize: number;
  /** Ids of the special tokens: `<|endoftext|>` always; `<|begin_of_text|>` (llama); `<|im_start|>`, `<|im_end|>` (qwen2). */
  specialIds: Record<string, number>;
  eosTokenId: number;
  bosTokenId: number | null;
}

const CHATML_TEMPLATE =
  "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n'}}" +
  "{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}";

/** The tokenizer files of a tiny model. */
export function makeTinyTokenizer(kind: TinyModelKind): TinyTokenizer {
  const { bytes, chars } = bytesToUnicode();
  const byteChar: string[] = new Array(256);
  bytes.forEach((b, i) => (byteChar[b] = chars[i]));
  const { merges, tokens } = learnMerges(byteChar);
  const vocab: Record<string, number> = {};
  let next = 0;
  for (const c of chars) vocab[c] = next++;
  for (const t of tokens) vocab[t] = next++;
  const specials = ['<|endoftext|>'];
  if (kind === 'llama') specials.push('<|begin_of_text|>');
  if (kind === 'qwen2') specials.push('<|im_start|>', '<|im_end|>');
  const specialIds: Record<string, number> = {};
  for (const s of specials) specialIds[s] = vocab[s] = next++;
  const eos = specialIds['<|endoftext|>'];
  const bos = kind === 'gpt2' ? eos : kind === 'llama' ? specialIds['<|begin_of_text|>'] : null;

  const addedTokens = specials.map((content) => ({
    id: specialIds[content],
    content,
    single_word: false,
    lstrip: false,
    rstrip: false,
    normalized: false,
    special: true,
  }));
  const byteLevel = { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: true };
  const postProcessor =
    kind === 'llama'
      ? {
          type: 'TemplateProcessing',
          single: [{ SpecialToken: { id: '<|begin_of_text|>', type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } }],
          pair: [
            { SpecialToken: { id: '<|begin_of_text|>', type_id: 0 } },
            { Sequence: { id: 'A', type_id: 0 } },
            { SpecialToken: { id: '<|begin_of_text|>', type_id: 1 } },
            { Sequence: { id: 'B', type_id: 1 } },
          ],
          special_tokens: { '<|begin_of_text|>': { id: '<|begin_of_text|>', ids: [bos], tokens: ['<|begin_of_text|>'] } },
        }
      : { ...byteLevel, trim_offsets: false };
  const tokenizerJson = {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: addedTokens,
    normalizer: null,
    pre_tokenizer: byteLevel,
    post_processor: postProcessor,
    decoder: byteLevel,
    model: {
      type: 'BPE',
      dropout: null,
      unk_token: null,
      continuing_subword_prefix: '',
      end_of_word_suffix: '',
      fuse_unk: false,
      byte_fallback: false,
      ignore_merges: false,
      vocab,
      merges: merges.map(([a, b]) => `${a} ${b}`),
    },
  };
  const addedTokensDecoder: Record<string, unknown> = {};
  for (const t of addedTokens) {
    const { id, ...rest } = t;
    addedTokensDecoder[String(id)] = rest;
  }
  const tokenizerConfig: Record<string, unknown> = {
    add_prefix_space: false,
    added_tokens_decoder: addedTokensDecoder,
    bos_token: kind === 'qwen2' ? null : kind === 'llama' ? '<|begin_of_text|>' : '<|endoftext|>',
    eos_token: '<|endoftext|>',
    pad_token: kind === 'qwen2' ? '<|endoftext|>' : null,
    unk_token: kind === 'gpt2' ? '<|endoftext|>' : null,
    clean_up_tokenization_spaces: false,
    model_max_length: 64,
    tokenizer_class: kind === 'gpt2' ? 'GPT2Tokenizer' : kind === 'qwen2' ? 'Qwen2Tokenizer' : 'PreTrainedTokenizerFast',
  };
  if (kind === 'qwen2') {
    tokenizerConfig.additional_special_tokens = ['<|im_start|>', '<|im_end|>'];
    tokenizerConfig.chat_template = CHATML_TEMPLATE;
    tokenizerConfig.errors = 'replace';
  }
  if (kind === 'llama') {
    tokenizerConfig.model_input_names = ['input_ids', 'attention_mask'];
  }
  return { tokenizerJson, tokenizerConfig, vocabSize: next, specialIds, eosTokenId: eos, bosTokenId: bos };
}

// ---------------------------------------------------------------------------------------------------------------
// Config and weights

const TORCH_DTYPE: Record<SafetensorsDtype, string> = { F32: 'float32', F16: 'float16', BF16: 'bfloat16' };
const TRANSFORMERS_VERSION = '4.44.2';

function tinyConfig(kind: TinyModelKind, tok: TinyTokenizer, dtype: SafetensorsDtype): Record<string, unknown> {
  const common = { torch_dtype: TORCH_DTYPE[dtype], transformers_version: TRANSFORMERS_VERSION, use_cache: true, vocab_size: tok.vocabSize };
  if (kind === 'gpt2') {
    return {
      activation_function: 'gelu_new',
      architectures: ['GPT2LMHeadModel'],
      attn_pdrop: 0.1,
      bos_token_id: tok.bosTokenId,
      embd_pdrop: 0.1,
      eos_token_id: tok.eosTokenId,
      initializer_range: 0.02,
      layer_norm_epsilon: 1e-5,
      model_type: 'gpt2',
      n_ctx: 64,
      n_embd: 32,
      n_head: 4,
      n_inner: null,
      n_layer: 2,
      n_positions: 64,
      reorder_and_upcast_attn: false,
      resid_pdrop: 0.1,
      scale_attn_by_inverse_layer_idx: false,
      scale_attn_weights: true,
      summary_activation: null,
      summary_first_dropout: 0.1,
      summary_proj_to_labels: true,
      summary_type: 'cls_index',
      summary_use_proj: true,
      ...common,
    };
  }
  if (kind === 'llama') {
    return {
      architectures: ['LlamaForCausalLM'],
      attention_bias: false,
      attention_dropout: 0.0,
      bos_token_id: tok.bosTokenId,
      eos_token_id: tok.eosTokenId,
      head_dim: 8,
      hidden_act: 'silu',
      hidden_size: 32,
      initializer_range: 0.02,
      intermediate_size: 48,
      max_position_embeddings: 64,
      mlp_bias: false,
      model_type: 'llama',
      num_attention_heads: 4,
      num_hidden_layers: 2,
      num_key_value_heads: 2,
      pretraining_tp: 1,
      rms_norm_eps: 1e-5,
      rope_scaling: null,
      rope_theta: 10000.0,
      tie_word_embeddings: false,
      ...common,
    };
  }
  return {
    architectures: ['Qwen2ForCausalLM'],
    attention_dropout: 0.0,
    bos_token_id: tok.eosTokenId,
    eos_token_id: tok.eosTokenId,
    hidden_act: 'silu',
    hidden_size: 32,
    initializer_range: 0.02,
    intermediate_size: 48,
    max_position_embeddings: 64,
    max_window_layers: 2,
    model_type: 'qwen2',
    num_attention_heads: 4,
    num_hidden_layers: 2,
    num_key_value_heads: 2,
    rms_norm_eps: 1e-6,
    rope_theta: 10000.0,
    sliding_window: 64,
    tie_word_embeddings: true,
    use_sliding_window: false,
    ...common,
  };
}

function generationConfig(kind: TinyModelKind, tok: TinyTokenizer): Record<string, unknown> {
  const base = { _from_model_config: false, transformers_version: TRANSFORMERS_VERSION };
  if (kind === 'gpt2') return { bos_token_id: tok.bosTokenId, eos_token_id: tok.eosTokenId, do_sample: false, max_length: 64, ...base };
  if (kind === 'llama') {
    return { bos_token_id: tok.bosTokenId, eos_token_id: tok.eosTokenId, do_sample: true, temperature: 0.6, top_p: 0.9, max_length: 64, ...base };
  }
  return {
    bos_token_id: tok.eosTokenId,
    eos_token_id: [tok.specialIds['<|im_end|>'], tok.eosTokenId],
    pad_token_id: tok.eosTokenId,
    do_sample: true,
    temperature: 0.7,
    top_k: 20,
    top_p: 0.8,
    repetition_penalty: 1.05,
    ...base,
  };
}

/** FNV-1a of the name mixed with the seed: each tensor's values depend only on (seed, name). */
function tensorSeed(seed: number, name: string): number {
  let h = 0x811c9dc5 ^ Math.imul(seed >>> 0, 0x9e3779b1);
  for (let i = 0; i < name.length; i++) h = Math.imul(h ^ name.charCodeAt(i), 0x01000193);
  return h >>> 0;
}

function initTensor(name: string, shape: number[], seed: number): Float32Array {
  const n = shape.reduce((a, b) => a * b, 1);
  const s = tensorSeed(seed, name);
  if (shape.length === 1 && name.endsWith('.weight')) return randomUniform(n, s, 0.9, 1.1); // norm scales ~1±0.1
  if (shape.length === 1) return randomNormal(n, s, 0.02); // biases
  return randomNormal(n, s, 0.2);
}

/** The files of a tiny model: config.json, model.safetensors, tokenizer.json, tokenizer_config.json, generation_config.json. */
export function makeTinyModel(kind: TinyModelKind, opts: TinyModelOptions = {}): Map<string, Uint8Array<ArrayBuffer>> {
  if (!(TINY_MODEL_KINDS as readonly string[]).includes(kind)) {
    throw new Error(`makeTinyModel: unknown kind "${String(kind)}"; expected one of ${TINY_MODEL_KINDS.join(', ')}`);
  }
  const dtype = opts.dtype ?? 'F32';
  const seed = opts.seed ?? 0;
  const tok = makeTinyTokenizer(kind);
  const rawConfig = tinyConfig(kind, tok, dtype);
  const config = parseModelConfig(rawConfig);

  const tensors: TensorToWrite[] = [];
  for (const t of expectedTensors(config)) {
    // GPT-2's official checkpoint stores its keys without the "transformer." prefix.
    const stored = kind === 'gpt2' ? t.name.replace(/^transformer\./, '') : t.name;
    tensors.push({ name: stored, dtype, shape: t.shape, data: initTensor(t.name, t.shape, seed) });
  }
  if (kind === 'gpt2') {
    // The causal-mask buffers GPT-2 checkpoints carry (ignored by loaders).
    const p = config.maxPositions;
    const mask = new Float32Array(p * p);
    for (let i = 0; i < p; i++) for (let j = 0; j <= i; j++) mask[i * p + j] = 1;
    for (let l = 0; l < config.numLayers; l++) tensors.push({ name: `h.${l}.attn.bias`, dtype, shape: [1, 1, p, p], data: mask });
  }

  const enc = new TextEncoder();
  const json = (v: unknown) => enc.encode(JSON.stringify(v, null, 2) + '\n');
  const files = new Map<string, Uint8Array<ArrayBuffer>>();
  files.set('config.json', json(rawConfig));
  files.set('generation_config.json', json(generationConfig(kind, tok)));
  files.set('model.safetensors', writeSafetensors(tensors, { format: 'pt' }));
  files.set('tokenizer.json', json(tok.tokenizerJson));
  files.set('tokenizer_config.json', json(tok.tokenizerConfig));
  return files;
}

/**
 * The same model with model.safetensors split into `numShards` shards (tensors in name order, contiguous groups)
 * plus model.safetensors.index.json, as transformers' save_pretrained writes them.
 */
export function shardCheckpoint(files: Map<string, Uint8Array<ArrayBuffer>>, numShards: number): Map<string, Uint8Array<ArrayBuffer>> {
  const single = files.get('model.safetensors');
  if (!single) throw new Error('shardCheckpoint: no model.safetensors');
  const st = parseSafetensors(single, 'model.safetensors');
  const names = [...st.tensors.keys()].sort();
  if (!Number.isInteger(numShards) || numShards < 1 || numShards > names.length) {
    throw new Error(`shardCheckpoint: numShards must be 1..${names.length}, got ${numShards}`);
  }
  const out = new Map(files);
  out.delete('model.safetensors');
  const weightMap: Record<string, string> = {};
  let totalSize = 0;
  const pad = (n: number) => String(n).padStart(5, '0');
  for (let s = 0; s < numShards; s++) {
    const shardName = `model-${pad(s + 1)}-of-${pad(numShards)}.safetensors`;
    const group = names.slice(Math.floor((s * names.length) / numShards), Math.floor(((s + 1) * names.length) / numShards));
    const tensors = group.map((name) => {
      const info = st.tensors.get(name)!;
      totalSize += info.byteLength;
      weightMap[name] = shardName;
      return { name, dtype: info.dtype as SafetensorsDtype, shape: info.shape, data: tensorToFloat32(st, name) };
    });
    out.set(shardName, writeSafetensors(tensors, st.metadata ?? undefined));
  }
  const index = { metadata: { total_size: totalSize }, weight_map: weightMap };
  out.set('model.safetensors.index.json', new TextEncoder().encode(JSON.stringify(index, null, 2) + '\n'));
  return out;
}
