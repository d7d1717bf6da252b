/**
 * A model's tokenizer, built from its tokenizer.json and tokenizer_config.json in memory by @xenova/transformers'
 * tokenizer classes. Only the tokenizer module is imported: nothing here creates an ONNX session or reads a file,
 * and remote model loading is switched off in the library's env.
 */
import { AutoTokenizer, PreTrainedTokenizer } from '@xenova/transformers/src/tokenizers.js';
import { env } from '@xenova/transformers/src/env.js';

env.allowRemoteModels = false;

export class TokenizerError extends Error {
  override name = 'TokenizerError';
}

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

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Builds the tokenizer. `tokenizerConfig` may be {} (no tokenizer_config.json). */
export function loadTokenizer(tokenizerJson: unknown, tokenizerConfig: unknown): TextTokenizer {
  if (!isObject(tokenizerJson) || !isObject(tokenizerJson.model)) {
    throw new TokenizerError('tokenizer.json: expected a JSON object with a "model" object');
  }
  const cfg: Record<string, unknown> = isObject(tokenizerConfig) ? { ...tokenizerConfig } : {};
  const json = { added_tokens: [], ...tokenizerJson };
  const className = typeof cfg.tokenizer_class === 'string' ? cfg.tokenizer_class.replace(/Fast$/, '') : 'PreTrainedTokenizer';
  const Cls = AutoTokenizer.TOKENIZER_CLASS_MAPPING[className] ?? PreTrainedTokenizer;
  let inner: PreTrainedTokenizer;
  try {
    inner = new Cls(json, cfg);
  } catch (e) {
    throw new TokenizerError(`tokenizer.json (${className}): cannot build the tokenizer: ${(e as Error).message}`);
  }

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
  const hasTemplate = cfg.chat_template !== undefined && cfg.chat_template !== null;

  return {
    inner,
    eosTokenId: idOf('eos_token'),
    bosTokenId: idOf('bos_token'),
    padTokenId: idOf('pad_token') ?? idOf('eos_token'),
    vocabSize: maxId + 1,
    encode(text, opts = {}) {
      return inner.encode(text, null, { add_special_tokens: opts.addSpecialTokens ?? true });
    },
    decode(ids, opts = {}) {
      const list = Array.from(ids);
      if (list.length === 0) return '';
      for (const id of list) {
        if (!Number.isInteger(id) || id < 0 || id > maxId) throw new TokenizerError(`decode: token id ${id} is outside the vocabulary (0..${maxId})`);
      }
      return inner.decode(list, { skip_special_tokens: opts.skipSpecialTokens ?? false });
    },
    applyChatTemplate(messages, opts = {}) {
      if (!hasTemplate) return null;
      const out = inner.apply_chat_template(messages, { tokenize: false, add_generation_prompt: opts.addGenerationPrompt ?? false });
      if (typeof out !== 'string') throw new TokenizerError('applyChatTemplate: expected the template to render a string');
      return out;
    },
  };
}
