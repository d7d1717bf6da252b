import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { AutoTokenizer } from '@xenova/transformers/src/tokenizers.js';
import { loadTokenizer, TokenizerError, type TextTokenizer } from '../src/model-io/tokenizer';
import { makeTinyModel, TINY_MODEL_KINDS } from './fixtures/tiny-models';
import { mulberry32 } from '../src/util/random';

// No network: any fetch fails the test.
const fetchSpy = vi.fn(() => {
  throw new Error('network access in a tokenizer test');
});
let realFetch: typeof fetch;
beforeAll(() => {
  realFetch = globalThis.fetch;
  globalThis.fetch = fetchSpy as unknown as typeof fetch;
});
afterAll(() => {
  globalThis.fetch = realFetch;
  expect(fetchSpy).not.toHaveBeenCalled();
});

function json(files: Map<string, Uint8Array>, name: string): Record<string, unknown> {
  return JSON.parse(new TextDecoder().decode(files.get(name)!));
}

/** Random text over ASCII, Latin-1, CJK, emoji (astral), combining marks, whitespace and controls. */
function randomText(seed: number, n: number): string {
  const next = mulberry32(seed);
  const pools = [
    [0x20, 0x7e],
    [0xa0, 0xff],
    [0x4e00, 0x4e80],
    [0x1f600, 0x1f64f],
    [0x300, 0x36f],
    [0x9, 0xd],
    [0x0, 0x1f],
  ];
  let s = '';
  for (let i = 0; i < n; i++) {
    const [lo, hi] = pools[Math.floor(next() * pools.length)];
    s += String.fromCodePoint(lo + Math.floor(next() * (hi - lo + 1)));
  }
  return s;
}

describe.each(TINY_MODEL_KINDS)('tiny %s tokenizer', (kind) => {
  const files = makeTinyModel(kind);
  const config = json(files, 'config.json');
  let tok: TextTokenizer;
  beforeAll(() => {
    tok = loadTokenizer(json(files, 'tokenizer.json'), json(files, 'tokenizer_config.json'));
  });

  it('has the vocabulary size of config.json and its EOS', () => {
    expect(tok.vocabSize).toBe(config.vocab_size);
    expect(tok.eosTokenId).toBe(config.eos_token_id);
    if (kind === 'llama') expect(tok.bosTokenId).toBe(config.bos_token_id);
    if (kind === 'gpt2') expect(tok.bosTokenId).toBe(tok.eosTokenId);
    if (kind === 'qwen2') expect(tok.bosTokenId).toBeNull();
    expect(tok.padTokenId).toBe(tok.eosTokenId);
  });

  it('round-trips UTF-8 text', () => {
    const texts = ['Hello, world! Ünïcode ✓', '', ' ', '  leading and trailing  ', 'line\nbreaks\r\n\ttabs', '日本語のテキスト 🎉👩‍👩‍👧', "it's they're we've"];
    for (let i = 0; i < 20; i++) texts.push(randomText(i, 60));
    for (const t of texts) {
      const ids = tok.encode(t, { addSpecialTokens: false });
      expect(ids.every((id) => Number.isInteger(id) && id >= 0 && id < tok.vocabSize)).toBe(true);
      expect(tok.decode(ids), JSON.stringify(t)).toBe(t);
    }
  });

  it('applies the learned merges', () => {
    const ids = tok.encode(' the', { addSpecialTokens: false });
    expect(ids).toHaveLength(1);
    expect(ids[0]).toBeGreaterThanOrEqual(256);
    expect(tok.encode('the fox the dog', { addSpecialTokens: false }).length).toBeLessThan('the fox the dog'.length);
  });

  it('encodes <|endoftext|> as one special token, the configured EOS', () => {
    const ids = tok.encode('Hi<|endoftext|>', { addSpecialTokens: false });
    expect(ids[ids.length - 1]).toBe(config.eos_token_id);
    expect(tok.encode('<|endoftext|>', { addSpecialTokens: false })).toEqual([config.eos_token_id]);
    expect(tok.decode(ids)).toBe('Hi<|endoftext|>');
    expect(tok.decode(ids, { skipSpecialTokens: true })).toBe('Hi');
  });

  it('adds BOS only where the tokenizer says so', () => {
    const plain = tok.encode('Hi', { addSpecialTokens: false });
    const withSpecial = tok.encode('Hi');
    if (kind === 'llama') expect(withSpecial).toEqual([config.bos_token_id, ...plain]);
    else expect(withSpecial).toEqual(plain);
  });

  it('renders the chat template where there is one', () => {
    const out = tok.applyChatTemplate!([{ role: 'user', content: 'Hi' }], { addGenerationPrompt: true });
    if (kind === 'qwen2') expect(out).toBe('<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n');
    else expect(out).toBeNull();
  });

  it('decodes nothing to the empty string, ids past the tokenizer (a model’s extra embedding rows) to nothing, and refuses non-ids', () => {
    expect(tok.decode([])).toBe('');
    expect(tok.decode([tok.vocabSize])).toBe('');
    const ids = tok.encode('cat says', { addSpecialTokens: false });
    expect(ids.length).toBeGreaterThan(1);
    expect(tok.decode([ids[0], tok.vocabSize + 7, ...ids.slice(1)])).toBe(tok.decode(ids));
    expect(() => tok.decode([-1])).toThrow(TokenizerError);
    expect(() => tok.decode([1.5])).toThrow(TokenizerError);
  });
});

