/**
 * Tokenizer files (tokenizer.json + tokenizer_config.json) built as the loader builds them, then used: a sample
 * encoded (every id must be an integer inside the vocabulary) and, when there is a chat template, a conversation
 * rendered. Valid variants must encode exactly as the original does.
 */
import { readFileSync } from 'node:fs';
import { loadTokenizer } from '../../src/model-io/tokenizer';
import { makeTinyModel, TINY_MODEL_KINDS } from '../../tests/fixtures/tiny-models';
import { caseRng, type FuzzSurface, type Rng } from '../fuzz-case';

type Json = Record<string, unknown>;
interface TokenizerFiles {
  name: string;
  tokenizer: Json;
  config: Json;
}

const SAMPLE = 'Hello world, the cat says meow! 12 dogs\n\tand  spaces';
const CONVERSATION = [
  { role: 'user', content: 'Say hi.' },
  { role: 'assistant', content: 'Hi!' },
];

let cachedBases: TokenizerFiles[] | null = null;
function bases(): TokenizerFiles[] {
  if (cachedBases) return cachedBases;
  const dec = (b: Uint8Array) => JSON.parse(new TextDecoder().decode(b)) as Json;
  cachedBases = TINY_MODEL_KINDS.map((kind) => {
    const f = makeTinyModel(kind);
    return { name: `tiny-${kind}`, tokenizer: dec(f.get('tokenizer.json')!), config: dec(f.get('tokenizer_config.json')!) };
  });
  const austen = new URL('../../public/models/austen-2m/', import.meta.url);
  cachedBases.push({
    name: 'austen-2m',
    tokenizer: JSON.parse(readFileSync(new URL('tokenizer.json', austen), 'utf8')),
    config: JSON.parse(readFileSync(new URL('tokenizer_config.json', austen), 'utf8')),
  });
  return cachedBases;
}

const clone = <T>(x: T): T => structuredClone(x);

/** Sample ids of the unmutated tokenizer, per base. */
const originalIds = new Map<string, number[]>();
function idsOf(base: TokenizerFiles): number[] {
  if (!originalIds.has(base.name)) originalIds.set(base.name, loadTokenizer(base.tokenizer, base.config).encode(SAMPLE));
  return originalIds.get(base.name)!;
}

/** The tokenizer, used as training uses it; throws a plain Error (a crash) for a wrong result. */
function use(t: TokenizerFiles, sameIdsAs: number[] | null): void {
  const tok = loadTokenizer(t.tokenizer, t.config);
  const ids = tok.encode(SAMPLE);
  for (const id of ids) {
    if (!Number.isInteger(id) || id < 0 || id >= tok.vocabSize) throw new Error(`encode returned ${String(id)}, outside 0..${tok.vocabSize - 1}`);
  }
  if (sameIdsAs && JSON.stringify(ids) !== JSON.stringify(sameIdsAs)) throw new Error(`encode differs from the original tokenizer's: ${ids.join(',')} vs ${sameIdsAs.join(',')}`);
  if (t.config.chat_template != null) {
    const text = tok.applyChatTemplate?.(CONVERSATION, { addGenerationPrompt: true });
    if (text !== null && typeof text !== 'string') throw new Error('the chat template rendered no string');
  }
}

function withPreTokenizerSplit(t: TokenizerFiles, pattern: string): void {
  t.tokenizer.pre_tokenizer = {
    type: 'Sequence',
    pretokenizers: [{ type: 'Split', pattern: { Regex: pattern }, behavior: 'Isolated', invert: false }, t.tokenizer.pre_tokenizer],
  };
}

/** A path to a random node of a JSON value, and the node's parent. */
function randomSpot(r: Rng, root: Json): { parent: Json | unknown[]; key: string | number } | null {
  let parent: Json | unknown[] = root;
  let key: string | number | null = null;
  for (let depth = 0; depth < 6; depth++) {
    const keys: (string | number)[] = Array.isArray(parent) ? parent.map((_, i) => i) : Object.keys(parent);
    if (keys.length === 0) break;
    key = r.pick(keys);
    const child = (parent as Record<string | number, unknown>)[key];
    if (typeof child !== 'object' || child === null || r.next() < 0.35) break;
    parent = child as Json | unknown[];
  }
  return key === null ? null : { parent, key };
}

type Mutation = (r: Rng, t: TokenizerFiles) => { label: string; expect: 'refuse' | 'accept' | 'either'; sameIds?: boolean };

