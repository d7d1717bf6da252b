/**
 * Checks of tokenizer.json and tokenizer_config.json before @xenova/transformers builds a tokenizer from them.
 * The library trusts its input: a missing field crashes it with an engine message ("Cannot read properties of
 * undefined"), and a merge, added token or post-processor token outside the vocabulary makes `encode` return
 * `undefined` ids much later. Everything such a file could do wrong is refused here, naming the file and the field,
 * and what is valid but spelled differently (merges as pairs, missing optional components) is normalised to the
 * form the library expects.
 */
import { TokenizerError, tokenizerJsonError as fail } from './tokenizer-error';
import { checkPattern } from './tokenizer-patterns';

type Json = Record<string, unknown>;

export function isObject(v: unknown): v is Json {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}


function show(v: unknown): string {
  const s = JSON.stringify(v) ?? String(v);
  return s.length > 80 ? `${s.slice(0, 80)}…` : s;
}

const isId = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;

// The component types @xenova/transformers 2.17.2 implements (the `fromConfig` switches in tokenizers.js); any
// other type is thrown there as "Unknown … type".
const COMPONENTS = {
  normalizer: {
    types: ['BertNormalizer', 'Precompiled', 'Sequence', 'Replace', 'NFC', 'NFKC', 'NFKD', 'Strip', 'StripAccents', 'Lowercase', 'Prepend'],
    list: 'normalizers',
  },
  pre_tokenizer: {
    types: ['BertPreTokenizer', 'Sequence', 'Whitespace', 'WhitespaceSplit', 'Metaspace', 'ByteLevel', 'Split', 'Punctuation', 'Digits', 'Replace'],
    list: 'pretokenizers',
  },
  post_processor: { types: ['TemplateProcessing', 'ByteLevel', 'RobertaProcessing', 'BertProcessing', 'Sequence'], list: 'processors' },
  decoder: {
    types: ['WordPiece', 'Metaspace', 'ByteLevel', 'Replace', 'ByteFallback', 'Fuse', 'Strip', 'Sequence', 'CTC', 'BPEDecoder'],
    list: 'decoders',
  },
} as const;
type ComponentKind = keyof typeof COMPONENTS;

const MODEL_TYPES = ['BPE', 'WordPiece', 'Unigram', 'WordLevel'];

export interface CheckedTokenizerJson {
  /** A shallow copy the library can build from: optional components defaulted to null, BPE merges as strings. */
  json: Json;
  /**
   * Where a BPE merge pair has a token containing a space, the string form ("a b") cannot express it; the merges
   * in `json` are then joined with this separator instead (one that occurs in no merge token), and the built model
   * must use it (see applyBpeSeparator). Null: the library's own " ".
   */
  bpeSeparator: string | null;
  /** Token → id over the model's vocabulary and added_tokens, as the built tokenizer will map them. */
  tokenIds: Map<string, number>;
}

/** Checks tokenizer.json and returns what the library should be given. Throws TokenizerError. */
export function checkTokenizerJson(raw: unknown): CheckedTokenizerJson {
  if (!isObject(raw) || !isObject(raw.model)) fail('model', 'expected a JSON object with a "model" object');
  const json: Json = { ...raw };
  for (const kind of Object.keys(COMPONENTS) as ComponentKind[]) {
    // tokenizers writes null for an absent component; the library crashes on a missing key, so default it.
    if (json[kind] === undefined) json[kind] = null;
  }
  if (json.added_tokens === undefined || json.added_tokens === null) json.added_tokens = [];
  if (!Array.isArray(json.added_tokens)) fail('added_tokens', `expected an array, got ${show(json.added_tokens)}`);
  const addedTokens = json.added_tokens as unknown[];

  const model: Json = { ...(raw.model as Json) };
  json.model = model;
  const vocab = checkVocab(model, addedTokens.length);
  const bpeSeparator = model.type === 'BPE' ? checkMerges(model, vocab) : null;
  const tokenIds = checkAddedTokens(addedTokens, vocab, addedTokens.length);
  checkUnknownToken(model, vocab, tokenIds);

  checkComponent('normalizer', json.normalizer, 'normalizer', tokenIds);
  checkComponent('pre_tokenizer', json.pre_tokenizer, 'pre_tokenizer', tokenIds);
  checkComponent('post_processor', json.post_processor, 'post_processor', tokenIds);
  checkComponent('decoder', json.decoder, 'decoder', tokenIds);
  return { json, bpeSeparator, tokenIds };
}

