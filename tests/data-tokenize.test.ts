import { describe, expect, it } from 'vitest';
import { countedLabels, DatasetError, IGNORE_INDEX, parseDataset, tokenizeRecords, type DataRecord, type TokenizedExample } from '../src/data';
import { loadTokenizer, type TextTokenizer } from '../src/model-io/tokenizer';
import { makeTinyTokenizer, TINY_MODEL_KINDS, type TinyModelKind } from './fixtures/tiny-models';

function tokenizer(kind: TinyModelKind, configPatch: Record<string, unknown> = {}): TextTokenizer {
  const t = makeTinyTokenizer(kind);
  return loadTokenizer(t.tokenizerJson, { ...t.tokenizerConfig, ...configPatch });
}

/** The counted labels (t ≥ 1, not −100), grouped into contiguous runs, each decoded. */
function countedRuns(tok: TextTokenizer, ex: TokenizedExample): string[] {
  const runs: number[][] = [];
  let prev = -2;
  ex.labels.forEach((l, t) => {
    if (t === 0 || l === IGNORE_INDEX) return;
    expect(l).toBe(ex.inputIds[t]);
    if (t !== prev + 1) runs.push([]);
    runs[runs.length - 1].push(l);
    prev = t;
  });
  return runs.map((r) => tok.decode(r));
}

describe.each(TINY_MODEL_KINDS)('tokenizeRecords with the tiny %s tokenizer', (kind) => {
  const tok = tokenizer(kind);
  const EOS = '<|endoftext|>';

  it('prompt-completion: loss on exactly the completion and EOS', () => {
    const rec: DataRecord = { kind: 'prompt-completion', prompt: 'Question: what is 2+2?\nAnswer:', completion: ' four, of course.', line: 7 };
    const { examples, truncated, problems } = tokenizeRecords([rec], tok, { maxLength: 256 });
    expect(truncated).toBe(0);
    expect(problems).toEqual([]);
    const [ex] = examples;
    const promptIds = tok.encode(rec.prompt);
    const completionIds = tok.encode(rec.completion, { addSpecialTokens: false });
    expect(ex.line).toBe(7);
    expect(ex.inputIds).toEqual([...promptIds, ...completionIds, tok.eosTokenId]);
    expect(ex.labels).toEqual([...promptIds.map(() => IGNORE_INDEX), ...completionIds, tok.eosTokenId]);
    if (kind === 'llama') expect(ex.inputIds[0]).toBe(tok.bosTokenId);
    expect(countedRuns(tok, ex)).toEqual([' four, of course.' + EOS]);
    expect(countedLabels(ex.labels)).toBe(completionIds.length + 1);
  });

  it('Alpaca records: the counted labels decode to the output and EOS', () => {
    const parsed = parseDataset(JSON.stringify({ instruction: 'Name a color.', input: 'warm ones', output: 'Red' }), 'a.jsonl');
    const [ex] = tokenizeRecords(parsed.records, tok, { maxLength: 256 }).examples;
    expect(countedRuns(tok, ex)).toEqual(['Red' + EOS]);
    expect(tok.decode(ex.inputIds, { skipSpecialTokens: true })).toBe(
      '### Instruction:\nName a color.\n\n### Input:\nwarm ones\n\n### Response:\nRed',
    );
  });

  it('text: loss on every token, EOS appended unless addEos is false', () => {
    const rec: DataRecord = { kind: 'text', text: 'The quick brown fox.', line: 1 };
    const [ex] = tokenizeRecords([rec], tok, { maxLength: 256 }).examples;
    expect(ex.inputIds).toEqual([...tok.encode(rec.text), tok.eosTokenId]);
    expect(ex.labels).toEqual(ex.inputIds);
    const [noEos] = tokenizeRecords([rec], tok, { maxLength: 256, addEos: false }).examples;
    expect(noEos.inputIds).toEqual(tok.encode(rec.text));
  });

  it('truncates to maxLength, counts it, and drops examples with nothing left to learn', () => {
    const records: DataRecord[] = [
      { kind: 'text', text: 'a long line of text that will not fit', line: 1 },
      { kind: 'prompt-completion', prompt: 'a prompt that fills the whole window and more', completion: 'lost', line: 2 },
      { kind: 'prompt-completion', prompt: 'short', completion: ' and a long completion that is cut', line: 3 },
      { kind: 'text', text: 'ok', line: 4 },
    ];
    const max = 8;
    const { examples, truncated, problems } = tokenizeRecords(records, tok, { maxLength: max });
    expect(truncated).toBe(3);
    expect(examples.map((e) => e.line)).toEqual([1, 3, 4]);
    for (const e of examples) {
      expect(e.inputIds.length).toBeLessThanOrEqual(max);
      expect(e.labels.length).toBe(e.inputIds.length);
    }
    expect(examples[0].inputIds).toEqual(tok.encode(records[0].kind === 'text' ? records[0].text : '').slice(0, max));
    expect(problems).toHaveLength(1);
    expect(problems[0].line).toBe(2);
    expect(problems[0].message).toMatch(/no completion token is left to train on after truncation to 8 tokens/);
    const promptLen = tok.encode('short').length;
    expect(examples[1].labels.slice(0, promptLen).every((l) => l === IGNORE_INDEX)).toBe(true);
    expect(examples[1].labels.slice(promptLen)).toEqual(examples[1].inputIds.slice(promptLen));
  });

  it('refuses bad maxLength', () => {
    expect(() => tokenizeRecords([], tok, { maxLength: 1 })).toThrow(DatasetError);
  });

  if (kind !== 'qwen2') {
    it('refuses chat messages: the tokenizer has no chat template', () => {
      const rec: DataRecord = { kind: 'messages', messages: [{ role: 'user', content: 'hi' }, { role: 'assistant', content: 'yo' }], line: 1 };
      expect(() => tokenizeRecords([rec], tok, { maxLength: 64 })).toThrow(/no chat template/);
    });
  }
});