const MUTATIONS: Record<string, Mutation> = {
  valid: () => ({ label: 'unchanged', expect: 'accept', sameIds: true }),
  mergesAsPairs(_r, t) {
    const model = t.tokenizer.model as Json;
    model.merges = (model.merges as string[]).map((m) => m.split(' '));
    return { label: 'merges stored as pairs (tokenizers ≥ 0.20)', expect: 'accept', sameIds: true };
  },
  badRegex(r, t) {
    const p = r.pick(['(', '[a-', '(?<', 'a{2,1}', '\\']);
    withPreTokenizerSplit(t, p);
    return { label: `pre-tokenizer Split pattern ${JSON.stringify(p)}`, expect: 'refuse' };
  },
  redosRegex(r, t) {
    const p = r.pick(['(a*)*b', '(.*)*Z', '(\\s+)+$', '((ab)*)+c', '(\\w+\\s?)*!', '(a|a)*c', '(\\s|\\s\\s)+x']);
    withPreTokenizerSplit(t, p);
    return { label: `pre-tokenizer Split pattern ${JSON.stringify(p)} (catastrophic backtracking)`, expect: 'refuse' };
  },
  badNormalizer(r, t) {
    const p = r.pick(['(', '[z-a]', '*']);
    t.tokenizer.normalizer = { type: 'Replace', pattern: { Regex: p }, content: ' ' };
    return { label: `normalizer Replace pattern ${JSON.stringify(p)}`, expect: 'refuse' };
  },
  templateSyntax(r, t) {
    const tpl = r.pick(['{% for %}', '{{ messages[0] ', '{% if x %}no end', '{% endfor %}', '{{ }}']);
    t.config.chat_template = tpl;
    return { label: `chat_template ${JSON.stringify(tpl)}`, expect: 'refuse' };
  },
  templateLoop(r, t) {
    const tpl = r.pick([
      '{% for i in range(100000000) %}x{% endfor %}',
      '{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}',
      '{% for i in range(3000) %}{% for j in range(3000) %}xxxxxxxxxx{% endfor %}{% endfor %}',
    ]);
    t.config.chat_template = tpl;
    return { label: `chat_template ${JSON.stringify(tpl)}`, expect: 'refuse' };
  },
  templateRaise(_r, t) {
    t.config.chat_template = "{{ raise_exception('System messages are not supported') }}";
    return { label: 'chat_template that raises', expect: 'refuse' };
  },
  mergeUnknownToken(r, t) {
    const model = t.tokenizer.model as Json;
    const merges = model.merges as string[];
    merges.splice(r.int(merges.length + 1), 0, 'zqzq qzqz');
    return { label: 'a merge of tokens absent from the vocabulary', expect: 'refuse' };
  },
  addedTokenClash(_r, t) {
    const added = t.tokenizer.added_tokens as Json[];
    const first = (t.tokenizer.model as { vocab: Record<string, number> }).vocab;
    const someId = Object.values(first)[5];
    added.push({ id: someId, content: '<|clash|>', single_word: false, lstrip: false, rstrip: false, normalized: false, special: true });
    return { label: `an added token with the id ${someId} of a vocabulary entry`, expect: 'refuse' };
  },
  modelType(r, t) {
    const model = t.tokenizer.model as Json;
    const v = r.pick([undefined, 'BPEX', 7, null]);
    if (v === undefined) delete model.type;
    else model.type = v;
    // tokenizers reads `model` as an untagged enum: a model without "type" is valid when its fields say which it is.
    return { label: `model.type = ${JSON.stringify(v)}`, expect: v === undefined ? 'either' : 'refuse' };
  },
  vocabShape(r, t) {
    const model = t.tokenizer.model as Json;
    const v = r.pick([[], 'vocab', null, { a: 'x' }, { a: -1 }, { a: 1.5 }]);
    model.vocab = v;
    return { label: `model.vocab = ${JSON.stringify(v)}`, expect: 'refuse' };
  },
  randomDelete(r, t) {
    const spot = randomSpot(r, r.next() < 0.8 ? t.tokenizer : t.config);
    if (!spot) return { label: 'nothing deleted', expect: 'accept', sameIds: true };
    if (Array.isArray(spot.parent)) spot.parent.splice(spot.key as number, 1);
    else delete spot.parent[spot.key as string];
    return { label: `deleted …${String(spot.key)}`, expect: 'either' };
  },
  randomValue(r, t) {
    const spot = randomSpot(r, r.next() < 0.8 ? t.tokenizer : t.config);
    const v = r.pick([null, '', 'x', -1, 0, 1e9, 2.5, true, [], {}, ['a', 'b'], { type: 'Nope' }]);
    if (!spot) return { label: 'nothing changed', expect: 'accept', sameIds: true };
    (spot.parent as Record<string | number, unknown>)[spot.key] = v;
    return { label: `…${String(spot.key)} = ${JSON.stringify(v)}`, expect: 'either' };
  },
};

const NAMES = Object.keys(MUTATIONS);

export const TOKENIZER_SURFACE: FuzzSurface = {
  name: 'tokenizer',
  caseAt(seed, i) {
    const r = caseRng(seed, i, 0x70);
    const base = r.pick(bases());
    const t = { name: base.name, tokenizer: clone(base.tokenizer), config: clone(base.config) };
    const m = NAMES[i % NAMES.length];
    const c = MUTATIONS[m](r, t);
    const same = c.sameIds ? idsOf(base) : null;
    return { label: `${base.name} ${m}: ${c.label}`, expect: c.expect, run: () => use(t, same), names: /tokenizer(_config)?\.json/ };
  },
};
