/**
 * peft-studio recipe (--run DIR | --model M --data FILE [method and settings]) --out DIR [--force]
 * Writes a training recipe for GPU machines (src/recipe/build-recipe.ts): train.py with transformers, PEFT and
 * accelerate, the data, requirements.txt, accelerate configs and a README, set up as the run here was (the same
 * method and options, settings, masks and data). The run comes from the flags `train` takes, or from a folder that
 * `train --out DIR` wrote: its run.json (model, data, settings) and its adapter's files (the method and options).
 */
import { join, resolve } from 'node:path';
import type { MethodId } from '../../methods/method';
import { assertNoProblems, DatasetError, parseDataset } from '../../data/index';
import type { ModelConfig } from '../../model/config';
import { ACCELERATE_CONFIG_FILES } from '../../recipe/accelerate-configs';
import { buildRecipe, type RecipeInput } from '../../recipe/build-recipe';
import { RECIPE_FILE } from '../../recipe/recipe-settings';
import type { RunOptions } from '../../options/run-fields';
import type { TrainingSettings } from '../../trainer/trainer';
import { CliUsageError } from '../errors';
import { str, type CliFlags, type Values } from '../flags';
import { METHOD_FLAG, methodOptionFlags, readMethodFlags } from '../method-flags';
import { emptyOrNew, writeFolder } from '../out-folder';
import { loadProgress } from '../progress';
import { readRunFile, RUN_FILE } from '../run-file';
import { DATA_FLAG, MODEL_FLAG, readDataText, readRunFlags, SETTINGS_FLAGS } from '../run-flags';
import { loadAdapter, openSession, readModelConfig, recipeBaseModel } from '../session';

/** The flags that describe the run; with --run, run.json and the adapter say all of it instead. */
const RUN_SPEC_FLAGS: CliFlags = {
  model: { ...MODEL_FLAG, required: false, help: `${MODEL_FLAG.help} Without --run.` },
  data: { ...DATA_FLAG, required: false, help: `${DATA_FLAG.help} Without --run.` },
  method: METHOD_FLAG,
  ...methodOptionFlags(),
  ...SETTINGS_FLAGS,
};

export const RECIPE_FLAGS: CliFlags = {
  run: {
    type: 'string',
    value: 'DIR',
    help: `A folder written by \`train --out DIR\`: the recipe trains what it trained (the model, data and settings from its ${RUN_FILE}, the method and options from its adapter). Instead of --model, --data and the method and settings flags.`,
  },
  out: { type: 'string', value: 'DIR', required: true, help: 'A new or empty folder for train.py, the data, requirements.txt, the accelerate configs and README.md.' },
  force: { type: 'boolean', help: 'Writes into --out even when it is not empty (files of the same name are replaced).' },
  ...RUN_SPEC_FLAGS,
};

/** What a recipe is made of, besides the base model's name. */
interface RecipeRun {
  modelArg: string;
  dataPath: string;
  /** How the dataset is named in errors: the flag, or run.json's field. */
  dataWhere: string;
  method: MethodId;
  options: Readonly<Record<string, unknown>>;
  model: ModelConfig;
  settings: TrainingSettings;
  run: RunOptions;
}

/** The run the flags describe: the model's config.json is read, not its weights. */
async function runOfFlags(values: Values): Promise<RecipeRun> {
  const { modelArg, dataPath, settings, run } = readRunFlags(values);
  const { method, options } = readMethodFlags(values);
  // The options are checked against the model (naming the field) when the recipe builds the adapter's config.
  return { modelArg, dataPath, dataWhere: '--data', method: method.id, options, model: await readModelConfig(modelArg), settings, run };
}

/**
 * The run a `train --out DIR` folder holds: run.json's model, data and settings, and the method and options its
 * adapter's files rebuild, read as `train --adapter` reads them (which puts the model on the GPU: PEFT's config
 * becomes the studio's options only through the method's runtime).
 */
async function runOfFolder(dir: string, values: Values): Promise<RecipeRun> {
  const given = Object.keys(RUN_SPEC_FLAGS).filter((flag) => values[flag] !== undefined && values[flag] !== false);
  if (given.length > 0) {
    throw new CliUsageError(`--${given[0]} cannot be combined with --run: the run's ${RUN_FILE} and adapter say what it trained; to change it, give the run as flags instead of --run`);
  }
  const file = await readRunFile(dir);
  const load = loadProgress();
  const session = await openSession(file.model, file.run.quant, { onProgress: load.onProgress }).finally(() => load.done());
  try {
    const adapter = await loadAdapter(session, dir);
    const { method, options } = adapter;
    adapter.destroy();
    return {
      modelArg: file.model,
      dataPath: file.data,
      dataWhere: `${resolve(dir, RUN_FILE)}: data`,
      method,
      options,
      model: session.loaded.config,
      settings: file.training,
      run: file.run,
    };
  } finally {
    session.close();
  }
}

/** The dataset's records as `train` parses them (bad records refused, or left out with skipBadRecords). */
async function recipeData(run: RecipeRun): Promise<RecipeInput['data']> {
  const parsed = parseDataset(await readDataText(run.dataPath, run.dataWhere), run.dataPath);
  assertNoProblems(parsed, { allowSkip: run.run.skipBadRecords });
  // assertNoProblems refuses a dataset without records, and the first record sets the shape.
  if (parsed.shape === null) throw new DatasetError(`${parsed.source}: no usable records`);
  return { records: parsed.records, shape: parsed.shape, source: parsed.source };
}

/** "train.py, README.md" for the top level, "accelerate/: ddp.yaml, fsdp.yaml" for each folder: one line per group. */
function fileGroups(paths: readonly string[]): string[] {
  const groups = new Map<string, string[]>();
  for (const p of paths) {
    const slash = p.indexOf('/');
    const [group, name] = slash < 0 ? ['', p] : [p.slice(0, slash + 1), p.slice(slash + 1)];
    groups.set(group, [...(groups.get(group) ?? []), name]);
  }
  return [...groups].map(([group, names]) => `${group === '' ? '' : `${group}: `}${names.join(', ')}`);
}

export async function recipeCommand(values: Values): Promise<void> {
  const out = str(values, 'out', true);
  const runDir = str(values, 'run');
  await emptyOrNew(out, { force: values.force === true });
  const run = runDir === undefined ? await runOfFlags(values) : await runOfFolder(runDir, values);
  const { base, kind } = recipeBaseModel(run.modelArg);
  const files = buildRecipe({
    base,
    model: run.model,
    method: run.method,
    options: run.options,
    training: run.settings,
    run: run.run,
    weightFormat: run.run.quant,
    data: await recipeData(run),
  });
  await writeFolder(out, files);

  const say = (line: string) => process.stderr.write(`${line}\n`);
  say(`recipe written to ${out}:`);
  for (const line of fileGroups([...files.keys()])) say(`  ${line}`);
  if (kind === 'hub') {
    say(`base model: ${base.nameOrPath}${base.revision ? `@${base.revision}` : ''} from the Hugging Face Hub`);
  } else {
    say(
      `base model: ${base.nameOrPath} is a folder on this machine${kind === 'embedded' ? ' (the embedded model is not on the Hub)' : ''}: ` +
        `copy it to the GPU machine or upload it to the Hub, and set base.name_or_path in ${join(out, RECIPE_FILE)} to it (see README.md there)`,
    );
  }
  say(`start: cd ${out} && pip install -r requirements.txt && accelerate launch --config_file ${ACCELERATE_CONFIG_FILES.singleGpu} train.py`);
}