describe('tokenizeRecords: messages with the qwen2 ChatML template', () => {
  const tok = tokenizer('qwen2');
  const messages: Extract<DataRecord, { kind: 'messages' }>['messages'] = [
    { role: 'system', content: 'Be brief.' },
    { role: 'user', content: 'Hi there' },
    { role: 'assistant', content: 'Hello!' },
    { role: 'user', content: 'Bye' },
    { role: 'assistant', content: ' See you, friend.\nTake care.' },
  ];

  it('counts only the assistant turns, each with its <|im_end|>', () => {
    const { examples, problems } = tokenizeRecords([{ kind: 'messages', messages, line: 3 }], tok, { maxLength: 512 });
    expect(problems).toEqual([]);
    const [ex] = examples;
    const rendered = tok.applyChatTemplate!(messages)!;
    expect(ex.inputIds).toEqual(tok.encode(rendered, { addSpecialTokens: false }));
    expect(countedRuns(tok, ex)).toEqual(['Hello!<|im_end|>', ' See you, friend.\nTake care.<|im_end|>']);
    // Everything else, decoded, is the template's scaffolding and the other roles' text.
    const parts = tok.decode(ex.inputIds.filter((_, t) => ex.labels[t] === IGNORE_INDEX));
    expect(parts).toBe(
      '<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nHi there<|im_end|>\n<|im_start|>assistant\n' +
        '\n<|im_start|>user\nBye<|im_end|>\n<|im_start|>assistant\n\n',
    );
  });

  it('truncation inside the last assistant turn keeps the first one', () => {
    const full = tokenizeRecords([{ kind: 'messages', messages, line: 1 }], tok, { maxLength: 512 }).examples[0];
    const cut = full.inputIds.length - 4;
    const { examples, truncated } = tokenizeRecords([{ kind: 'messages', messages, line: 1 }], tok, { maxLength: cut });
    expect(truncated).toBe(1);
    expect(examples[0].labels).toEqual(full.labels.slice(0, cut));
  });

  it('a conversation whose assistant turns are all truncated away is a problem', () => {
    const { examples, problems } = tokenizeRecords([{ kind: 'messages', messages, line: 9 }], tok, { maxLength: 6 });
    expect(examples).toEqual([]);
    expect(problems).toEqual([{ line: 9, message: expect.stringMatching(/no assistant token is left/) }]);
  });

  it('a template that renders prefixes inconsistently is a problem for that record', () => {
    const odd = tokenizer('qwen2', {
      chat_template: "{{ messages|length }}{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n{% endfor %}",
    });
    const { examples, problems } = tokenizeRecords([{ kind: 'messages', messages, line: 4 }], odd, { maxLength: 512 });
    expect(examples).toEqual([]);
    expect(problems).toEqual([{ line: 4, message: expect.stringMatching(/renders this conversation differently/) }]);
  });
});
