/**
 * Dataset files to records. Formats, chosen by the file name's extension (case-insensitive):
 *
 * - `.jsonl` / `.ndjson`: one JSON object per line; blank lines are skipped. Positions are 1-based lines.
 * - `.json`: an array of objects, or an object {"data": [...]}. Positions are 0-based array indices
 *   (`lineUnit: 'index'`), since JSON files are often written on one line.
 * - `.csv`: a header row, then one record per row; the columns are named like the record fields (`text`;
 *   `prompt`, `completion`; `instruction`, `input`, `output`; or `messages` holding the JSON array as text).
 *   Other columns are ignored. Quoted fields may hold commas and line breaks. Positions are the 1-based line a
 *   row starts on (the header is line 1).
 * - `.txt`: one text record per non-empty line (whitespace-only lines are skipped). Use `.jsonl` with {"text"}
 *   records for multi-line documents.
 *
 * A whole-file failure (unknown extension, a `.json` file that is not valid JSON or not an array, a `.csv` file
 * without a usable header) throws a DatasetError. Everything else that is wrong with a record is a problem with
 * its position, and the record is left out; see `assertNoProblems`.
 */
import { isBlankRow, parseCsvRows } from './csv';
import { jsonTooDeepAt, tooDeepMessage } from './json-depth';
import { jsonErrorOffset } from './json-error';
import { DatasetError, RecordCollector, recordFromObject, type DatasetFormat, type ParsedDataset } from './records';

export { assertNoProblems, DatasetError, type DataProblem, type DataRecord, type ParsedDataset, type RecordShape } from './records';

const EXTENSIONS: Record<string, DatasetFormat> = { jsonl: 'jsonl', ndjson: 'jsonl', json: 'json', csv: 'csv', txt: 'txt' };

export function formatOfFileName(fileName: string): DatasetFormat {
  const m = /\.([A-Za-z0-9]+)$/.exec(fileName.trim());
  const format = m ? EXTENSIONS[m[1].toLowerCase()] : undefined;
  if (!format) {
    throw new DatasetError(`${fileName}: unsupported file type; expected a .jsonl, .json, .csv or .txt file`);
  }
  return format;
}

function stripBom(text: string): string {
  return text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
}

function splitLines(text: string): string[] {
  return text.split(/\r\n|\n|\r/);
}

/** Parses a dataset file's text; the format comes from `fileName`'s extension. */
export function parseDataset(text: string, fileName: string): ParsedDataset {
  return parseAs(stripBom(text), formatOfFileName(fileName), fileName);
}

/**
 * Parses text pasted into the studio. It is read as JSON when the whole text is a JSON array or {"data": [...]},
 * as JSONL when its first non-blank line starts with "{", and otherwise as plain text, one record per line.
 * `format` in the result says which was detected.
 */
export function parsePastedText(text: string): ParsedDataset {
  const source = 'pasted text';
  const t = stripBom(text);
  const trimmed = t.trim();
  const looksJson = trimmed.startsWith('[') || trimmed.startsWith('{');
  // Measured before JSON.parse, which recurses in some browsers; an array too deep is refused by parseJson, with
  // its line, and an object too deep is read as JSONL, where that line is reported.
  const tooDeep = looksJson && jsonTooDeepAt(trimmed) !== null;
  if (tooDeep && trimmed.startsWith('[')) return parseAs(t, 'json', source);
  if (looksJson && !tooDeep) {
    try {
      const value: unknown = JSON.parse(trimmed);
      if (Array.isArray(value) || (typeof value === 'object' && value !== null && Array.isArray((value as { data?: unknown }).data))) {
        return parseAs(t, 'json', source);
      }
    } catch {
      // not one JSON document
    }
  }
  const firstLine = splitLines(t).find((l) => l.trim() !== '');
  if (firstLine !== undefined && firstLine.trimStart().startsWith('{')) return parseAs(t, 'jsonl', source);
  return parseAs(t, 'txt', source);
}

function parseAs(text: string, format: DatasetFormat, source: string): ParsedDataset {
  switch (format) {
    case 'jsonl':
      return parseJsonl(text, source);
    case 'json':
      return parseJson(text, source);
    case 'csv':
      return parseCsv(text, source);
    case 'txt':
      return parseTxt(text, source);
  }
}

function result(c: RecordCollector, format: DatasetFormat, source: string): ParsedDataset {
  return { records: c.records, problems: c.problems, shape: c.shape, format, source, lineUnit: format === 'json' ? 'index' : 'line' };
}

/**
 * JSON.parse's message without the position it appends ("in JSON at position 30", "(line 1 column 31)"), which
 * counts within the text it was given (one line of a .jsonl), not the file: the callers say where, themselves.
 */
