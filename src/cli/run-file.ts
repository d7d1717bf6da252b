/**
 * OUT/run.json, which `peft-studio train` writes next to the adapter: what the run was beyond what adapter_config.json
 * says (the method and its options are there), so that `peft-studio recipe --run OUT` can write the same run as a
 * recipe for a GPU machine: the model as --model named it, the dataset's file, and every training setting and run
 * option the run used, defaults filled in.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { isAbsolute, join, resolve } from 'node:path';
import { firstProblem, problemText } from '../options/field';
import { RUN_FIELDS, type RunOptions } from '../options/run-fields';
import { TRAINING_FIELDS } from '../options/training-fields';
import type { TrainingSettings } from '../trainer/trainer';
import { CliUsageError } from './errors';
import { parseModelArg } from './session';

export const RUN_FILE = 'run.json';
const RUN_FILE_FORMAT = 'peft-studio-run';
const RUN_FILE_VERSION = 1;

export interface RunFile {
  format: typeof RUN_FILE_FORMAT;
  version: typeof RUN_FILE_VERSION;
  /**
   * The base model as --model named it: "default" (the embedded model), a folder (made absolute, so that the file
   * still means the same from another working directory), or a Hub repo id "owner/name" or "owner/name@revision".
   */
  model: string;
  /** The dataset's file, absolute (a sample dataset's file in the checkout). */
  data: string;
  training: TrainingSettings;
  /** maxLength, valSplit, quant (W0's weight format) and skipBadRecords. */
  run: RunOptions;
}

/** The --model argument as run.json keeps it: a folder made absolute, anything else as given. */
function modelForRunFile(modelArg: string): string {
  return parseModelArg(modelArg).kind === 'folder' ? resolve(modelArg) : modelArg;
}

export async function writeRunFile(out: string, run: { modelArg: string; dataPath: string; settings: TrainingSettings; run: RunOptions }): Promise<void> {
  const file: RunFile = {
    format: RUN_FILE_FORMAT,
    version: RUN_FILE_VERSION,
    model: modelForRunFile(run.modelArg),
    data: resolve(run.dataPath),
    training: run.settings,
    run: run.run,
  };
  await writeFile(join(out, RUN_FILE), `${JSON.stringify(file, null, 2)}\n`);
}

/**
 * DIR/run.json, checked: every setting against its field, so that a hand-edited file fails here naming the key
 * rather than in the recipe. A missing file says what to do instead.
 */
export async function readRunFile(dir: string): Promise<RunFile> {
  const path = join(dir, RUN_FILE);
  const text = await readFile(path, 'utf8').catch((e: NodeJS.ErrnoException) => {
    if (e.code !== 'ENOENT') throw new CliUsageError(`--run ${dir}: ${path}: ${e.message}`);
    throw new CliUsageError(
      `--run ${dir}: ${path} not found; --run takes a folder written by \`peft-studio train --out DIR\` (runs from before train wrote ${RUN_FILE} have none): ` +
        'give the run as flags instead (recipe --model M --data FILE [the method and settings] --out DIR)',
    );
  });
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new CliUsageError(`--run ${dir}: ${path} is not valid JSON (${(e as Error).message})`);
  }
  const f = json as Partial<RunFile> | null;
  const bad = (what: string) => new CliUsageError(`--run ${dir}: ${path}: ${what}`);
  if (typeof f !== 'object' || f === null || f.format !== RUN_FILE_FORMAT) throw bad(`expected "format": "${RUN_FILE_FORMAT}"`);
  if (f.version !== RUN_FILE_VERSION) throw bad(`version ${JSON.stringify(f.version)}; this build reads version ${RUN_FILE_VERSION}`);
  if (typeof f.model !== 'string' || f.model === '') throw bad('"model" must name the base model');
  if (typeof f.data !== 'string' || !isAbsolute(f.data)) throw bad('"data" must be the dataset file\'s absolute path');
  for (const [key, fields] of [['training', TRAINING_FIELDS], ['run', RUN_FIELDS]] as const) {
    const values = f[key];
    if (typeof values !== 'object' || values === null) throw bad(`"${key}" must be an object`);
    const problem = firstProblem(fields, values as unknown as Record<string, unknown>, { complete: true });
    if (problem) throw bad(`${key}.${problemText(problem)}`);
  }
  return f as RunFile;
}
