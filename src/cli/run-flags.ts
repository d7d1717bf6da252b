/**
 * The flags that say what a training run is: the base model, the dataset, the training settings and the run options
 * (the option schema's fields). `train`, `compare-methods` and `recipe` take them alike; the method and its options
 * are in method-flags.ts.
 */
import { readFile } from 'node:fs/promises';
import { RUN_DEFAULTS, RUN_FIELDS, type RunOptions } from '../options/run-fields';
import { TRAINING_FIELDS } from '../options/training-fields';
import { DEFAULT_TRAINING, type TrainingSettings } from '../trainer/trainer';
import { CliUsageError } from './errors';
import { resolveDataArg, SAMPLE_DATASET_HINT } from './embedded-assets';
import { readFlags, schemaFlags, str, type CliFlag, type CliFlags, type Values } from './flags';

export const MODEL_FLAG: CliFlag = {
  type: 'string',
  value: 'default|DIR|REPO',
  required: true,
  help: 'The base model: "default" (the embedded model), a folder with config.json, or a Hub repo id ("owner/name" or "owner/name@revision").',
};

export const DATA_FLAG: CliFlag = {
  type: 'string',
  value: 'FILE|SAMPLE',
  required: true,
  help: 'The dataset: a .jsonl, .json, .csv or .txt file, or a sample dataset (pirate, invitations, butler).',
};

/** The training settings and the run options, one flag per schema field. */
export const SETTINGS_FLAGS: CliFlags = { ...schemaFlags(TRAINING_FIELDS), ...schemaFlags(RUN_FIELDS) };

export interface RunFlags {
  modelArg: string;
  /** The dataset's file: the path given, or a sample dataset's file. */
  dataPath: string;
  /** Every setting: the flags given over the defaults. */
  settings: TrainingSettings;
  run: RunOptions;
}

/** --model, --data and the settings' flags; a bad value throws naming the flag. */
export function readRunFlags(values: Values): RunFlags {
  return {
    modelArg: str(values, 'model', true),
    dataPath: resolveDataArg(str(values, 'data', true)),
    settings: { ...DEFAULT_TRAINING, ...readFlags(TRAINING_FIELDS, values) },
    run: { ...RUN_DEFAULTS, ...readFlags(RUN_FIELDS, values) },
  };
}

/** The dataset's text; a missing file is an error naming it (and the sample datasets), prefixed by `where`. */
export async function readDataText(dataPath: string, where = '--data'): Promise<string> {
  return readFile(dataPath, 'utf8').catch((e: NodeJS.ErrnoException) => {
    throw new CliUsageError(`${where} ${dataPath}: ${e.code === 'ENOENT' ? SAMPLE_DATASET_HINT : e.message}`);
  });
}