/** Makes a built BPE model join merge pairs with the separator checkTokenizerJson chose (its key into bpe_ranks). */
export function applyBpeSeparator(model: unknown, separator: string): void {
  const m = model as { BPE_SPLIT_TOKEN: string; merges: string[][]; bpe_ranks: Map<string, number>; cache: Map<string, unknown> };
  m.BPE_SPLIT_TOKEN = separator;
  m.merges = [...m.bpe_ranks.keys()].map((k) => k.split(separator));
  m.cache.clear();
}

/** The model's type (inferred for old files without one) and vocabulary as token → id. */
function checkVocab(model: Json, addedCount: number): Map<string, number> {
  if (model.type === undefined) {
    // Files from early `tokenizers` releases have no model.type; the shape tells BPE and Unigram apart.
    if (Array.isArray(model.vocab)) model.type = 'Unigram';
    else if (Array.isArray(model.merges)) model.type = 'BPE';
    else fail('model.type', `missing; expected one of ${MODEL_TYPES.map((t) => `"${t}"`).join(', ')}`);
  }
  if (typeof model.type !== 'string' || !MODEL_TYPES.includes(model.type)) {
    fail('model.type', `unknown model type ${show(model.type)}; expected one of ${MODEL_TYPES.map((t) => `"${t}"`).join(', ')}`);
  }
  const vocab = new Map<string, number>();
  if (model.type === 'Unigram') {
    if (!Array.isArray(model.vocab) || model.vocab.length === 0) fail('model.vocab', 'expected a non-empty array of [piece, score] pairs for a Unigram model');
    model.vocab.forEach((entry: unknown, i: number) => {
      if (!Array.isArray(entry) || typeof entry[0] !== 'string' || typeof entry[1] !== 'number' || !Number.isFinite(entry[1])) {
        fail(`model.vocab[${i}]`, `expected a [piece, score] pair of a string and a number, got ${show(entry)}`);
      }
      if (vocab.has(entry[0])) fail(`model.vocab[${i}]`, `piece ${show(entry[0])} is also model.vocab[${vocab.get(entry[0])}]`);
      vocab.set(entry[0], i);
    });
    const unkId = model.unk_id;
    if (unkId !== undefined && unkId !== null && !(isId(unkId) && unkId < vocab.size)) {
      fail('model.unk_id', `expected null or an index into model.vocab (0..${vocab.size - 1}), got ${show(unkId)}`);
    }
    return vocab;
  }
  if (!isObject(model.vocab)) fail('model.vocab', `expected an object of token → id for a ${model.type} model, got ${show(model.vocab)}`);
  const entries = Object.entries(model.vocab);
  if (entries.length === 0) fail('model.vocab', 'is empty');
  // Ids beyond every token the file defines would leave holes in the id space (and a vocabulary size to match).
  const limit = entries.length + addedCount;
  const byId = new Map<number, string>();
  for (const [token, id] of entries) {
    const path = `model.vocab[${show(token)}]`;
    if (!isId(id)) fail(path, `expected a non-negative integer id, got ${show(id)}`);
    if (id >= limit) fail(path, `id ${id} is out of range: the file defines ${limit} tokens, so ids must be below ${limit}`);
    const other = byId.get(id);
    if (other !== undefined) fail(path, `id ${id} is also the id of ${show(other)}`);
    byId.set(id, token);
    vocab.set(token, id);
  }
  return vocab;
}

/**
 * Checks model.merges (strings "a b" or, since tokenizers 0.20, pairs ["a", "b"]), rewrites them as the strings
 * the library splits, and returns the separator they are joined with (null for " ").
 */
