/**
 * A model's tokenizer, built from its tokenizer.json and tokenizer_config.json in memory by @xenova/transformers'
 * tokenizer classes. Only the tokenizer module is imported: nothing here creates an ONNX session or reads a file,
 * and remote model loading is switched off in the library's env.
 *
 * Both files are checked before the library sees them (tokenizer-checks.ts, tokenizer-patterns.ts) and the chat
 * template is parsed at load and rendered with limits (chat-template.ts): a file is refused at load with a
 * TokenizerError naming the file and the field, or it encodes to ids inside the vocabulary.
 */
import { AutoTokenizer, PreTrainedTokenizer } from '@xenova/transformers/src/tokenizers.js';
import { env } from '@xenova/transformers/src/env.js';
import { parseChatTemplate } from './chat-template';
import { applyBpeSeparator, checkTokenizerConfig, checkTokenizerJson } from './tokenizer-checks';
import { TokenizerError } from './tokenizer-error';

env.allowRemoteModels = false;

export { TokenizerError };

export interface ChatMessage {
  role: string;
  content: string;
}

export interface TextTokenizer {
  /** Token ids of `text`; special tokens the tokenizer's post-processor adds (e.g. BOS) unless addSpecialTokens is false. */
  encode(text: string, opts?: { addSpecialTokens?: boolean }): number[];
  decode(ids: ArrayLike<number>, opts?: { skipSpecialTokens?: boolean }): string;
  readonly eosTokenId: number | null;
  readonly bosTokenId: number | null;
  /** The pad token, or the EOS token when none is set (as transformers.js does); null when neither exists. */
  readonly padTokenId: number | null;
  /** One more than the largest token id, added tokens included. */
  readonly vocabSize: number;
  /** The conversation rendered by the tokenizer's chat template; null when tokenizer_config.json has none. */
  applyChatTemplate?(messages: ChatMessage[], opts?: { addGenerationPrompt?: boolean }): string | null;
  /** The @xenova/transformers tokenizer underneath. */
  readonly inner: PreTrainedTokenizer;
}

// The tokenizer_config.json keys whose tokens @xenova/transformers passes to chat templates (apply_chat_template).
const TEMPLATE_TOKEN_KEYS = ['bos_token', 'eos_token', 'unk_token', 'sep_token', 'pad_token', 'cls_token', 'mask_token'];

/** Builds the tokenizer. `tokenizerConfig` may be {} (no tokenizer_config.json). Throws TokenizerError. */
export function loadTokenizer(tokenizerJson: unknown, tokenizerConfig: unknown): TextTokenizer {
  const checked = checkTokenizerJson(tokenizerJson);
  const cfg = checkTokenizerConfig(tokenizerConfig);
  const template = parseChatTemplate(cfg.chat_template);
  const className = typeof cfg.tokenizer_class === 'string' ? cfg.tokenizer_class.replace(/Fast$/, '') : 'PreTrainedTokenizer';
  const Cls = AutoTokenizer.TOKENIZER_CLASS_MAPPING[className] ?? PreTrainedTokenizer;
  let inner: PreTrainedTokenizer;
  try {
    inner = new Cls(checked.json, cfg);
  } catch (e) {
    // The checks above cover what the library reads; this names the file for anything they missed.
    throw new TokenizerError(`tokenizer.json (${className}): cannot build the tokenizer: ${(e as Error).message}`);
  }
  if (checked.bpeSeparator !== null) applyBpeSeparator(inner.model, checked.bpeSeparator);

  const idOf = (key: string): number | null => {
    let token: string | null;
    try {
      token = inner.getToken(key);
    } catch {
      return null;
    }
    if (token === null || token === undefined) return null;
    return inner.model.tokens_to_ids.get(token) ?? null;
  };
  let maxId = -1;
  for (const id of inner.model.tokens_to_ids.values()) if (id > maxId) maxId = id;

  return {
    inner,
    eosTokenId: idOf('eos_token'),
    bosTokenId: idOf('bos_token'),
    padTokenId: idOf('pad_token') ?? idOf('eos_token'),
    vocabSize: maxId + 1,
    encode(text, opts = {}) {
      const ids = inner.encode(text, null, { add_special_tokens: opts.addSpecialTokens ?? true });
      // The load checks leave one way to an id outside the vocabulary: a character (or merge result) the model
      // cannot spell and no unk_token or byte fallback to cover it. A cheap loop keeps such ids out of batches.
      for (const id of ids) {
        if (!Number.isInteger(id) || id < 0 || id > maxId) {
          const shown = text.length > 40 ? `${text.slice(0, 40)}…` : text;
          throw new TokenizerError(
            `tokenizer.json: encoding ${JSON.stringify(shown)} gave token id ${id}, which is not in the vocabulary (0..${maxId}); ` +
              'the text has a character the model cannot represent and model.unk_token does not cover it',
          );
        }
      }
      return ids;
    },
    decode(ids, opts = {}) {
      for (const id of Array.from(ids)) {
        if (!Number.isInteger(id) || id < 0) throw new TokenizerError(`decode: token id ${id} is not a token id (an integer ≥ 0)`);
      }
      // A model's vocabulary may be larger than its tokenizer's (Qwen2.5: 151,936 embedding rows for 151,665
      // tokens), and a sampler may pick one of the extra rows: they decode to nothing, as Hugging Face's
      // tokenizers decode them.
      const list = Array.from(ids).filter((id) => id <= maxId);
      if (list.length === 0) return '';
      return inner.decode(list, { skip_special_tokens: opts.skipSpecialTokens ?? false });
    },
    applyChatTemplate(messages, opts = {}) {
      if (template === null) return null;
      const context: Record<string, unknown> = {
        messages: messages.map((m) => ({ ...m })),
        add_generation_prompt: opts.addGenerationPrompt ?? false,
      };
      for (const key of TEMPLATE_TOKEN_KEYS) {
        const value = cfg[key];
        if (typeof value === 'string' && value !== '') context[key] = value;
      }
      return template.render(context);
    },
  };
}
