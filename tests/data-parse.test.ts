import { describe, expect, it } from 'vitest';
import {
  alpacaPrompt,
  assertNoProblems,
  DatasetError,
  parseCsvRows,
  parseDataset,
  parsePastedText,
  type DataRecord,
} from '../src/data';
import { jsonErrorOffset } from '../src/data/json-error';

const jsonl = (...objs: unknown[]) => objs.map((o) => (typeof o === 'string' ? o : JSON.stringify(o))).join('\n');

describe('parseDataset: formats and shapes', () => {
  it('reads .jsonl text records, skipping blank lines, with 1-based lines', () => {
    const p = parseDataset(`{"text":"one"}\n\n  \n{"text":"two","id":7}\r\n{"text":"three"}\n`, 'd.jsonl');
    expect(p.problems).toEqual([]);
    expect(p.shape).toBe('text');
    expect(p.format).toBe('jsonl');
    expect(p.lineUnit).toBe('line');
    expect(p.records).toEqual([
      { kind: 'text', text: 'one', line: 1 },
      { kind: 'text', text: 'two', line: 4 },
      { kind: 'text', text: 'three', line: 5 },
    ]);
  });

  it('reads prompt-completion records', () => {
    const p = parseDataset(jsonl({ prompt: 'Q: 2+2?\nA:', completion: ' 4' }), 'x.JSONL');
    expect(p.shape).toBe('prompt-completion');
    expect(p.records).toEqual([{ kind: 'prompt-completion', prompt: 'Q: 2+2?\nA:', completion: ' 4', line: 1 }]);
  });

  it('converts Alpaca records with the documented template', () => {
    const p = parseDataset(
      jsonl({ instruction: 'Add.', input: '2 and 3', output: '5' }, { instruction: 'Greet.', input: '', output: 'Hi' }, { instruction: 'Wave.', output: 'o/' }),
      'a.jsonl',
    );
    expect(p.problems).toEqual([]);
    expect(p.shape).toBe('alpaca');
    expect(p.records[0]).toEqual({
      kind: 'prompt-completion',
      prompt: '### Instruction:\nAdd.\n\n### Input:\n2 and 3\n\n### Response:\n',
      completion: '5',
      line: 1,
    });
    expect((p.records[1] as { prompt: string }).prompt).toBe('### Instruction:\nGreet.\n\n### Response:\n');
    expect((p.records[2] as { prompt: string }).prompt).toBe(alpacaPrompt('Wave.'));
  });

  it('reads messages records', () => {
    const messages = [
      { role: 'system', content: 'Be brief.' },
      { role: 'user', content: 'Hi' },
      { role: 'assistant', content: 'Hello' },
    ];
    const p = parseDataset(jsonl({ messages }), 'c.jsonl');
    expect(p.shape).toBe('messages');
    expect(p.records).toEqual([{ kind: 'messages', messages, line: 1 }]);
  });

  it('reads .json arrays and {"data": [...]}, positions are array indices', () => {
    const arr = parseDataset(JSON.stringify([{ text: 'a' }, { text: 'b' }]), 'd.json');
    expect(arr.format).toBe('json');
    expect(arr.lineUnit).toBe('index');
    expect(arr.records.map((r) => r.line)).toEqual([0, 1]);
    const wrapped = parseDataset(JSON.stringify({ data: [{ text: 'a' }, { nope: 1 }, { text: 'c' }] }, null, 2), 'd.json');
    expect(wrapped.records.map((r) => (r as { text: string }).text)).toEqual(['a', 'c']);
    expect(wrapped.problems).toHaveLength(1);
    expect(wrapped.problems[0].line).toBe(1);
    expect(wrapped.problems[0].message).toMatch(/no known fields \(found "nope"\)/);
    expect(() => assertNoProblems(wrapped)).toThrow(/item 1: no known fields/);
  });

  it('refuses a .json file that is not valid JSON or not an array, and unknown extensions', () => {
    expect(() => parseDataset('[{"text": "a"},\n{"text": }]', 'd.json')).toThrow(DatasetError);
    expect(() => parseDataset('[{"text": "a"},\n{"text": }]', 'd.json')).toThrow(/not valid JSON.*\(line 2, column 10\)/s);
    expect(() => parseDataset('{"text": "a"}', 'd.json')).toThrow(/expected a JSON array/);
    expect(() => parseDataset('a', 'd.parquet')).toThrow(/unsupported file type/);
  });

  it('reads .txt one record per non-empty line', () => {
    const p = parseDataset('\uFEFFfirst line\n\n   \nsecond line\r\nthird', 'notes.txt');
    expect(p.shape).toBe('text');
    expect(p.records).toEqual([
      { kind: 'text', text: 'first line', line: 1 },
      { kind: 'text', text: 'second line', line: 4 },
      { kind: 'text', text: 'third', line: 5 },
    ]);
  });

  it('reads .csv with quoted commas, quotes and line breaks; lines are where rows start', () => {
    const csv = [
      'prompt,completion,notes',
      '"Hello, world","Hi, there",x',
      '"multi',
      'line ""quoted"" prompt","done",',
      '',
      'plain,"two\r\nlines",',
    ].join('\n');
    const p = parseDataset(csv, 'd.csv');
    expect(p.problems).toEqual([]);
    expect(p.records).toEqual<DataRecord[]>([
      { kind: 'prompt-completion', prompt: 'Hello, world', completion: 'Hi, there', line: 2 },
      { kind: 'prompt-completion', prompt: 'multi\nline "quoted" prompt', completion: 'done', line: 3 },
      { kind: 'prompt-completion', prompt: 'plain', completion: 'two\r\nlines', line: 6 },
    ]);
  });

  it('reports malformed CSV rows and empty cells with their lines', () => {
    const csv = ['instruction,input,output', 'Add.,1 and 2,3', 'Only two,cells', 'Greet.,,', 'Say hi.,,hi', '"open,,x'].join('\n');
    const p = parseDataset(csv, 'd.csv');
    expect(p.shape).toBe('alpaca');
    expect(p.records.map((r) => r.line)).toEqual([2, 5]);
    expect(p.problems.map((q) => q.line)).toEqual([3, 4, 6]);
    expect(p.problems[0].message).toMatch(/2 fields, the header has 3/);
    expect(p.problems[1].message).toMatch(/field "output" is empty/);
    expect(p.problems[2].message).toMatch(/never closed/);
  });

  it('reads a messages column in CSV as JSON', () => {
    const m = JSON.stringify([
      { role: 'user', content: 'Hi, you' },
      { role: 'assistant', content: 'Hello' },
    ]);
    const p = parseDataset(`messages\n"${m.replace(/"/g, '""')}"\n`, 'c.csv');
    expect(p.problems).toEqual([]);
    expect(p.records[0]).toMatchObject({ kind: 'messages', line: 2 });
  });

  it('parseCsvRows handles CRLF, a trailing empty field and a final row without line break', () => {
    expect(parseCsvRows('a,b\r\n1,\r\n"x""y",2')).toEqual([
      { line: 1, fields: ['a', 'b'] },
      { line: 2, fields: ['1', ''] },
      { line: 3, fields: ['x"y', '2'] },
    ]);
  });
});

