/**
 * What the Export panel's "Train at scale" recipe (src/recipe/build-recipe.ts) is made of, gathered from the stores:
 * the loaded model (its config, and its Hub repo id and revision), the method and options of the current adapter (or
 * the Method step's when there is none), the training settings and run options of the run that trained the adapter
 * (or the Method and Data steps' when the adapter was not trained in a kept run), the weight format, and the Data
 * step's dataset, parsed on the page as the worker parses it for a run.
 */
import { assertNoProblems, DatasetError, parseDataset, parsePastedText } from '../../data/index';
import type { RunOptions } from '../../options/run-fields';
import type { RecipeInput } from '../../recipe/build-recipe';
import { DEFAULT_TRAINING, type TrainingSettings } from '../../trainer/trainer';
import type { AdapterInfo, TrainDataSpec, TrainMethodSpec } from '../../worker/protocol';
import { tr } from '../i18n';
import type { RunRecord } from '../runs/run-record';
import { useAdapter } from './adapter';
import { useData } from './data';
import { methodFields, methodSpec, trainingSettings, useMethod } from './method';
import { useModel, type ModelStatus } from './model';
import { useRuns } from './runs';
import { useTraining, type RunState } from './training';

/**
 * The kept run whose adapter is the current one: the run opened from the Runs list, or the run that just trained it
 * (the Training panel's last run, once done); null for an imported adapter or none.
 */
export function adapterRunRecord(
  adapter: AdapterInfo | null,
  runs: { opened: string | null; records: readonly RunRecord[] },
  training: { state: RunState; recordId: string | null },
): RunRecord | null {
  const id = runs.opened ?? (adapter?.origin === 'trained' && training.state === 'done' ? training.recordId : null);
  return runs.records.find((r) => r.id === id) ?? null;
}

/** Why the recipe cannot be built now (no model, no dataset), in the UI's language; null when it can. */
export function recipeBlocker(model: ModelStatus, data: TrainDataSpec | null): string | null {
  if (model.state !== 'ready') return tr('export').recipeNeedsModel;
  if (data === null) return tr('export').recipeNeedsData;
  return null;
}

/** The dataset's records as a run reads them: bad records refused, or left out with skipBadRecords. */
function recipeData(spec: TrainDataSpec, skipBadRecords: boolean): RecipeInput['data'] {
  const parsed = spec.fileName === undefined ? parsePastedText(spec.text) : parseDataset(spec.text, spec.fileName);
  assertNoProblems(parsed, { allowSkip: skipBadRecords });
  // assertNoProblems refuses a dataset without records, and the first record sets the shape.
  if (parsed.shape === null) throw new DatasetError(`${parsed.source}: no usable records`);
  return { records: parsed.records, shape: parsed.shape, source: parsed.source };
}

/**
 * The recipe's input from the stores now. A model that is not from the Hub (the embedded model, picked files) is
 * named as the studio names it; the panel says to upload it. Throws with the blocker's text when there is no model
 * or dataset, and a DatasetError for bad records.
 */
export function studioRecipeInput(): RecipeInput {
  const model = useModel.getState().status;
  const data = useData.getState();
  const blocker = recipeBlocker(model, data.spec);
  if (blocker !== null || model.state !== 'ready' || data.spec === null) throw new Error(blocker ?? '');
  const adapter = useAdapter.getState().adapter;
  const methodState = useMethod.getState();
  const record = adapterRunRecord(adapter, useRuns.getState(), useTraining.getState());
  const method: TrainMethodSpec = adapter ? { id: adapter.method, options: adapter.options } : methodSpec(methodState);
  const fields = methodFields(methodState);
  const training: TrainingSettings = { ...DEFAULT_TRAINING, ...(record ? record.settings : trainingSettings(fields)) };
  const run: RunOptions = record
    ? { maxLength: record.maxLength, valSplit: record.valSplit, quant: record.model.format, skipBadRecords: record.skipBadRecords }
    : { maxLength: data.maxLength, valSplit: fields.valSplit, quant: model.info.format, skipBadRecords: data.skipBadRecords };
  const { spec, info } = model;
  return {
    base: spec.kind === 'hub' ? { nameOrPath: spec.repo, revision: spec.revision ?? null } : { nameOrPath: info.nameOrPath, revision: null },
    model: info.config,
    method: method.id,
    options: method.options,
    training,
    run,
    weightFormat: run.quant,
    data: recipeData(data.spec, run.skipBadRecords),
  };
}
