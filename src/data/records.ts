/**
 * Training records, the problems found while reading them, and the check that lets the caller decide what to do
 * with those problems. Nothing is dropped silently: a record that cannot be used is left out of `records` and
 * reported in `problems` with its position, and `assertNoProblems` refuses to go on unless skipping was asked for.
 */

export type ChatRole = 'system' | 'user' | 'assistant';
export const CHAT_ROLES: readonly ChatRole[] = ['system', 'user', 'assistant'];

export interface TextRecord {
  kind: 'text';
  text: string;
  line: number;
}

export interface PromptCompletionRecord {
  kind: 'prompt-completion';
  prompt: string;
  completion: string;
  line: number;
}

export interface MessagesRecord {
  kind: 'messages';
  messages: { role: ChatRole; content: string }[];
  line: number;
}

/**
 * One training example as read from a file. `line` is the 1-based line the record starts on, except in `.json`
 * files, where it is the 0-based index in the array (see `ParsedDataset.lineUnit`).
 */
export type DataRecord = TextRecord | PromptCompletionRecord | MessagesRecord;

/**
 * The shape of the source records. `alpaca` ({instruction, input?, output}) is read as prompt-completion records
 * (see `alpacaPrompt`) but kept apart here, so a file that mixes it with {prompt, completion} is reported.
 */
export type RecordShape = 'text' | 'prompt-completion' | 'alpaca' | 'messages';

export type DatasetFormat = 'jsonl' | 'json' | 'csv' | 'txt';

/** `line`: 1-based line in the file; `index`: 0-based position in a `.json` array. */
export type LineUnit = 'line' | 'index';

export interface DataProblem {
  /** Where: a 1-based line, or for `.json` files the 0-based array index (the dataset's `lineUnit` says which). */
  line: number;
  message: string;
}

export interface ParsedDataset {
  /** The usable records, in file order. */
  records: DataRecord[];
  /** Every record that was not used, and why. */
  problems: DataProblem[];
  /** The shape of the first valid record, which every record must share; null when there is no valid record. */
  shape: RecordShape | null;
  format: DatasetFormat;
  /** The file name, or "pasted text". */
  source: string;
  lineUnit: LineUnit;
}

export class DatasetError extends Error {
  override name = 'DatasetError';
  constructor(
    message: string,
    readonly problems: DataProblem[] = [],
  ) {
    super(message);
  }
}

export const SKIP_BAD_RECORDS_HINT =
  'To leave these records out and train on the rest, pass --skip-bad-records on the command line, ' +
  'or tick "Skip bad records" in the studio\'s Data panel.';

const MAX_LISTED_PROBLEMS = 10;

export function formatProblem(p: DataProblem, unit: LineUnit = 'line'): string {
  return `${unit === 'index' ? 'item' : 'line'} ${p.line}: ${p.message}`;
}

/**
 * Throws a DatasetError when the dataset has problems (unless `allowSkip`) or no usable record. The message lists
 * up to 10 problems with their lines, gives the count, and says how to skip them. Also takes the result of
 * `tokenizeRecords` (pass `lineUnit`/`source` from the parsed dataset to word it the same way). `file` names the
 * dataset in the message instead of `source` (e.g. the full path).
 */