describe('parseDataset: problems carry line numbers', () => {
  const file = jsonl(
    { prompt: 'p1', completion: 'c1' },
    { prompt: 'p2', completion: 'c2' },
    '{"prompt": "p3", "completion": ', // line 3: bad JSON
    { prompt: 'p4', completion: 'c4' },
    { prompt: 'p5' }, // line 5: missing field
    { text: 'other shape' }, // line 6: mixed shapes
    { prompt: 'p7', completion: 7 }, // line 7: not a string
    { prompt: '  ', completion: 'c8' }, // line 8: empty
    ['not', 'an', 'object'], // line 9
    { prompt: 'p10', completion: 'c10' },
  );
  const p = parseDataset(file, 'mixed.jsonl');

  it('leaves the bad records out and says why, with their lines', () => {
    expect(p.shape).toBe('prompt-completion');
    expect(p.records.map((r) => r.line)).toEqual([1, 2, 4, 10]);
    expect(p.problems.map((q) => q.line)).toEqual([3, 5, 6, 7, 8, 9]);
    const byLine = new Map(p.problems.map((q) => [q.line, q.message]));
    expect(byLine.get(3)).toMatch(/^invalid JSON/);
    // The column is within the record's own line, and JSON.parse's position (which counts within that line as if
    // it were line 1) is not repeated.
    expect(byLine.get(3)).not.toMatch(/position|line 1 column/);
    expect(byLine.get(3)).toMatch(/^invalid JSON at column 32: /);
    expect(byLine.get(5)).toBe('missing field "completion"');
    expect(byLine.get(6)).toMatch(/record is text .*first valid record \(line 1\) is prompt-completion/);
    expect(byLine.get(7)).toBe('field "completion" must be a string, got a number');
    expect(byLine.get(8)).toBe('field "prompt" is empty');
    expect(byLine.get(9)).toMatch(/expected a JSON object, got an array/);
  });

  it('points at the column of a JSON error within its line', () => {
    const q = parseDataset(jsonl({ text: 'a' }, '{"text": "b" "c"}'), 'd.jsonl');
    expect(q.problems).toEqual([{ line: 2, message: expect.stringMatching(/^invalid JSON at column 14: /) }]);
  });

  it('takes the shape from the first valid record, not the first line', () => {
    const q = parseDataset(jsonl('garbage', { text: 'a' }, { prompt: 'p', completion: 'c' }), 'd.jsonl');
    expect(q.shape).toBe('text');
    expect(q.problems.map((x) => x.line)).toEqual([1, 3]);
  });

  it('checks messages: unknown roles, empty lists, missing content, no assistant', () => {
    const q = parseDataset(
      jsonl(
        { messages: [{ role: 'user', content: 'a' }, { role: 'assistant', content: 'b' }] },
        { messages: [{ role: 'user', content: 'a' }, { role: 'bot', content: 'b' }] },
        { messages: [] },
        { messages: [{ role: 'user' }, { role: 'assistant', content: 'b' }] },
        { messages: [{ role: 'user', content: 'only a question' }] },
        { messages: 'hello' },
      ),
      'chat.jsonl',
    );
    expect(q.records.map((r) => r.line)).toEqual([1]);
    expect(q.problems).toEqual([
      { line: 2, message: 'messages[1].role "bot" is not one of system, user, assistant' },
      { line: 3, message: 'field "messages" is empty' },
      { line: 4, message: 'missing field "messages[0].content"' },
      { line: 5, message: 'no assistant message: there is nothing to train on' },
      { line: 6, message: 'field "messages" must be an array, got a string' },
    ]);
  });

  it('reports Alpaca mixed with prompt-completion', () => {
    const q = parseDataset(jsonl({ instruction: 'i', output: 'o' }, { prompt: 'p', completion: 'c' }), 'd.jsonl');
    expect(q.shape).toBe('alpaca');
    expect(q.problems).toHaveLength(1);
    expect(q.problems[0].line).toBe(2);
  });
});

