/** The Data panel's view of a dataset: parsed and tokenized as training would, with a token-level preview. */
import { parseDataset, parsePastedText, tokenizeRecords } from '../data/index';
import { IGNORE_INDEX } from '../data/tokenize';
import type { TextTokenizer } from '../model-io/tokenizer';
import type { DataPreviewRequest, DataPreviewResponse, PreviewPiece } from './protocol';

/** Consecutive tokens with the same trained flag, decoded together (so multi-byte characters stay whole). */
export function previewPieces(tokenizer: TextTokenizer, inputIds: number[], labels: number[]): PreviewPiece[] {
  const pieces: PreviewPiece[] = [];
  let start = 0;
  // labels[t] is the target at position t (the shift happens in the loss), so token t is trained when labels[t] is set.
  const trained = (t: number) => labels[t] !== IGNORE_INDEX;
  for (let t = 1; t <= inputIds.length; t++) {
    if (t === inputIds.length || trained(t) !== trained(start)) {
      pieces.push({ text: tokenizer.decode(inputIds.slice(start, t)), trained: trained(start) });
      start = t;
    }
  }
  return pieces;
}

export function previewDataset(request: DataPreviewRequest, tokenizer: TextTokenizer): DataPreviewResponse {
  const parsed = request.data.fileName === undefined ? parsePastedText(request.data.text) : parseDataset(request.data.text, request.data.fileName);
  const tokenized = tokenizeRecords(parsed.records, tokenizer, { maxLength: request.maxLength });
  let trainedTokens = 0;
  for (const e of tokenized.examples) for (let t = 1; t < e.labels.length; t++) if (e.labels[t] !== IGNORE_INDEX) trainedTokens++;
  return {
    id: request.id,
    kind: 'data-preview-result',
    source: parsed.source,
    format: parsed.format,
    shape: parsed.shape,
    records: parsed.records.length,
    examples: tokenized.examples.length,
    lengths: tokenized.examples.map((e) => e.inputIds.length),
    trainedTokens,
    truncated: tokenized.truncated,
    problems: [...parsed.problems, ...tokenized.problems].sort((a, b) => a.line - b.line),
    lineUnit: parsed.lineUnit,
    preview: tokenized.examples.slice(0, request.previewCount).map((e) => ({ line: e.line, pieces: previewPieces(tokenizer, e.inputIds, e.labels) })),
  };
}
