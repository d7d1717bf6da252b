/**
 * Dataset files (JSONL, JSON, CSV, plain text, and pasted text) parsed as the studio and the CLI parse them, then
 * tokenized for training with a tiny model's tokenizer and chat template. A bad line is fine (it is reported at its
 * line); a crash, a hang or an unnamed failure is not. Oracles: a record too deep to read must be reported (never a
 * stack overflow); a huge record must cost about what a short one costs.
 */
import { parseDataset, parsePastedText, tokenizeRecords } from '../../src/data';
import { loadTokenizer, type TextTokenizer } from '../../src/model-io/tokenizer';
import { makeTinyModel } from '../../tests/fixtures/tiny-models';
import { caseRng, type FuzzSurface, type Rng } from '../fuzz-case';

let tokenizer: TextTokenizer | null = null;
function tinyTokenizer(): TextTokenizer {
  if (!tokenizer) {
    const f = makeTinyModel('qwen2'); // it has a chat template, for messages records
    const dec = (b: Uint8Array) => JSON.parse(new TextDecoder().decode(b));
    tokenizer = loadTokenizer(dec(f.get('tokenizer.json')!), dec(f.get('tokenizer_config.json')!));
  }
  return tokenizer;
}

const WORDS = ['cat', 'says', 'meow', 'dog', 'woof', 'é', '中文', '🙂', '"', '\\', ',', '\t', ' ', 'null', '{', '}', '[', ']'];
const text = (r: Rng, n = 1 + r.int(8)) => Array.from({ length: n }, () => r.pick(WORDS)).join(' ');

/** One record in a random shape, sometimes with a wrong field type or a missing field. */
function record(r: Rng): Record<string, unknown> {
  const shape = r.int(5);
  const rec: Record<string, unknown> =
    shape === 0
      ? { text: text(r) }
      : shape === 1
        ? { prompt: text(r), completion: text(r) }
        : shape === 2
          ? { instruction: text(r), input: r.next() < 0.5 ? '' : text(r), output: text(r) }
          : shape === 3
            ? { messages: [{ role: 'user', content: text(r) }, { role: 'assistant', content: text(r) }] }
            : { [r.pick(['txt', 'Text', 'prompt', 'messages'])]: r.pick([5, null, [], {}, text(r)]) };
  if (r.next() < 0.1) rec[r.pick(Object.keys(rec))] = r.pick([7, null, true, [1], { a: 1 }]);
  return rec;
}

function nested(depth: number, open: string, close: string, inner: string): string {
  return open.repeat(depth) + inner + close.repeat(depth);
}

type Build = (r: Rng) => { label: string; fileName: string | null; text: string };

const BUILDS: Record<string, Build> = {
  jsonl(r) {
    const lines = Array.from({ length: 1 + r.int(12) }, () => JSON.stringify(record(r)));
    if (r.next() < 0.3) lines.splice(r.int(lines.length), 0, r.pick(['{', '{"text": }', 'not json', '', '   ', '[1,2]', '"x"', '{"text":"a"}{"text":"b"}']));
    return { label: `${lines.length} JSONL lines`, fileName: 'data.jsonl', text: lines.join(r.pick(['\n', '\r\n', '\n\n'])) };
  },
  json(r) {
    const rows = Array.from({ length: 1 + r.int(8) }, () => record(r));
    const value = r.next() < 0.3 ? { data: rows } : rows;
    let t = JSON.stringify(value, null, r.pick([0, 2]));
    if (r.next() < 0.3) t = t.slice(0, r.int(t.length));
    return { label: `a JSON array of ${rows.length}`, fileName: 'data.json', text: t };
  },
  csv(r) {
    const header = r.pick(['text', 'prompt,completion', 'instruction,input,output', 'a,b', '"text"', 'text,text']);
    const cols = header.split(',').length;
    const rows = Array.from({ length: 1 + r.int(8) }, () =>
      Array.from({ length: cols + (r.next() < 0.1 ? 1 : 0) }, () => (r.next() < 0.3 ? `"${text(r).replaceAll('"', '""')}"` : text(r).replaceAll(/[",\n]/g, ''))).join(','),
    );
    if (r.next() < 0.2) rows.push('"unterminated');
    return { label: `CSV ${header}`, fileName: 'data.csv', text: [header, ...rows].join('\n') };
  },
  txt(r) {
    return { label: 'plain text', fileName: 'data.txt', text: Array.from({ length: 1 + r.int(10) }, () => text(r)).join('\n') };
  },
  pasted(r) {
    const t = r.pick([JSON.stringify([record(r), record(r)]), JSON.stringify(record(r)), text(r), `{"data": [${JSON.stringify(record(r))}]}`, '[', '{']);
    return { label: 'pasted text', fileName: null, text: t };
  },
  deep(r) {
    const depth = r.pick([2000, 20000, 100000]);
    const fileName = r.pick(['data.json', 'data.jsonl', null]);
    const inner = fileName === 'data.json' ? '' : '';
    const body = r.next() < 0.5 ? nested(depth, '[', ']', inner) : `{"text": ${nested(depth, '{"a":', '}', '1')}}`;
    return { label: `nesting ${depth} deep`, fileName, text: body };
  },
  huge(r) {
    const mb = 2 + r.int(7);
    const big = 'meow '.repeat((mb * 1024 * 1024) / 5);
    const rec = r.pick([{ text: big }, { prompt: 'cat says', completion: big }, { prompt: big, completion: ' meow' }, { messages: [{ role: 'user', content: big }, { role: 'assistant', content: 'ok' }] }]);
    return { label: `one record of ${mb} MB`, fileName: 'data.jsonl', text: JSON.stringify(rec) };
  },
  bytes(r) {
    const n = 1 + r.int(400);
    const t = Array.from({ length: n }, () => String.fromCharCode(r.int(0x3000))).join('');
    return { label: `${n} random characters`, fileName: r.pick(['data.jsonl', 'data.json', 'data.csv', 'data.txt']), text: t };
  },
};

const NAMES = Object.keys(BUILDS);

/** The parser reported bad records at their lines: a refusal of those records, as the studio shows them. */
class ProblemsReportedError extends Error {
  override name = 'ProblemsReportedError';
}

export const DATASET_SURFACE: FuzzSurface = {
  name: 'datasets',
  caseAt(seed, i) {
    const r = caseRng(seed, i, 0xda);
    const m = NAMES[i % NAMES.length];
    const b = BUILDS[m](r);
    return {
      label: `${m}: ${b.label}`,
      // Bad lines are reported, not thrown; what is wrong here is a crash or a hang.
      expect: 'either',
      // A refusal names the file (or "pasted text"), a reported problem its line.
      names: /data\.(jsonl|json|csv|txt)|pasted text|"line":\d+/,
      run() {
        const parsed = b.fileName === null ? parsePastedText(b.text) : parseDataset(b.text, b.fileName);
        if (parsed.records.length > 0) tokenizeRecords(parsed.records, tinyTokenizer(), { maxLength: 32 });
        if (parsed.problems.length > 0) throw new ProblemsReportedError(`${parsed.problems.length} problems, the first: ${JSON.stringify(parsed.problems[0])}`);
        return parsed;
      },
    };
  },
};
