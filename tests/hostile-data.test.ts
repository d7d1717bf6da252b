/**
 * Hostile inputs from the issue's reproducers: JSON nested 100,000 levels deep, a 10 MB record, and target_modules
 * regexes that backtrack without end. Each must end in a clear error or a quick, unchanged result.
 */
import { describe, expect, it } from 'vitest';
import { assertNoProblems, DatasetError, parseDataset, parsePastedText, tokenizeRecords, type DataRecord } from '../src/data';
import { jsonTooDeepAt, MAX_JSON_DEPTH } from '../src/data/json-depth';
import { jsonErrorOffset } from '../src/data/json-error';
import { CUT_MARGIN_TOKENS, encodeForWindow, longestTokenChars } from '../src/data/token-budget';
import { loadTokenizer, type TextTokenizer } from '../src/model-io/tokenizer';
import { parseModelConfig } from '../src/model/config';
import { makeIA3Config } from '../src/peft/ia3-config';
import { LoraConfigError, makeLoraConfig, parseLoraConfigJson } from '../src/peft/lora-config';
import { pythonFullmatch, PythonRegexError } from '../src/peft/python-regex';
import { makeTinyTokenizer, type TinyModelKind } from './fixtures/tiny-models';

const DEEP = 100_000;

describe('JSON nested too deeply', () => {
  const deepArray = '['.repeat(DEEP) + ']'.repeat(DEEP);

  it('a .json file 100,000 levels deep is a DatasetError naming the file, line and column', () => {
    expect(() => parseDataset(deepArray, 'deep.json')).toThrow(DatasetError);
    expect(() => parseDataset(deepArray, 'deep.json')).toThrow(/^deep\.json: JSON nested more than 1000 levels deep.*\(line 1, column 1001\)$/s);
    // Invalid as well as deep (one bracket short): the depth is what is reported, not a stack overflow.
    expect(() => parseDataset(deepArray.slice(1), 'deep.json')).toThrow(/deep\.json: JSON nested more than 1000 levels deep/);
    // On a later line, inside a record's unused field.
    const text = `[\n  {"text": "ok"},\n  {"text": "x", "meta": ${'['.repeat(DEEP)}${']'.repeat(DEEP)}}\n]`;
    expect(() => parseDataset(text, 'data/train.json')).toThrow(/data\/train\.json: JSON nested more than 1000 levels deep.*\(line 3, column \d+\)/s);
  });

  it('a .jsonl line 100,000 levels deep is a problem at its line; the other lines are read', () => {
    const text = ['{"text": "first"}', `{"text": "x", "meta": ${'['.repeat(DEEP)}${']'.repeat(DEEP)}}`, '{"text": "third"}'].join('\n');
    const parsed = parseDataset(text, 'train.jsonl');
    expect(parsed.records.map((r) => r.line)).toEqual([1, 3]);
    expect(parsed.problems).toEqual([{ line: 2, message: expect.stringMatching(/^JSON nested more than 1000 levels deep.*\(column 1022\)$/s) }]);
    expect(() => assertNoProblems(parsed, { file: 'runs/train.jsonl' })).toThrow(/runs\/train\.jsonl: 1 record has a problem[\s\S]*line 2: JSON nested more than 1000/);
  });

  it('a CSV "messages" column 100,000 levels deep is a problem at its row', () => {
    const text = `text,messages\nok,"${'['.repeat(DEEP)}${']'.repeat(DEEP)}"\n`;
    const parsed = parseDataset(text, 'chat.csv');
    expect(parsed.problems).toEqual([{ line: 2, message: expect.stringMatching(/^column "messages": JSON nested more than 1000 levels deep/) }]);
  });

  it('pasted text: a deep array is refused with its position, a deep JSONL line is a problem', () => {
    expect(() => parsePastedText(deepArray)).toThrow(/pasted text: JSON nested more than 1000 levels deep.*\(line 1, column 1001\)/s);
    const jsonl = `{"text": "a"}\n{"text": ${'['.repeat(DEEP)}${']'.repeat(DEEP)}}`;
    const parsed = parsePastedText(jsonl);
    expect(parsed.format).toBe('jsonl');
    expect(parsed.problems).toEqual([{ line: 2, message: expect.stringMatching(/JSON nested more than 1000 levels deep/) }]);
  });

  it('exactly the limit is read; brackets inside strings do not count', () => {
    // The array, the record object, and 998 levels of "meta": 1000 in all.
    const atLimit = `[{"text": "x", "meta": ${'['.repeat(MAX_JSON_DEPTH - 2)}${']'.repeat(MAX_JSON_DEPTH - 2)}}]`;
    expect(parseDataset(atLimit, 'ok.json').records).toEqual([{ kind: 'text', text: 'x', line: 0 }]);
    expect(jsonTooDeepAt(atLimit)).toBeNull();
    expect(jsonTooDeepAt('[' + atLimit + ']')).toBe(24 + 997); // 24 characters before the first inner "[", which is level 4
    const inString = JSON.stringify([{ text: '['.repeat(DEEP) + '\\"[' + '{'.repeat(DEEP) }]);
    expect(jsonTooDeepAt(inString)).toBeNull();
    expect(parseDataset(inString, 'brackets.json').records).toHaveLength(1);
  });

  it('the error-locating parser walks 100,000 levels without recursion', () => {
    expect(jsonErrorOffset(deepArray)).toBeNull();
    expect(jsonErrorOffset(deepArray.slice(0, -1))).toBe(2 * DEEP - 1); // the missing last "]"
    const objects = '{"a":'.repeat(DEEP) + '1' + '}'.repeat(DEEP);
    expect(jsonErrorOffset(objects)).toBeNull();
    expect(jsonErrorOffset(objects.replace('1}', '1,}'))).toBe(5 * DEEP + 2); // a "," that no key follows
    // Small texts give the positions they gave before.
    expect(jsonErrorOffset('{"a": [1, 2,]}')).toBe(12);
    expect(jsonErrorOffset('[{"a": 1} {"b": 2}]')).toBe(10);
    expect(jsonErrorOffset('{"a" 1}')).toBe(5);
    expect(jsonErrorOffset('[1, 2] x')).toBe(7);
    expect(jsonErrorOffset('[[], {}, [{}], {"k": []}]')).toBeNull();
  });
});