export function assertNoProblems(
  parsed: { problems: DataProblem[]; records?: readonly unknown[]; examples?: readonly unknown[]; source?: string; lineUnit?: LineUnit },
  opts: { allowSkip?: boolean; file?: string } = {},
): void {
  const source = opts.file ?? parsed.source ?? 'dataset';
  const unit = parsed.lineUnit ?? 'line';
  const usable = parsed.records ?? parsed.examples;
  const n = parsed.problems.length;
  if (n > 0 && !opts.allowSkip) {
    const listed = parsed.problems.slice(0, MAX_LISTED_PROBLEMS).map((p) => `  ${formatProblem(p, unit)}`);
    if (n > MAX_LISTED_PROBLEMS) listed.push(`  … and ${n - MAX_LISTED_PROBLEMS} more`);
    const head = `${source}: ${n} record${n === 1 ? ' has a problem' : 's have problems'}` +
      (usable ? ` (${usable.length} usable)` : '') + ':';
    throw new DatasetError(`${head}\n${listed.join('\n')}\n${SKIP_BAD_RECORDS_HINT}`, parsed.problems);
  }
  if (usable && usable.length === 0) {
    const why = n > 0 ? ` (all ${n} were left out for problems, e.g. ${formatProblem(parsed.problems[0], unit)})` : '';
    throw new DatasetError(`${source}: no usable records${why}`, parsed.problems);
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Reading one record from a JSON object (or a CSV row turned into one)

export const ALPACA_INSTRUCTION_HEADER = '### Instruction:\n';
export const ALPACA_INPUT_HEADER = '### Input:\n';
export const ALPACA_RESPONSE_HEADER = '### Response:\n';

/**
 * The prompt of an Alpaca record, Alpaca's template without its preamble sentence:
 * "### Instruction:\n{instruction}\n\n### Input:\n{input}\n\n### Response:\n", and without the Input section when
 * `input` is empty or missing. The completion is `output` as is.
 */
export function alpacaPrompt(instruction: string, input?: string): string {
  let s = `${ALPACA_INSTRUCTION_HEADER}${instruction}\n\n`;
  if (input !== undefined && input.trim() !== '') s += `${ALPACA_INPUT_HEADER}${input}\n\n`;
  return s + ALPACA_RESPONSE_HEADER;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function typeName(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  return typeof v === 'object' ? 'an object' : `a ${typeof v}`;
}

/** Returns the string, or a problem message: missing, not a string, or empty (whitespace only counts as empty). */
function stringField(obj: Record<string, unknown>, key: string, where = ''): string | { error: string } {
  if (!(key in obj) || obj[key] === undefined) return { error: `missing field "${where}${key}"` };
  const v = obj[key];
  if (typeof v !== 'string') return { error: `field "${where}${key}" must be a string, got ${typeName(v)}` };
  if (v.trim() === '') return { error: `field "${where}${key}" is empty` };
  return v;
}

const SHAPE_FIELDS: Record<RecordShape, string> = {
  text: '{"text"}',
  'prompt-completion': '{"prompt", "completion"}',
  alpaca: '{"instruction", "input", "output"}',
  messages: '{"messages": [{"role", "content"}]}',
};

export function describeShape(shape: RecordShape): string {
  return `${shape} ${SHAPE_FIELDS[shape]}`;
}

/** The shape a record claims by its keys; null when it has none of the known fields. */
export function detectShape(obj: Record<string, unknown>): RecordShape | null {
  if ('messages' in obj) return 'messages';
  if ('prompt' in obj || 'completion' in obj) return 'prompt-completion';
  if ('instruction' in obj || 'output' in obj) return 'alpaca';
  if ('text' in obj) return 'text';
  return null;
}

export type RecordResult = { record: DataRecord; shape: RecordShape } | { error: string };

/** Reads one record from a parsed JSON value. Fields other than the shape's own are ignored. */
export function recordFromObject(value: unknown, line: number): RecordResult {
  if (!isObject(value)) return { error: `expected a JSON object, got ${typeName(value)}` };
  const shape = detectShape(value);
  if (shape === null) {
    const keys = Object.keys(value);
    return {
      error: `no known fields (found ${keys.length ? keys.map((k) => `"${k}"`).join(', ') : 'none'}); expected one of ` +
        (['text', 'prompt-completion', 'alpaca', 'messages'] as RecordShape[]).map((s) => SHAPE_FIELDS[s]).join(', '),
    };
  }
  switch (shape) {
    case 'text': {
      const text = stringField(value, 'text');
      if (typeof text !== 'string') return text;
      return { shape, record: { kind: 'text', text, line } };
    }
    case 'prompt-completion': {
      const prompt = stringField(value, 'prompt');
      if (typeof prompt !== 'string') return prompt;
      const completion = stringField(value, 'completion');
      if (typeof completion !== 'string') return completion;
      return { shape, record: { kind: 'prompt-completion', prompt, completion, line } };
    }
    case 'alpaca': {
      const instruction = stringField(value, 'instruction');
      if (typeof instruction !== 'string') return instruction;
      const output = stringField(value, 'output');
      if (typeof output !== 'string') return output;
      const input = value.input;
      if (input !== undefined && input !== null && typeof input !== 'string') {
        return { error: `field "input" must be a string, got ${typeName(input)}` };
      }
      return { shape, record: { kind: 'prompt-completion', prompt: alpacaPrompt(instruction, input ?? undefined), completion: output, line } };
    }
    case 'messages': {
      const list = value.messages;
      if (!Array.isArray(list)) return { error: `field "messages" must be an array, got ${typeName(list)}` };
      if (list.length === 0) return { error: 'field "messages" is empty' };
      const messages: MessagesRecord['messages'] = [];
      for (let i = 0; i < list.length; i++) {
        const m = list[i];
        if (!isObject(m)) return { error: `messages[${i}] must be an object, got ${typeName(m)}` };
        const role = stringField(m, 'role', `messages[${i}].`);
        if (typeof role !== 'string') return role;
        if (!(CHAT_ROLES as readonly string[]).includes(role)) {
          return { error: `messages[${i}].role "${role}" is not one of ${CHAT_ROLES.join(', ')}` };
        }
        const content = stringField(m, 'content', `messages[${i}].`);
        if (typeof content !== 'string') return content;
        messages.push({ role: role as ChatRole, content });
      }
      if (!messages.some((m) => m.role === 'assistant')) return { error: 'no assistant message: there is nothing to train on' };
      return { shape, record: { kind: 'messages', messages, line } };
    }
  }
}

/** Collects records, enforcing one shape per file (that of the first valid record). */
export class RecordCollector {
  readonly records: DataRecord[] = [];
  readonly problems: DataProblem[] = [];
  shape: RecordShape | null = null;
  private shapeLine = 0;

  constructor(private readonly unit: LineUnit = 'line') {}

  problem(line: number, message: string): void {
    this.problems.push({ line, message });
  }

  add(result: RecordResult, line: number): void {
    if ('error' in result) {
      this.problem(line, result.error);
      return;
    }
    if (this.shape === null) {
      this.shape = result.shape;
      this.shapeLine = line;
    } else if (result.shape !== this.shape) {
      this.problem(
        line,
        `record is ${describeShape(result.shape)}, but the file's first valid record (${this.unit === 'index' ? 'item' : 'line'} ` +
          `${this.shapeLine}) is ${describeShape(this.shape)}; every record must have the same shape`,
      );
      return;
    }
    this.records.push(result.record);
  }
}