function checkMerges(model: Json, vocab: Map<string, number>): string | null {
  if (model.merges === undefined || model.merges === null) model.merges = [];
  if (!Array.isArray(model.merges)) fail('model.merges', `expected an array, got ${show(model.merges)}`);
  const prefix = typeof model.continuing_subword_prefix === 'string' ? model.continuing_subword_prefix : '';
  const pairs: [string, string][] = [];
  let spaceInToken = false;
  model.merges.forEach((m: unknown, i: number) => {
    const path = `model.merges[${i}]`;
    let pair: [string, string];
    if (typeof m === 'string') {
      const parts = m.split(' ');
      if (parts.length !== 2 || parts[0] === '' || parts[1] === '') {
        fail(path, `expected two tokens separated by one space, got ${show(m)}`);
      }
      pair = [parts[0], parts[1]];
    } else if (Array.isArray(m) && m.length === 2 && typeof m[0] === 'string' && typeof m[1] === 'string' && m[0] !== '' && m[1] !== '') {
      pair = [m[0], m[1]];
      if (pair[0].includes(' ') || pair[1].includes(' ')) spaceInToken = true;
    } else {
      fail(path, `expected a string "a b" or a pair ["a", "b"] of non-empty tokens, got ${show(m)}`);
    }
    for (const t of pair) if (!vocab.has(t)) fail(path, `token ${show(t)} is not in model.vocab`);
    // As tokenizers does, the right token loses its continuing-subword prefix in the merged token.
    const right = prefix !== '' && pair[1].startsWith(prefix) ? pair[1].slice(prefix.length) : pair[1];
    const merged = pair[0] + right;
    if (!vocab.has(merged)) fail(path, `merging ${show(pair[0])} and ${show(pair[1])} gives ${show(merged)}, which is not in model.vocab`);
    pairs.push(pair);
  });
  let separator = ' ';
  if (spaceInToken) {
    // The library looks merges up by `left + separator + right`; a separator no merge token contains keeps that
    // key unambiguous.
    const candidates = ['\u0000', '\uffff', '\u0000\uffff\u0000'];
    const found = candidates.find((c) => pairs.every(([a, b]) => !a.includes(c) && !b.includes(c)));
    if (found === undefined) fail('model.merges', 'has tokens containing spaces and every separator this studio can use');
    separator = found;
  }
  model.merges = pairs.map(([a, b]) => a + separator + b);
  return separator === ' ' ? null : separator;
}

/** Checks added_tokens against the vocabulary; returns token → id over both, as the library will map them. */
function checkAddedTokens(added: unknown[], vocab: Map<string, number>, addedCount: number): Map<string, number> {
  const ids = new Map(vocab);
  const byId = new Map<number, string>();
  for (const [t, id] of vocab) byId.set(id, t);
  const limit = vocab.size + addedCount;
  added.forEach((a: unknown, i: number) => {
    const path = `added_tokens[${i}]`;
    if (!isObject(a)) fail(path, `expected an object with "id" and "content", got ${show(a)}`);
    if (typeof a.content !== 'string' || a.content === '') fail(`${path}.content`, `expected a non-empty string, got ${show(a.content)}`);
    if (!isId(a.id)) fail(`${path}.id`, `expected a non-negative integer, got ${show(a.id)}`);
    if (a.id >= limit) fail(`${path}.id`, `id ${a.id} is out of range: the file defines ${limit} tokens, so ids must be below ${limit}`);
    const atId = byId.get(a.id);
    if (atId !== undefined && atId !== a.content) fail(`${path}.id`, `id ${a.id} is already the token ${show(atId)}, not ${show(a.content)}`);
    const idOf = ids.get(a.content);
    if (idOf !== undefined && idOf !== a.id) fail(`${path}.id`, `token ${show(a.content)} already has id ${idOf}, not ${a.id}`);
    ids.set(a.content, a.id);
    byId.set(a.id, a.content);
  });
  return ids;
}

