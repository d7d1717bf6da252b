/** The embedded default model and sample datasets, read from the checkout's public/ folder under Node. */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { join, resolve } from 'node:path';
import { DEFAULT_MODEL, SAMPLE_DATASETS, sampleDataset } from '../model-io/embedded';

export const PUBLIC_DIR = resolve(fileURLToPath(new URL('.', import.meta.url)), '../../public');

/** The folder of an embedded model named on the command line ("default" or its id), or null. */
export function embeddedModelFolder(arg: string): string | null {
  return arg === 'default' || arg === DEFAULT_MODEL.id ? join(PUBLIC_DIR, DEFAULT_MODEL.folder) : null;
}

/** The file of a sample dataset named on the command line, or null. */
export function sampleDatasetFile(arg: string): string | null {
  const d = sampleDataset(arg);
  return d ? join(PUBLIC_DIR, d.file) : null;
}

/** A --data argument: a file path, or else the name of a sample dataset. */
export function resolveDataArg(arg: string): string {
  if (existsSync(arg)) return arg;
  return sampleDatasetFile(arg) ?? arg;
}

/** The end of a "no such file" message for --data. */
export const SAMPLE_DATASET_HINT = `no such file, and not a sample dataset (${SAMPLE_DATASETS.map((d) => d.name).join(', ')})`;
