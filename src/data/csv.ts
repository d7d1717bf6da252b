/**
 * A small RFC 4180 CSV reader that keeps the line each row starts on: fields separated by commas, optionally
 * quoted with double quotes, `""` for a quote inside a quoted field, commas and line breaks (LF, CRLF or CR)
 * allowed inside quoted fields. A quote inside an unquoted field is kept as a character (as most spreadsheets
 * write it); text after a closing quote, or a quote left open at the end of the file, is a problem for that row.
 */

export interface CsvRow {
  /** 1-based line the row starts on. */
  line: number;
  fields: string[];
  /** Set when the row is malformed; `fields` is then what could be read. */
  error?: string;
}

export function parseCsvRows(text: string, delimiter = ','): CsvRow[] {
  const rows: CsvRow[] = [];
  let line = 1;
  let i = 0;
  const n = text.length;
  while (i < n) {
    const row: CsvRow = { line, fields: [] };
    let field = '';
    let endOfRow = false;
    while (!endOfRow) {
      // One field.
      if (text[i] === '"') {
        const openLine = line;
        i++;
        let closed = false;
        while (i < n) {
          const c = text[i];
          if (c === '"') {
            if (text[i + 1] === '"') {
              field += '"';
              i += 2;
              continue;
            }
            i++;
            closed = true;
            break;
          }
          if (c === '\r' || c === '\n') {
            line++;
            if (c === '\r' && text[i + 1] === '\n') {
              field += '\r\n';
              i += 2;
              continue;
            }
          }
          field += c;
          i++;
        }
        if (!closed) {
          row.error ??= `a quoted field opened on line ${openLine} is never closed`;
        } else if (i < n && text[i] !== delimiter && text[i] !== '\n' && text[i] !== '\r') {
          row.error ??= `unexpected text after the closing quote of a field (put the whole field in quotes and write "" for a quote)`;
          while (i < n && text[i] !== delimiter && text[i] !== '\n' && text[i] !== '\r') field += text[i++];
        }
      } else {
        while (i < n && text[i] !== delimiter && text[i] !== '\n' && text[i] !== '\r') field += text[i++];
      }
      row.fields.push(field);
      field = '';
      if (i >= n) {
        endOfRow = true;
      } else if (text[i] === delimiter) {
        i++;
        if (i >= n) {
          row.fields.push('');
          endOfRow = true;
        }
      } else {
        // Line break ends the row.
        i += text[i] === '\r' && text[i + 1] === '\n' ? 2 : 1;
        line++;
        endOfRow = true;
      }
    }
    rows.push(row);
  }
  return rows;
}

/** True for a row that is an empty line (one empty, unquoted field). */
export function isBlankRow(row: CsvRow): boolean {
  return row.fields.length === 1 && row.fields[0].trim() === '' && !row.error;
}
