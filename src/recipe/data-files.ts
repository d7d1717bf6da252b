/**
 * The dataset as the studio read it, one JSON object a line, normalized to the three shapes train.py reads:
 * {"text"}, {"prompt", "completion"} (Alpaca records arrive here already as these, with the studio's prompt
 * template applied by the parser) and {"messages": [{"role", "content"}]}. The records keep the file's order, so
 * the seeded validation split picks the same ones.
 */
import type { DataRecord, RecordShape } from '../data/records';

/** The normalized object of a record (no line numbers: train.py counts records from 1). */
export function normalizedRecord(r: DataRecord): Record<string, unknown> {
  switch (r.kind) {
    case 'text':
      return { text: r.text };
    case 'prompt-completion':
      return { prompt: r.prompt, completion: r.completion };
    case 'messages':
      return { messages: r.messages.map((m) => ({ role: m.role, content: m.content })) };
  }
}

/** The record kind each source shape is read as (Alpaca is read as prompt-completion). */
export function recordKindOf(shape: RecordShape): DataRecord['kind'] {
  return shape === 'alpaca' ? 'prompt-completion' : shape;
}

export function recordsJsonl(records: readonly DataRecord[]): string {
  return records.map((r) => JSON.stringify(normalizedRecord(r)) + '\n').join('');
}