describe('assertNoProblems', () => {
  it('passes a clean dataset', () => {
    expect(() => assertNoProblems(parseDataset('{"text":"a"}', 'd.jsonl'))).not.toThrow();
  });

  it('lists up to 10 problems with lines, the count, and how to skip them', () => {
    const lines = ['{"text":"ok"}'];
    for (let i = 0; i < 13; i++) lines.push('{bad');
    const p = parseDataset(lines.join('\n'), 'big.jsonl');
    let err: unknown;
    try {
      assertNoProblems(p);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(DatasetError);
    const msg = (err as DatasetError).message;
    expect(msg).toMatch(/^big\.jsonl: 13 records have problems \(1 usable\):/);
    expect(msg).toContain('line 2: invalid JSON');
    expect(msg).toContain('line 11: invalid JSON');
    expect(msg).not.toContain('line 12:');
    expect(msg).toContain('… and 3 more');
    expect(msg).toContain('--skip-bad-records');
    expect(msg).toContain('Skip bad records');
    expect((err as DatasetError).problems).toHaveLength(13);
  });

  it('allowSkip lets the valid records through, but never an empty dataset', () => {
    const p = parseDataset('{"text":"ok"}\n{bad\n', 'd.jsonl');
    expect(() => assertNoProblems(p, { allowSkip: true })).not.toThrow();
    expect(p.records).toHaveLength(1);
    const none = parseDataset('{bad\n', 'd.jsonl');
    expect(() => assertNoProblems(none, { allowSkip: true })).toThrow(/no usable records.*line 1: invalid JSON/);
    expect(() => assertNoProblems(parseDataset('', 'empty.txt'), { allowSkip: true })).toThrow(/empty\.txt: no usable records/);
  });

  it('names the file given in opts', () => {
    const p = parseDataset('{bad', 'd.jsonl');
    expect(() => assertNoProblems(p, { file: '/data/d.jsonl' })).toThrow(/^\/data\/d\.jsonl: 1 record has a problem/);
  });
});

describe('parsePastedText', () => {
  it('detects JSONL', () => {
    const p = parsePastedText('\n  {"prompt":"a","completion":"b"}\n{"prompt":"c","completion":"d"}\n');
    expect(p.format).toBe('jsonl');
    expect(p.source).toBe('pasted text');
    expect(p.records.map((r) => r.line)).toEqual([2, 3]);
  });

  it('detects a JSON array, also pretty-printed', () => {
    const p = parsePastedText(JSON.stringify([{ text: 'a' }, { text: 'b' }], null, 2));
    expect(p.format).toBe('json');
    expect(p.records).toHaveLength(2);
  });

  it('treats other text as one record per line, even when it starts with a bracket', () => {
    const p = parsePastedText('[citation needed] the first line\nsecond line\n');
    expect(p.format).toBe('txt');
    expect(p.records).toEqual([
      { kind: 'text', text: '[citation needed] the first line', line: 1 },
      { kind: 'text', text: 'second line', line: 2 },
    ]);
  });

  it('reports broken JSONL lines instead of falling back to text', () => {
    const p = parsePastedText('{"text":"a"}\n{"text":\n');
    expect(p.format).toBe('jsonl');
    expect(p.problems.map((q) => q.line)).toEqual([2]);
  });
});

describe('jsonErrorOffset', () => {
  it('agrees with JSON.parse on valid and broken texts, and points at the break', () => {
    const base = JSON.stringify({ data: [{ text: 'a "q" \\ é \u0001', n: -1.5e3, ok: true, no: null, list: [1, 2, {}], e: [] }] }, null, 1);
    expect(jsonErrorOffset(base)).toBeNull();
    expect(jsonErrorOffset('[1, 2,]')).toBe(6);
    expect(jsonErrorOffset('{"a": tru}')).toBe(9);
    expect(jsonErrorOffset('"abc')).toBe(4);
    expect(jsonErrorOffset('01')).toBe(1);
    for (let k = 0; k < base.length; k++) {
      for (const mutated of [base.slice(0, k) + base.slice(k + 1), base.slice(0, k) + '}' + base.slice(k)]) {
        let valid = true;
        try {
          JSON.parse(mutated);
        } catch {
          valid = false;
        }
        expect(jsonErrorOffset(mutated) === null, mutated).toBe(valid);
      }
    }
  });
});