function jsonErrorMessage(e: unknown): string {
  const msg = e instanceof Error ? e.message : String(e);
  return msg.replace(/\s*\(line \d+ column \d+\)$/, '').replace(/\s+in JSON at position \d+$/, '');
}

function parseJsonl(text: string, source: string): ParsedDataset {
  const c = new RecordCollector('line');
  splitLines(text).forEach((raw, i) => {
    const line = i + 1;
    if (raw.trim() === '') return;
    const deep = jsonTooDeepAt(raw);
    if (deep !== null) {
      c.problem(line, `${tooDeepMessage()} (column ${deep + 1})`);
      return;
    }
    let value: unknown;
    try {
      value = JSON.parse(raw);
    } catch (e) {
      const offset = jsonErrorOffset(raw);
      c.problem(line, `invalid JSON${offset === null ? '' : ` at column ${offset + 1}`}: ${jsonErrorMessage(e)}`);
      return;
    }
    c.add(recordFromObject(value, line), line);
  });
  return result(c, 'jsonl', source);
}

/** 1-based line and column of a character offset. */
function lineColumnOf(text: string, offset: number): { line: number; column: number } {
  const before = text.slice(0, offset);
  const lines = splitLines(before);
  return { line: lines.length, column: lines[lines.length - 1].length + 1 };
}

function parseJson(text: string, source: string): ParsedDataset {
  const deep = jsonTooDeepAt(text);
  if (deep !== null) {
    const { line, column } = lineColumnOf(text, deep);
    throw new DatasetError(`${source}: ${tooDeepMessage()} (line ${line}, column ${column})`);
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (e) {
    const msg = jsonErrorMessage(e);
    const offset = jsonErrorOffset(text);
    let where = '';
    if (offset !== null) {
      const { line, column } = lineColumnOf(text, offset);
      where = ` (line ${line}, column ${column})`;
    }
    throw new DatasetError(`${source}: not valid JSON: ${msg}${where}. A .json dataset is one JSON array of records; use .jsonl for one record per line.`);
  }
  let items: unknown[];
  if (Array.isArray(value)) items = value;
  else if (typeof value === 'object' && value !== null && Array.isArray((value as { data?: unknown }).data)) items = (value as { data: unknown[] }).data;
  else throw new DatasetError(`${source}: expected a JSON array of records, or an object {"data": [...]}`);
  const c = new RecordCollector('index');
  items.forEach((item, index) => c.add(recordFromObject(item, index), index));
  return result(c, 'json', source);
}

function parseCsv(text: string, source: string): ParsedDataset {
  const rows = parseCsvRows(text).filter((r) => !isBlankRow(r));
  const header = rows.shift();
  if (!header) return result(new RecordCollector('line'), 'csv', source);
  if (header.error) throw new DatasetError(`${source}: the header row (line ${header.line}) is malformed: ${header.error}`);
  const columns = header.fields.map((f) => f.trim());
  const seen = new Set<string>();
  for (const col of columns) {
    if (col !== '' && seen.has(col)) throw new DatasetError(`${source}: the header row names column "${col}" twice`);
    seen.add(col);
  }
  const c = new RecordCollector('line');
  for (const row of rows) {
    if (row.error) {
      c.problem(row.line, `malformed CSV row: ${row.error}`);
      continue;
    }
    if (row.fields.length !== columns.length) {
      c.problem(row.line, `the row has ${row.fields.length} fields, the header has ${columns.length}`);
      continue;
    }
    const obj: Record<string, unknown> = {};
    columns.forEach((col, k) => {
      if (col !== '') obj[col] = row.fields[k];
    });
    if (typeof obj.messages === 'string') {
      const deep = jsonTooDeepAt(obj.messages);
      if (deep !== null) {
        c.problem(row.line, `column "messages": ${tooDeepMessage()} (character ${deep + 1} of the field)`);
        continue;
      }
      try {
        obj.messages = JSON.parse(obj.messages);
      } catch (e) {
        c.problem(row.line, `column "messages" is not a JSON array: ${jsonErrorMessage(e)}`);
        continue;
      }
    }
    c.add(recordFromObject(obj, row.line), row.line);
  }
  return result(c, 'csv', source);
}

function parseTxt(text: string, source: string): ParsedDataset {
  const c = new RecordCollector('line');
  splitLines(text).forEach((raw, i) => {
    if (raw.trim() === '') return;
    c.add({ shape: 'text', record: { kind: 'text', text: raw, line: i + 1 } }, i + 1);
  });
  return result(c, 'txt', source);
}