describe('loadTokenizer', () => {
  it('refuses a tokenizer.json without a model', () => {
    expect(() => loadTokenizer({}, {})).toThrow(/"model"/);
    expect(() => loadTokenizer(null, {})).toThrow(TokenizerError);
  });
});

// The load checks and the template renderer must not change what valid files produce: the same ids and the same
// rendering as @xenova/transformers built straight from the files (as the studio did before the checks).
describe('checked tokenizers encode and render as the library does on the raw files', () => {
  const austen = new URL('../public/models/austen-2m/', import.meta.url);
  const sources: [string, Record<string, unknown>, Record<string, unknown>][] = [
    ['austen-2m', JSON.parse(readFileSync(new URL('tokenizer.json', austen), 'utf8')), JSON.parse(readFileSync(new URL('tokenizer_config.json', austen), 'utf8'))],
    ...TINY_MODEL_KINDS.map((kind): [string, Record<string, unknown>, Record<string, unknown>] => {
      const files = makeTinyModel(kind);
      return [`tiny ${kind}`, json(files, 'tokenizer.json'), json(files, 'tokenizer_config.json')];
    }),
  ];
  it.each(sources)('%s', (_name, tokenizerJson, tokenizerConfig) => {
    const tok = loadTokenizer(tokenizerJson, tokenizerConfig);
    const Cls = AutoTokenizer.TOKENIZER_CLASS_MAPPING[String(tokenizerConfig.tokenizer_class).replace(/Fast$/, '')];
    const raw = new Cls({ added_tokens: [], ...tokenizerJson }, tokenizerConfig);
    const texts = ['Hello, world! <|endoftext|> it\'s', 'Elizabeth walked to Pemberley.\n\nMr. Darcy  bowed.'];
    for (let i = 0; i < 30; i++) texts.push(randomText(100 + i, 80));
    for (const t of texts) {
      for (const add of [true, false]) expect(tok.encode(t, { addSpecialTokens: add })).toEqual(raw.encode(t, null, { add_special_tokens: add }));
    }
    if (tokenizerConfig.chat_template !== undefined) {
      const conversation = [
        { role: 'system', content: 'Be brief.' },
        { role: 'user', content: 'Hi' },
        { role: 'assistant', content: 'Hello.' },
      ];
      for (const addGenerationPrompt of [false, true]) {
        expect(tok.applyChatTemplate!(conversation, { addGenerationPrompt })).toBe(
          raw.apply_chat_template(conversation, { tokenize: false, add_generation_prompt: addGenerationPrompt }),
        );
      }
    }
  });
});