function checkUnknownToken(model: Json, vocab: Map<string, number>, tokenIds: Map<string, number>): void {
  if (model.type === 'BPE' || model.type === 'WordPiece') {
    const unk = model.unk_token;
    // WordPiece maps every word it cannot split to unk_token, so it needs one; for BPE it is optional.
    if ((unk === undefined || unk === null) && model.type === 'WordPiece') fail('model.unk_token', 'missing; a WordPiece model needs one');
    if (unk !== undefined && unk !== null) {
      if (typeof unk !== 'string') fail('model.unk_token', `expected a string or null, got ${show(unk)}`);
      if (!tokenIds.has(unk)) fail('model.unk_token', `${show(unk)} is not in model.vocab or added_tokens`);
    }
  }
  for (const key of ['continuing_subword_prefix', 'end_of_word_suffix']) {
    const v = model[key];
    if (v !== undefined && v !== null && typeof v !== 'string') fail(`model.${key}`, `expected a string or null, got ${show(v)}`);
  }
  if (model.type === 'BPE' && model.byte_fallback === true) {
    // Byte fallback spells an unknown character as its UTF-8 bytes <0x00>…<0xFF>; each must be a token.
    for (let b = 0; b < 256; b++) {
      const t = `<0x${b.toString(16).toUpperCase().padStart(2, '0')}>`;
      if (!vocab.has(t)) fail('model.byte_fallback', `is true, but model.vocab lacks the byte token ${show(t)} (byte fallback needs all 256)`);
    }
  }
}

function checkComponent(kind: ComponentKind, value: unknown, path: string, tokenIds: Map<string, number>): void {
  if (value === null) return;
  const { types, list } = COMPONENTS[kind];
  const supported = `supported: ${types.join(', ')}`;
  if (!isObject(value)) fail(path, `expected an object with a "type", or null; got ${show(value)}`);
  if (value.type === undefined) fail(`${path}.type`, `missing (${supported})`);
  if (typeof value.type !== 'string' || !(types as readonly string[]).includes(value.type)) {
    fail(`${path}.type`, `unknown ${kind.replace('_', '-')} type ${show(value.type)} (${supported})`);
  }
  const str = (field: string): void => {
    if (typeof value[field] !== 'string') fail(`${path}.${field}`, `expected a string, got ${show(value[field])}`);
  };
  switch (value.type) {
    case 'Sequence': {
      const items = value[list];
      if (!Array.isArray(items)) fail(`${path}.${list}`, `expected an array, got ${show(items)}`);
      items.forEach((item: unknown, i: number) => checkComponent(kind, item, `${path}.${list}[${i}]`, tokenIds));
      return;
    }
    case 'Split':
      checkPattern(value.pattern, `${path}.pattern`);
      return;
    case 'Replace':
      checkPattern(value.pattern, `${path}.pattern`);
      str('content');
      return;
    case 'Metaspace':
      str('replacement');
      return;
    case 'Prepend':
      str('prepend');
      return;
    case 'Strip':
      if (kind === 'decoder') {
        str('content');
        for (const f of ['start', 'stop']) if (!isId(value[f])) fail(`${path}.${f}`, `expected a non-negative integer, got ${show(value[f])}`);
      }
      return;
    case 'TemplateProcessing':
      checkTemplateProcessing(value, path, tokenIds);
      return;
    case 'BertProcessing':
    case 'RobertaProcessing':
      for (const f of ['cls', 'sep']) checkTokenAndId(value[f], `${path}.${f}`, tokenIds);
      return;
  }
}

/** A post-processor's [token, id] pair (BertProcessing's cls and sep): the token exists and has that id. */
function checkTokenAndId(pair: unknown, path: string, tokenIds: Map<string, number>): void {
  if (!Array.isArray(pair) || pair.length !== 2 || typeof pair[0] !== 'string' || !isId(pair[1])) {
    fail(path, `expected a [token, id] pair, got ${show(pair)}`);
  }
  const id = tokenIds.get(pair[0]);
  if (id === undefined) fail(path, `token ${show(pair[0])} is not in model.vocab or added_tokens`);
  if (id !== pair[1]) fail(path, `gives id ${pair[1]} for ${show(pair[0])}, whose id is ${id}`);
}

