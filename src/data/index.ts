/** Datasets: parsing files and pasted text, tokenization with label masks, batching. Browser-safe. */
export * from './records';
export { parseDataset, parsePastedText, formatOfFileName } from './parse';
export { parseCsvRows, type CsvRow } from './csv';
export * from './tokenize';
export * from './batching';