function tiny(kind: TinyModelKind): TextTokenizer {
  const t = makeTinyTokenizer(kind);
  return loadTokenizer(t.tokenizerJson, t.tokenizerConfig);
}

/** The tokenizer, counting the characters of every text handed to encode. */
function counting(tok: TextTokenizer, transform: (s: string) => string = (s) => s): { tok: TextTokenizer; longestInput: () => number } {
  let longest = 0;
  const wrapped: TextTokenizer = {
    ...tok,
    inner: tok.inner,
    applyChatTemplate: tok.applyChatTemplate,
    decode: (ids, opts) => tok.decode(ids, opts),
    encode(text, opts) {
      longest = Math.max(longest, text.length);
      return tok.encode(transform(text), opts);
    },
  };
  return { tok: wrapped, longestInput: () => longest };
}

const SENTENCE = 'The quick brown fox jumps over the lazy dog, and then it naps for 12 minutes. ';
/** About `chars` characters of ordinary prose. */
const prose = (chars: number) => SENTENCE.repeat(Math.ceil(chars / SENTENCE.length)).slice(0, chars);
const TEN_MB = 10 * 1024 * 1024;

describe('a 10 MB record is cut before it is tokenized', () => {
  const maxLength = 128;
  const gpt2 = tiny('gpt2');
  const bound = (tok: TextTokenizer) => (maxLength + CUT_MARGIN_TOKENS) * longestTokenChars(tok);

  it('text: the same first maxLength tokens as the whole, from a bounded prefix', () => {
    const { tok, longestInput } = counting(gpt2);
    const big = prose(TEN_MB);
    const { examples, truncated, problems } = tokenizeRecords([{ kind: 'text', text: big, line: 1 }], tok, { maxLength });
    expect(problems).toEqual([]);
    expect(truncated).toBe(1);
    // Tokenizing the whole 10 MB here would take seconds; 50,000 characters hold far more than maxLength tokens,
    // and its tokens far from its end are those of any longer text with the same beginning.
    const expected = gpt2.encode(big.slice(0, 50_000)).slice(0, maxLength);
    expect(examples[0].inputIds).toEqual(expected);
    expect(examples[0].labels).toEqual(expected);
    expect(longestInput()).toBeGreaterThan(0);
    expect(longestInput()).toBeLessThanOrEqual(bound(gpt2));
  });

  it('prompt-completion and Alpaca: a 10 MB completion, and a 10 MB prompt that leaves nothing to train on', () => {
    const { tok, longestInput } = counting(gpt2);
    const longCompletion: DataRecord = { kind: 'prompt-completion', prompt: 'Tell a long story.\n', completion: prose(TEN_MB), line: 4 };
    const [ex] = tokenizeRecords([longCompletion], tok, { maxLength }).examples;
    const promptIds = gpt2.encode(longCompletion.prompt);
    const completionIds = gpt2.encode(prose(50_000), { addSpecialTokens: false });
    expect(ex.inputIds).toEqual([...promptIds, ...completionIds].slice(0, maxLength));
    expect(ex.labels).toEqual([...promptIds.map(() => -100), ...completionIds].slice(0, maxLength));
    expect(longestInput()).toBeLessThanOrEqual(bound(gpt2));

    const longPrompt: DataRecord = { kind: 'prompt-completion', prompt: prose(TEN_MB), completion: 'The end.', line: 5 };
    const { examples, problems } = tokenizeRecords([longPrompt], tok, { maxLength });
    expect(examples).toEqual([]);
    expect(problems).toEqual([
      { line: 5, message: expect.stringMatching(/^no completion token is left to train on after truncation to 128 tokens \(the example has at least \d+\)/) },
    ]);

    const alpaca = parseDataset(JSON.stringify({ instruction: prose(TEN_MB / 2), input: prose(TEN_MB / 2), output: 'Done.' }), 'alpaca.jsonl');
    expect(tokenizeRecords(alpaca.records, tok, { maxLength }).problems).toHaveLength(1);
    expect(longestInput()).toBeLessThanOrEqual(bound(gpt2));
  });

  it('chat messages: the labels of the window are those of the whole conversation', () => {
    const qwen2 = tiny('qwen2');
    const { tok, longestInput } = counting(qwen2);
    const conversation = (reply: string, question: string): DataRecord => ({
      kind: 'messages',
      messages: [
        { role: 'system', content: 'Be thorough.' },
        { role: 'user', content: 'Summarize this.' },
        { role: 'assistant', content: 'Sure.' },
        { role: 'user', content: question },
        { role: 'assistant', content: reply },
      ],
      line: 2,
    });
    const window = 256;
    // 3 MB rather than 10: the chat template renderer refuses to build strings over 4,000,000 characters.
    const THREE_MB = 3 * 1024 * 1024;
    // A long question that ends inside the window, then a 3 MB answer.
    const question = prose(400);
    const [ex] = tokenizeRecords([conversation(prose(THREE_MB), question)], tok, { maxLength: window }).examples;
    const [small] = tokenizeRecords([conversation(prose(50_000), question)], qwen2, { maxLength: window }).examples;
    expect(ex.inputIds).toEqual(small.inputIds);
    expect(ex.labels).toEqual(small.labels);
    expect(ex.labels.some((l) => l !== -100)).toBe(true);
    expect(longestInput()).toBeLessThanOrEqual((window + CUT_MARGIN_TOKENS) * longestTokenChars(qwen2));
    // A 3 MB question: the window ends inside it, so only the first answer is trained on.
    const [q] = tokenizeRecords([conversation('Fine.', prose(THREE_MB))], tok, { maxLength: window }).examples;
    const [qSmall] = tokenizeRecords([conversation('Fine.', prose(50_000))], qwen2, { maxLength: window }).examples;
    expect(q.labels).toEqual(qSmall.labels);
  });

  it('varied text with emoji and accents: the same as encoding it whole, for every kind of tiny tokenizer', () => {
    const words = ['über', 'naïve', 'café', '🙂', '😀😀', 'the', 'model', '12345', '\n\n', '  ', 'x_y', '—', 'ok.', 'λόγος'];
    let seed = 7;
    const next = () => ((seed = (seed * 1103515245 + 12345) >>> 0) >>> 8) % words.length;
    const text = Array.from({ length: 40_000 }, () => words[next()]).join(' ');
    for (const kind of ['gpt2', 'llama', 'qwen2'] as const) {
      const base = tiny(kind);
      const whole = base.encode(text);
      for (const max of [16, 100, 333]) {
        const { tok, longestInput } = counting(base);
        const [ex] = tokenizeRecords([{ kind: 'text', text, line: 1 }], tok, { maxLength: max }).examples;
        expect(ex.inputIds).toEqual(whole.slice(0, max));
        expect(longestInput()).toBeLessThan(text.length / 10);
      }
    }
  });

  it('a conversation with a long run of spaces is tokenized without quadratic work', () => {
    // The end of each assistant turn was found with /\s+$/, which backtracks quadratically over a run of spaces
    // that is not at the end: 100,000 spaces took 12 s.
    const qwen2 = tiny('qwen2');
    const messages = [
      { role: 'user' as const, content: `Hello${' '.repeat(100_000)}there` },
      { role: 'assistant' as const, content: 'Hi.' },
    ];
    const { examples, problems } = tokenizeRecords([{ kind: 'messages', messages, line: 1 }], qwen2, { maxLength: 200_000 });
    expect(problems).toEqual([]);
    const counted = examples[0].inputIds.filter((_, t) => t > 0 && examples[0].labels[t] !== -100);
    expect(qwen2.decode(counted)).toBe('Hi.<|im_end|>');
  });

  it('short records are encoded whole, exactly as before', () => {
    const { tok, longestInput } = counting(gpt2);
    const text = prose(2000);
    const [ex] = tokenizeRecords([{ kind: 'text', text, line: 1 }], tok, { maxLength: 4096 }).examples;
    expect(ex.inputIds).toEqual([...gpt2.encode(text), gpt2.eosTokenId]);
    expect(longestInput()).toBe(text.length);
  });

  it('a normalizer that drops characters: the cut grows until the prefix holds enough tokens', () => {
    // Simulates a tokenizer whose normalizer deletes "~": a prefix of 1 MB of "~" holds no token at all.
    const { tok } = counting(gpt2, (s) => s.replaceAll('~', ''));
    const text = '~'.repeat(1024 * 1024) + prose(4000);
    const out = encodeForWindow(tok, text, maxLength);
    expect(out.ids.slice(0, maxLength)).toEqual(gpt2.encode(prose(4000)).slice(0, maxLength));
  });

  it('L is the longest token string; unknown without a vocabulary or with an lstrip added token', () => {
    const fake = (inner: unknown) => ({ ...gpt2, inner }) as unknown as TextTokenizer;
    expect(longestTokenChars(fake({ model: { tokens_to_ids: new Map([['ab', 0], ['abcde', 1]]) }, added_tokens: [] }))).toBe(5);
    expect(longestTokenChars(fake({ model: { tokens_to_ids: new Map([['ab', 0]]) }, added_tokens: [{ content: '<|endoftext|>' }] }))).toBe(13);
    expect(longestTokenChars(fake({ model: { tokens_to_ids: new Map([['ab', 0]]) }, added_tokens: [{ content: '<mask>', lstrip: true }] }))).toBe(Infinity);
    expect(longestTokenChars(fake({}))).toBe(Infinity);
    expect(Number.isFinite(longestTokenChars(gpt2))).toBe(true);
  });
});

