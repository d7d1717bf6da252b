/**
 * Encoding only as much of a long text as `maxLength` tokens can use. A 10 MB record used to be tokenized in full
 * (seconds) and then cut to its first `maxLength` tokens; here the text is cut first, far enough out that the kept
 * tokens cannot change, so a 10 MB line costs no more than one a little longer than the window.
 *
 * Why the kept tokens are the same: tokenizers work on the text piece by piece (the pre-tokenizer splits it into
 * words; BPE merges, WordPiece and Unigram work within a word). Cutting the text changes only the word that
 * straddles the cut, and everything after it. The cut keeps at least `maxLength + CUT_MARGIN_TOKENS` tokens, so the
 * straddling word's tokens lie beyond position `maxLength`, past what truncation keeps anyway; the margin covers a
 * BPE merge near the cut that shifts its neighbours.
 *
 * Where to cut: every token covers at most L characters of the text, L being the longest token string in the
 * vocabulary (byte-level BPE writes each byte as one character, and a byte never stands for more than one UTF-16
 * character; SentencePiece writes a space as "▁"; WordPiece's "##" and byte-fallback "<0x41>" only lengthen the
 * string). So `(maxLength + margin) × L` characters always hold enough tokens. Most text runs 3–5 characters a
 * token, so the first cut tries a few characters a token and grows from there. Whatever the cut, the check is on
 * the result: if the prefix gave fewer tokens than wanted (a normalizer that drops or composes characters can
 * break the bound), the cut grows, up to the whole text.
 */
import type { TextTokenizer } from '../model-io/tokenizer';

/** Tokens kept beyond maxLength, so that no merge across the cut reaches the window. */
export const CUT_MARGIN_TOKENS = 64;
/** Characters a token the first cut allows (capped by L); most text needs fewer. */
const FIRST_CHARS_PER_TOKEN = 8;

const longestCache = new WeakMap<object, number>();

/**
 * L: the most characters of text one token can cover, as the longest token string in the vocabulary (added tokens
 * included). Infinity, meaning "never cut", when the vocabulary cannot be read, or when an added token strips the
 * whitespace before it (`lstrip`): such a token swallows any number of spaces, so a prefix of the text can tokenize
 * differently from the whole however far out it is cut.
 */
export function longestTokenChars(tokenizer: TextTokenizer): number {
  const inner = tokenizer.inner as unknown as
    | { model?: { tokens_to_ids?: Map<string, number> }; added_tokens?: { content?: unknown; lstrip?: unknown }[] }
    | undefined;
  // (transformers.js tokenizers are callable: typeof gives "function".)
  if (!inner || (typeof inner !== 'object' && typeof inner !== 'function')) return Infinity;
  const cached = longestCache.get(inner);
  if (cached !== undefined) return cached;
  let longest = 0;
  const vocab = inner.model?.tokens_to_ids;
  if (vocab instanceof Map) for (const token of vocab.keys()) longest = Math.max(longest, token.length);
  for (const t of inner.added_tokens ?? []) {
    if (t.lstrip === true) longest = Infinity;
    if (typeof t.content === 'string') longest = Math.max(longest, t.content.length);
  }
  if (longest === 0) longest = Infinity;
  longestCache.set(inner, longest);
  return longest;
}

export interface EncodedPrefix {
  ids: number[];
  /** How many characters of the text were encoded: text.length when it was not cut. */
  chars: number;
}

/** A cut at `chars` that does not split a surrogate pair. */
function cutAt(text: string, chars: number): number {
  if (chars >= text.length) return text.length;
  const c = text.charCodeAt(chars - 1);
  return c >= 0xd800 && c <= 0xdbff ? chars - 1 : chars;
}

/**
 * The ids of `text`, or of a prefix of it that holds at least `maxLength + CUT_MARGIN_TOKENS` tokens, whose first
 * `maxLength` ids are those of the whole text (see the module comment).
 */
export function encodeForWindow(
  tokenizer: TextTokenizer,
  text: string,
  maxLength: number,
  opts?: { addSpecialTokens?: boolean },
): EncodedPrefix {
  const wanted = maxLength + CUT_MARGIN_TOKENS;
  const L = longestTokenChars(tokenizer);
  const safe = wanted * L;
  if (!Number.isFinite(safe) || text.length <= wanted * Math.min(L, FIRST_CHARS_PER_TOKEN)) {
    return { ids: tokenizer.encode(text, opts), chars: text.length };
  }
  let chars = wanted * Math.min(L, FIRST_CHARS_PER_TOKEN);
  for (;;) {
    const end = cutAt(text, chars);
    const ids = tokenizer.encode(end === text.length ? text : text.slice(0, end), opts);
    if (end === text.length || ids.length >= wanted) return { ids, chars: end };
    // Too few tokens in the prefix: go to the bound L guarantees, and past it only if that was not enough either.
    chars = chars < safe ? Math.min(chars * 4, safe) : chars * 4;
  }
}
