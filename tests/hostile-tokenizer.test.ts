// Hostile tokenizer files (issue 18, item 4): each class the fuzz campaign found, from a small reproducer. Valid
// variants load and encode as the original does; invalid ones are refused at load with a TokenizerError naming the
// file and the field; chat templates are parsed at load and rendered with limits.
import { describe, expect, it } from 'vitest';
import { loadTokenizer, TokenizerError } from '../src/model-io/tokenizer';
import { TEMPLATE_LIMITS } from '../src/model-io/chat-template';
import { makeTinyModel } from './fixtures/tiny-models';

type Json = Record<string, any>;

function tinyFiles(kind: 'gpt2' | 'llama' | 'qwen2' = 'gpt2'): { tok: Json; cfg: Json } {
  const files = makeTinyModel(kind);
  const read = (name: string): Json => JSON.parse(new TextDecoder().decode(files.get(name)!));
  return { tok: read('tokenizer.json'), cfg: read('tokenizer_config.json') };
}

const BASE = tinyFiles();
const fresh = (): { tok: Json; cfg: Json } => structuredClone(BASE);
const SAMPLE = "Hello world, the cat says meow! 12 dogs\n\tand  spaces it's";
const baseIds = loadTokenizer(BASE.tok, BASE.cfg).encode(SAMPLE);

/** The TokenizerError loadTokenizer throws (fails the test if it loads or throws anything else). */
function refusal(tok: unknown, cfg: unknown = {}): TokenizerError {
  try {
    loadTokenizer(tok, cfg);
  } catch (e) {
    expect(e).toBeInstanceOf(TokenizerError);
    return e as TokenizerError;
  }
  throw new Error('expected the tokenizer to be refused');
}

/** A tiny byte-level-free BPE over the letters a, b, c whose vocabulary a test can shape. */
function letterBpe(merges: unknown[], extraVocab: Record<string, number> = {}): Json {
  return {
    model: { type: 'BPE', vocab: { a: 0, b: 1, c: 2, ab: 3, ...extraVocab }, merges, unk_token: null },
    normalizer: null,
    pre_tokenizer: { type: 'WhitespaceSplit' },
    post_processor: null,
    decoder: null,
    added_tokens: [],
  };
}

function withSplit(tok: Json, regex: string): Json {
  tok.pre_tokenizer = {
    type: 'Sequence',
    pretokenizers: [{ type: 'Split', pattern: { Regex: regex }, behavior: 'Isolated', invert: false }, tok.pre_tokenizer],
  };
  return tok;
}

describe('BPE merges as pairs (tokenizers ≥ 0.20)', () => {
  it('loads pairs and encodes exactly as the string form', () => {
    const { tok, cfg } = fresh();
    tok.model.merges = tok.model.merges.map((m: string) => m.split(' '));
    expect(loadTokenizer(tok, cfg).encode(SAMPLE)).toEqual(baseIds);
  });

  it('merges tokens that contain a space, which the string form cannot express', () => {
    const tok = letterBpe([['a', 'b c']], { 'b c': 4, 'ab c': 5 });
    tok.pre_tokenizer = null; // keep the space inside the word
    tok.model.vocab = { a: 0, b: 1, ' ': 2, c: 3, 'b c': 4, 'ab c': 5, ab: 6 };
    tok.model.merges = [
      ['b', ' '],
      ['b ', 'c'],
      ['a', 'b c'],
    ];
    tok.model.vocab['b '] = 7;
    const t = loadTokenizer(tok, {});
    expect(t.encode('ab c', { addSpecialTokens: false })).toEqual([5]);
    expect(t.encode('ab', { addSpecialTokens: false })).toEqual([0, 1]); // no a+b merge: "a b" must not match "a" + "b c"
  });

  it('refuses a string merge that is not two tokens', () => {
    expect(refusal(letterBpe(['a b c'])).message).toMatch(/^tokenizer\.json: model\.merges\[0\]: expected two tokens separated by one space/);
    expect(refusal(letterBpe([['a']])).message).toMatch(/^tokenizer\.json: model\.merges\[0\]: expected a string "a b" or a pair/);
    expect(refusal(letterBpe([42])).message).toMatch(/model\.merges\[0\]/);
  });
});