describe('a time budget per record', () => {
  it('stops tokenizing after the first record that runs past it, naming it, instead of going on for every record', () => {
    const base = tiny('llama');
    let calls = 0;
    const slow: TextTokenizer = {
      ...base,
      inner: base.inner,
      decode: (ids, opts) => base.decode(ids, opts),
      encode(text, opts) {
        calls++;
        // The second record's text stands for one a pattern backtracks on: it holds the CPU for 30 ms.
        if (text.includes('slow')) for (const end = performance.now() + 30; performance.now() < end; );
        return base.encode(text, opts);
      },
    };
    const records: DataRecord[] = ['cat says meow', 'slow dog', 'cow says moo', 'owl says hoot'].map((text, i) => ({ kind: 'text', text, line: i + 1 }));
    expect(() => tokenizeRecords(records, slow, { maxLength: 16, recordBudgetMs: 10 })).toThrow(
      /^tokenizing stopped: record 2 of 4 took 0\.\d s, over the budget of 0\.01 s a record; the tokenizer's patterns \(tokenizer\.json\) backtrack/,
    );
    expect(calls).toBe(2); // records 3 and 4 were never tokenized
    expect(() => tokenizeRecords(records, slow, { maxLength: 16, recordBudgetMs: 1000 })).not.toThrow();
  });
});