function checkTemplateProcessing(value: Json, path: string, tokenIds: Map<string, number>): void {
  for (const field of ['single', 'pair']) {
    const items = value[field];
    if (items === undefined && field === 'pair') continue;
    if (!Array.isArray(items)) fail(`${path}.${field}`, `expected an array, got ${show(items)}`);
    items.forEach((item: unknown, i: number) => {
      const at = `${path}.${field}[${i}]`;
      if (isObject(item) && isObject(item.SpecialToken)) {
        // The library inserts the SpecialToken's id as a token string and maps it to an id with the vocabulary.
        const t = item.SpecialToken.id;
        if (typeof t !== 'string') fail(`${at}.SpecialToken.id`, `expected a token string, got ${show(t)}`);
        if (!tokenIds.has(t)) fail(`${at}.SpecialToken.id`, `token ${show(t)} is not in model.vocab or added_tokens`);
      } else if (isObject(item) && isObject(item.Sequence)) {
        if (item.Sequence.id !== 'A' && item.Sequence.id !== 'B') fail(`${at}.Sequence.id`, `expected "A" or "B", got ${show(item.Sequence.id)}`);
      } else {
        fail(at, `expected {"SpecialToken": …} or {"Sequence": …}, got ${show(item)}`);
      }
    });
  }
  const specials = value.special_tokens;
  if (specials === undefined || specials === null) return;
  if (!isObject(specials)) fail(`${path}.special_tokens`, `expected an object, got ${show(specials)}`);
  for (const [name, spec] of Object.entries(specials)) {
    const at = `${path}.special_tokens[${show(name)}]`;
    if (!isObject(spec) || !Array.isArray(spec.ids) || !Array.isArray(spec.tokens) || spec.ids.length !== spec.tokens.length) {
      fail(at, 'expected {"id", "ids": [...], "tokens": [...]} with as many ids as tokens');
    }
    const specIds = spec.ids as unknown[];
    spec.tokens.forEach((t: unknown, k: number) => {
      const id = typeof t === 'string' ? tokenIds.get(t) : undefined;
      if (id === undefined) fail(`${at}.tokens[${k}]`, `token ${show(t)} is not in model.vocab or added_tokens`);
      if (specIds[k] !== id) fail(`${at}.ids[${k}]`, `is ${show(specIds[k])}, but ${show(t)} has id ${id}`);
    });
  }
}

// The tokenizer_config.json keys @xenova/transformers reads tokens from (getToken): a string, or an object whose
// "content" is the token (older transformers wrote {"__type": "AddedToken", "content": …}).
const SPECIAL_TOKEN_KEYS = ['bos_token', 'eos_token', 'unk_token', 'sep_token', 'pad_token', 'cls_token', 'mask_token'];

function configFail(path: string, message: string): never {
  throw new TokenizerError(`tokenizer_config.json: ${path}: ${message}`);
}

function tokenContent(v: unknown, path: string): string {
  if (typeof v === 'string') return v;
  if (isObject(v) && typeof v.content === 'string') return v.content;
  configFail(path, `expected a token string or an object with a "content" string, got ${show(v)}`);
}

/** Checks tokenizer_config.json ({} or absent is fine) and returns a copy with its tokens as plain strings. */
export function checkTokenizerConfig(raw: unknown): Json {
  if (raw === undefined || raw === null) return {};
  if (!isObject(raw)) throw new TokenizerError(`tokenizer_config.json: expected a JSON object, got ${show(raw)}`);
  const cfg: Json = { ...raw };
  for (const key of SPECIAL_TOKEN_KEYS) {
    if (cfg[key] !== undefined && cfg[key] !== null) cfg[key] = tokenContent(cfg[key], key);
  }
  const extra = cfg.additional_special_tokens;
  if (extra !== undefined && extra !== null) {
    if (!Array.isArray(extra)) configFail('additional_special_tokens', `expected an array, got ${show(extra)}`);
    cfg.additional_special_tokens = extra.map((t: unknown, i: number) => tokenContent(t, `additional_special_tokens[${i}]`));
  }
  if (cfg.tokenizer_class !== undefined && cfg.tokenizer_class !== null && typeof cfg.tokenizer_class !== 'string') {
    configFail('tokenizer_class', `expected a string, got ${show(cfg.tokenizer_class)}`);
  }
  return cfg;
}