describe('regexes in tokenizer.json', () => {
  it('refuses an invalid regex at load, naming the field path', () => {
    const e = refusal(withSplit(fresh().tok, '('));
    expect(e.message).toMatch(/^tokenizer\.json: pre_tokenizer\.pretokenizers\[0\]\.pattern\.Regex: invalid regex "\(":/);
    const tok = fresh().tok;
    tok.normalizer = { type: 'Replace', pattern: { Regex: '[z-a]' }, content: ' ' };
    expect(refusal(tok).message).toMatch(/^tokenizer\.json: normalizer\.pattern\.Regex: invalid regex/);
  });

  it('refuses catastrophic backtracking at load', () => {
    for (const p of ['(a*)*b', '(.*)*Z', '(\\s+)+$', '((ab)*)+c', '(\\w+\\s?)*!']) {
      expect(refusal(withSplit(fresh().tok, p)).message).toMatch(/pattern\.Regex: regex .* can backtrack catastrophically/);
    }
    const tok = fresh().tok;
    tok.decoder = { type: 'Replace', pattern: { Regex: '(a+)+$' }, content: '' };
    expect(refusal(tok).message).toMatch(/^tokenizer\.json: decoder\.pattern\.Regex: regex/);
    // Star height 1, but exponential: a repeated group of alternatives that overlap.
    for (const p of ['(a|a)*c', '(\\s|\\s\\s)+x']) {
      expect(refusal(withSplit(fresh().tok, p)).message).toMatch(/pattern\.Regex: regex .* repeats a group of alternatives/);
    }
  });

  it('keeps the real pre-tokenizer patterns (GPT-2, Llama-3/Qwen2)', () => {
    const gpt2 = "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+";
    const llama3 = "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
    for (const p of [gpt2, llama3, llama3.replace('\\p{N}|', '\\p{N}{1,3}|')]) {
      const { tok, cfg } = fresh();
      tok.pre_tokenizer = {
        type: 'Sequence',
        pretokenizers: [
          { type: 'Split', pattern: { Regex: p }, behavior: 'Isolated', invert: false },
          { ...tok.pre_tokenizer, use_regex: false },
        ],
      };
      const ids = loadTokenizer(tok, cfg).encode(SAMPLE);
      expect(ids.length).toBeGreaterThan(0);
    }
  });

  it('refuses a pattern that is neither Regex nor String', () => {
    const tok = fresh().tok;
    tok.pre_tokenizer = { type: 'Split', pattern: { Nope: 'x' }, behavior: 'Isolated', invert: false };
    expect(refusal(tok).message).toMatch(/^tokenizer\.json: pre_tokenizer\.pattern: expected an object \{"Regex"/);
  });
});

describe('chat templates', () => {
  const conversation = [
    { role: 'user', content: 'Say hi.' },
    { role: 'assistant', content: 'Hi!' },
  ];

  it('refuses a template that does not parse, at load', () => {
    for (const tpl of ['{% for %}', '{{ messages[0] ', '{% if x %}no end', '{% endfor %}']) {
      const { tok, cfg } = fresh();
      cfg.chat_template = tpl;
      expect(refusal(tok, cfg).message).toMatch(/^tokenizer_config\.json: chat_template: the template does not parse: ./);
    }
    const { tok, cfg } = fresh();
    cfg.chat_template = '{% if x %}no end';
    expect(refusal(tok, cfg).message).toBe(
      'tokenizer_config.json: chat_template: the template does not parse: unexpected end of the template ' +
        '(a {% for %} or {% if %} block without its end tag, or an unclosed call?)',
    );
    cfg.chat_template = [{ name: 'default', template: '{{ x' }];
    expect(refusal(tok, cfg).message).toMatch(/^tokenizer_config\.json: chat_template\[0\] \("default"\): the template does not parse/);
    cfg.chat_template = [{ name: 'tool_use', template: 'x' }];
    expect(refusal(tok, cfg).message).toMatch(/without one named "default"/);
    cfg.chat_template = 7;
    expect(refusal(tok, cfg).message).toMatch(/^tokenizer_config\.json: chat_template: expected a template string/);
  });

  it("wraps the template's raise_exception in a TokenizerError naming the template", () => {
    const { tok, cfg } = fresh();
    cfg.chat_template = "{% if messages[0]['role'] != 'system' %}{{ raise_exception('System message first') }}{% endif %}";
    const t = loadTokenizer(tok, cfg);
    expect(() => t.applyChatTemplate!(conversation)).toThrow(TokenizerError);
    expect(() => t.applyChatTemplate!(conversation)).toThrow(
      'tokenizer_config.json: chat_template: the template raised an exception: System message first',
    );
  });

  it('stops long loops with an error naming the template', () => {
    const templates = [
      '{% for i in range(100000000) %}x{% endfor %}',
      '{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}',
      '{% for i in range(3000) %}{% for j in range(3000) %}xxxxxxxxxx{% endfor %}{% endfor %}',
      '{% for i in range(0, 5, 0) %}x{% endfor %}',
    ];
    for (const tpl of templates) {
      const { tok, cfg } = fresh();
      cfg.chat_template = tpl;
      const t = loadTokenizer(tok, cfg);
      const t0 = performance.now();
      expect(() => t.applyChatTemplate!(conversation)).toThrow(/^tokenizer_config\.json: chat_template: rendering (stopped|failed)/);
      expect(performance.now() - t0).toBeLessThan(2000);
    }
  });

  it('caps the size of what a template builds', () => {
    const { tok, cfg } = fresh();
    // Doubling a string 30 times would reach a gigabyte.
    cfg.chat_template = "{% set ns = namespace(s='ab') %}{% for i in range(30) %}{% set ns.s = ns.s + ns.s %}{% endfor %}{{ ns.s }}";
    const t = loadTokenizer(tok, cfg);
    expect(() => t.applyChatTemplate!(conversation)).toThrow(
      new RegExp(`rendering stopped because it built a string of more than ${TEMPLATE_LIMITS.outputChars} characters`),
    );
  });

  it('renders real templates as @xenova/transformers does', () => {
    const { tok, cfg } = tinyFiles('qwen2');
    const t = loadTokenizer(tok, cfg);
    for (const addGenerationPrompt of [false, true]) {
      expect(t.applyChatTemplate!(conversation, { addGenerationPrompt })).toBe(
        t.inner.apply_chat_template(conversation, { tokenize: false, add_generation_prompt: addGenerationPrompt }),
      );
    }
    // ChatML with bos/eos tokens and a raise_exception that does not fire.
    const chatml =
      "{{ bos_token }}{% for message in messages %}{% if message['role'] not in ['system', 'user', 'assistant'] %}" +
      "{{ raise_exception('bad role') }}{% endif %}{{ '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n' }}" +
      "{% if loop.last %}{{ eos_token }}{% endif %}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}";
    const c = fresh();
    c.cfg.chat_template = [
      { name: 'default', template: chatml },
      { name: 'tool_use', template: '{{ messages | length }}' },
    ];
    const t2 = loadTokenizer(c.tok, c.cfg);
    expect(t2.applyChatTemplate!(conversation, { addGenerationPrompt: true })).toBe(
      '<|endoftext|><|im_start|>user\nSay hi.<|im_end|>\n<|im_start|>assistant\nHi!<|im_end|>\n<|endoftext|><|im_start|>assistant\n',
    );
  });
});

describe('ids outside the vocabulary', () => {
  it('refuses merges naming tokens absent from the vocabulary, and merge results absent from it', () => {
    const { tok } = fresh();
    tok.model.merges.splice(3, 0, 'zqzq qzqz');
    expect(refusal(tok).message).toBe('tokenizer.json: model.merges[3]: token "zqzq" is not in model.vocab');
    expect(refusal(letterBpe(['b c'])).message).toBe('tokenizer.json: model.merges[0]: merging "b" and "c" gives "bc", which is not in model.vocab');
  });

  it('refuses added tokens whose ids clash or are out of range', () => {
    let { tok } = fresh();
    const someId = Object.values(tok.model.vocab as Record<string, number>)[5];
    const someToken = Object.keys(tok.model.vocab)[5];
    tok.added_tokens.push({ id: someId, content: '<|clash|>', special: true });
    expect(refusal(tok).message).toBe(
      `tokenizer.json: added_tokens[1].id: id ${someId} is already the token ${JSON.stringify(someToken)}, not "<|clash|>"`,
    );
    ({ tok } = fresh());
    tok.added_tokens.push({ id: 1e9, content: '<|far|>', special: true });
    expect(refusal(tok).message).toMatch(/^tokenizer\.json: added_tokens\[1\]\.id: id 1000000000 is out of range/);
    ({ tok } = fresh());
    tok.added_tokens.push({ id: tok.added_tokens[0].id + 1, content: tok.added_tokens[0].content, special: true });
    expect(refusal(tok).message).toMatch(/^tokenizer\.json: added_tokens\[1\]\.id: token "<\|endoftext\|>" already has id/);
    ({ tok } = fresh());
    tok.added_tokens.push({ id: 3, content: '' });
    expect(refusal(tok).message).toMatch(/^tokenizer\.json: added_tokens\[1\]\.content: expected a non-empty string/);
  });

  it('refuses a post-processor whose special tokens or ids are not in the vocabulary', () => {
    const { tok, cfg } = tinyFiles('llama');
    const pp = JSON.stringify(tok.post_processor);
    expect(pp).toContain('SpecialToken'); // the tiny llama adds BOS through TemplateProcessing
    const single = tok.post_processor.type === 'Sequence' ? null : tok.post_processor;
    const t1 = structuredClone(tok);
    const tp1 = single ? t1.post_processor : t1.post_processor.processors.find((p: Json) => p.type === 'TemplateProcessing');
    const item = tp1.single.find((x: Json) => x.SpecialToken);
    item.SpecialToken.id = '<nope>';
    expect(refusal(t1, cfg).message).toMatch(/^tokenizer\.json: post_processor\..*single\[\d\]\.SpecialToken\.id: token "<nope>" is not in model\.vocab or added_tokens/);

    const t2 = fresh().tok;
    t2.post_processor = { type: 'BertProcessing', cls: ['<|endoftext|>', 7], sep: ['<|endoftext|>', t2.added_tokens[0].id] };
    expect(refusal(t2).message).toMatch(/^tokenizer\.json: post_processor\.cls: gives id 7 for "<\|endoftext\|>", whose id is/);
    const t3 = fresh().tok;
    t3.post_processor = {
      type: 'TemplateProcessing',
      single: [{ Sequence: { id: 'A', type_id: 0 } }],
      special_tokens: { '<|endoftext|>': { id: '<|endoftext|>', ids: [3], tokens: ['<|endoftext|>'] } },
    };
    expect(refusal(t3).message).toMatch(/special_tokens\["<\|endoftext\|>"\]\.ids\[0\]: is 3, but "<\|endoftext\|>" has id/);
  });

  it('refuses an unk_token absent from the vocabulary and byte fallback without byte tokens', () => {
    const tok = letterBpe([['a', 'b']]);
    tok.model.unk_token = '<unk>';
    expect(refusal(tok).message).toBe('tokenizer.json: model.unk_token: "<unk>" is not in model.vocab or added_tokens');
    const tok2 = letterBpe([['a', 'b']]);
    tok2.model.byte_fallback = true;
    expect(refusal(tok2).message).toMatch(/^tokenizer\.json: model\.byte_fallback: is true, but model\.vocab lacks the byte token "<0x00>"/);
  });

  it('refuses in encode an id the vocabulary lacks (a character the model cannot spell, no unk_token)', () => {
    const t = loadTokenizer(letterBpe([['a', 'b']]), {});
    expect(t.encode('ab c', { addSpecialTokens: false })).toEqual([3, 2]);
    expect(() => t.encode('abz')).toThrow(TokenizerError);
    expect(() => t.encode('abz')).toThrow(/^tokenizer\.json: encoding "abz" gave token id undefined, which is not in the vocabulary \(0\.\.3\)/);
  });
});

describe('shape of tokenizer.json', () => {
  it('names the field instead of an engine message', () => {
    const cases: [(t: Json) => void, RegExp][] = [
      [(t) => (t.model.type = 'BPEX'), /^tokenizer\.json: model\.type: unknown model type "BPEX"; expected one of "BPE"/],
      [(t) => (t.model.type = 7), /^tokenizer\.json: model\.type: unknown model type 7/],
      [(t) => (t.model.vocab = []), /^tokenizer\.json: model\.vocab: expected an object of token → id for a BPE model/],
      [(t) => (t.model.vocab = 'vocab'), /^tokenizer\.json: model\.vocab: expected an object/],
      [(t) => (t.model.vocab = { a: 'x' }), /^tokenizer\.json: model\.vocab\["a"\]: expected a non-negative integer id, got "x"/],
      [(t) => (t.model.vocab = { a: -1 }), /model\.vocab\["a"\]: expected a non-negative integer id, got -1/],
      [(t) => (t.model.vocab = { a: 1.5 }), /model\.vocab\["a"\]: expected a non-negative integer id, got 1\.5/],
      [(t) => (t.model.merges = 'a b'), /^tokenizer\.json: model\.merges: expected an array/],
      [(t) => (t.pre_tokenizer = { add_prefix_space: false }), /^tokenizer\.json: pre_tokenizer\.type: missing \(supported: /],
      [(t) => (t.decoder = { type: 'Nope' }), /^tokenizer\.json: decoder\.type: unknown decoder type "Nope"/],
      [(t) => (t.normalizer = { type: 'Sequence', normalizers: [{}] }), /^tokenizer\.json: normalizer\.normalizers\[0\]\.type: missing/],
      [(t) => (t.post_processor = { type: 'Sequence', processors: 3 }), /^tokenizer\.json: post_processor\.processors: expected an array/],
      [(t) => (t.post_processor = 'x'), /^tokenizer\.json: post_processor: expected an object with a "type", or null/],
      [(t) => (t.added_tokens = {}), /^tokenizer\.json: added_tokens: expected an array/],
      [(t) => (t.model.vocab = { ...t.model.vocab, dup: 0 }), /model\.vocab\["dup"\]: id 0 is also the id of/],
    ];
    for (const [mutate, message] of cases) {
      const { tok } = fresh();
      mutate(tok);
      expect(refusal(tok).message).toMatch(message);
    }
  });

  it('loads what is valid but spelled differently: missing optional components, a model without "type"', () => {
    let { tok, cfg } = fresh();
    delete tok.normalizer;
    delete tok.added_tokens; // then <|endoftext|> is an ordinary vocabulary entry
    expect(loadTokenizer(tok, cfg).encode('Hello world')).toEqual(loadTokenizer(BASE.tok, BASE.cfg).encode('Hello world'));
    ({ tok, cfg } = fresh());
    delete tok.model.type;
    expect(loadTokenizer(tok, cfg).encode(SAMPLE)).toEqual(baseIds);
  });

  it('refuses malformed tokens in tokenizer_config.json, naming it', () => {
    const { tok, cfg } = fresh();
    cfg.eos_token = { nope: 1 };
    expect(refusal(tok, cfg).message).toMatch(/^tokenizer_config\.json: eos_token: expected a token string or an object with a "content" string/);
    cfg.eos_token = { __type: 'AddedToken', content: '<|endoftext|>' };
    expect(loadTokenizer(tok, cfg).eosTokenId).toBe(tok.added_tokens[0].id);
    expect(refusal(tok, 'config').message).toMatch(/^tokenizer_config\.json: expected a JSON object/);
  });
});