describe('user regexes that backtrack without end are refused', () => {
  const gpt2 = parseModelConfig({ model_type: 'gpt2', n_embd: 32, n_head: 4, n_layer: 2, vocab_size: 64, n_positions: 16 });
  const llama = parseModelConfig({
    model_type: 'llama', hidden_size: 32, num_attention_heads: 4, num_key_value_heads: 2, num_hidden_layers: 2,
    intermediate_size: 48, vocab_size: 64,
  });
  const base = { nameOrPath: 'tiny' };

  it('the reproducers: nested quantifiers, with the field and what to do', () => {
    expect(() => makeLoraConfig({ target_modules: '(.*)*Z' }, gpt2, base)).toThrow(LoraConfigError);
    expect(() => makeLoraConfig({ target_modules: '(.*)*Z' }, gpt2, base)).toThrow(
      /target_modules: "\(\.\*\)\*Z" repeats a repetition \(a nested quantifier.*catastrophically.*simplify the pattern, or list the module names/,
    );
    expect(() => makeLoraConfig({ target_modules: '^(([a-z_.0-9])+)+!$' }, gpt2, base)).toThrow(/target_modules: .*nested quantifier/);
    const json = JSON.stringify({ peft_type: 'LORA', target_modules: '(.*)*Z' });
    expect(() => parseLoraConfigJson(json, gpt2)).toThrow(/target_modules: "\(\.\*\)\*Z" repeats a repetition/);
  });

  it('every field that holds a regex', () => {
    expect(() => makeLoraConfig({ target_modules: ['c_attn'], exclude_modules: '(a+)+b' }, gpt2, base)).toThrow(/exclude_modules: "\(a\+\)\+b" repeats a repetition/);
    expect(() => makeLoraConfig({ rank_pattern: { '(\\w+\\.)*c_attn': 4 } }, gpt2, base)).toThrow(/rank_pattern key .*repeats a repetition/);
    expect(() => makeLoraConfig({ alpha_pattern: { '(.|.)*c_attn': 4 } }, gpt2, base)).toThrow(/alpha_pattern key .*repeats a group of alternatives \("\(\.\|\.\)\*"\)/);
    expect(() => makeLoraConfig({ target_modules: ['c_attn'], layers_to_transform: [0], layers_pattern: '(h+)+' }, gpt2, base)).toThrow(
      /layers_pattern.*repeats a repetition/,
    );
    expect(() => makeIA3Config({ target_modules: '(.*)*Z' }, llama, base)).toThrow(/target_modules: "\(\.\*\)\*Z" repeats a repetition/);
    expect(() => makeIA3Config({ target_modules: ['down_proj'], feedforward_modules: '(.*)+down_proj' }, llama, base)).toThrow(
      /feedforward_modules: .*repeats a repetition/,
    );
  });

  it('a repeated group of alternatives, too many ".*", and a pattern over 1000 characters', () => {
    expect(() => pythonFullmatch('(.|.)*Z', 'target_modules')).toThrow(PythonRegexError);
    expect(() => pythonFullmatch('(.|.)*Z', 'target_modules')).toThrow(/target_modules: "\(\.\|\.\)\*Z" repeats a group of alternatives.*exponential time/);
    expect(() => pythonFullmatch('.*.*.*.*.*.*Z', 'target_modules')).toThrow(/has 6 repetitions such as "\.\*" that can run across dots, over the limit of 4/);
    const long = Array.from({ length: 100 }, (_, i) => `layer_${i}_proj`).join('|');
    expect(() => pythonFullmatch(long, 'target_modules')).toThrow(/target_modules: ".{80}…" is \d{4} characters long, over the limit of 1000; .*list the module names/);
  });

  it('the patterns PEFT users write still pass, and match what they did', () => {
    const realistic: [string, string, boolean][] = [
      ['.*\\.(q_proj|v_proj)', 'model.layers.0.self_attn.q_proj', true],
      ['.*decoder.*(SelfAttention|EncDecAttention).*(q|v)$', 'decoder.block.0.layer.1.EncDecAttention.q', true],
      ['.*decoder.*(SelfAttention|EncDecAttention).*(q|v)$', 'encoder.block.0.layer.0.SelfAttention.q', false],
      ['model\\.layers\\.\\d+\\.self_attn\\.(q|k|v)_proj', 'model.layers.11.self_attn.k_proj', true],
      ['^(?!.*lm_head).*$', 'lm_head', false],
      ['^(?!.*lm_head).*$', 'model.layers.0.mlp.up_proj', true],
      ['.*\\.[0-9]+\\.mlp\\.down_proj', 'model.layers.3.mlp.down_proj', true],
      ['(?P<block>model\\.layers\\.\\d+)\\.mlp\\.(gate|up)_proj', 'model.layers.3.mlp.up_proj', true],
      ['.*layers\\.\\d+\\..*\\.\\w+_proj', 'model.layers.3.mlp.up_proj', true],
      ['(?<=self_attn\\.)q_proj', 'q_proj', false],
    ];
    for (const [pattern, name, matches] of realistic) expect(pythonFullmatch(pattern, 'target_modules').test(name)).toBe(matches);
    expect(makeLoraConfig({ target_modules: '.*\\.(q_proj|v_proj)' }, llama, base).target_modules).toBe('.*\\.(q_proj|v_proj)');
  });
});
