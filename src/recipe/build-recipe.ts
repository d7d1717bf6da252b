/**
 * The studio's run as a training project for GPU machines (transformers + PEFT, launched by Accelerate): train.py,
 * recipe_data.py (the studio's data pipeline in Python), recipe.json (every setting, once), the data as the studio
 * read it, requirements.txt, the accelerate configs and a README. Nothing here needs a GPU.
 */
import type { DataRecord, RecordShape } from '../data/records';
import type { WeightFormat } from '../kernels/weight-format';
import type { ModelConfig } from '../model/config';
import type { MethodId } from '../methods/method';
import { methodById, planMethod } from '../methods/registry';
import { firstProblem, problemText } from '../options/field';
import { RUN_FIELDS, type RunOptions } from '../options/run-fields';
import { TRAINING_FIELDS } from '../options/training-fields';
import { loraConfigOf } from '../methods/lora/method';
import { resolveLoraTargets } from '../peft/lora-targets';
import type { TrainingSettings } from '../trainer/trainer';
import { accelerateConfigFiles } from './accelerate-configs';
import { recordKindOf, recordsJsonl } from './data-files';
import { estimateGpuMemory } from './memory-estimate';
import { recipeJson, RECIPE_FILE, RECORDS_FILE } from './recipe-settings';
import { recipeReadme } from './recipe-readme';
import { requirementsTxt } from './requirements';
import trainPy from './python/train.py?raw';
import recipeDataPy from './python/recipe_data.py?raw';

export interface RecipeInput {
  /** The Hub repo id the recipe loads (or a local path), and its revision. */
  base: { nameOrPath: string; revision: string | null };
  model: ModelConfig;
  method: MethodId;
  /** The method's options as the studio holds them (its field set's values). */
  options: Readonly<Record<string, unknown>>;
  training: TrainingSettings;
  run: RunOptions;
  weightFormat: WeightFormat;
  /** As parseDataset returns them. */
  data: { records: DataRecord[]; shape: RecordShape; source: string };
}

export class RecipeError extends Error {
  override name = 'RecipeError';
}

/** Refuses what the recipe cannot express, naming the input's field. */
function checkInput(input: RecipeInput): void {
  if (typeof input.base.nameOrPath !== 'string' || input.base.nameOrPath.trim() === '') {
    throw new RecipeError('recipe: base.nameOrPath is empty; expected the Hub repo id (e.g. "Qwen/Qwen2.5-0.5B") or a local folder the GPU machine can read');
  }
  const training = firstProblem(TRAINING_FIELDS, input.training as unknown as Record<string, unknown>, { complete: true });
  if (training) throw new RecipeError(`recipe: training.${problemText(training)}`);
  const run = firstProblem(RUN_FIELDS, input.run, { complete: true });
  if (run) throw new RecipeError(`recipe: run.${problemText(run)}`);
  if (input.run.quant !== input.weightFormat) {
    throw new RecipeError(`recipe: weightFormat = "${input.weightFormat}" contradicts run.quant = "${input.run.quant}"; the run's W0 format is one setting`);
  }
  if (input.training.loraplusLrRatio !== 1 && input.method !== 'lora') {
    throw new RecipeError(`recipe: training.loraplusLrRatio = ${input.training.loraplusLrRatio} applies to LoRA only; this run trains ${input.method}. Use 1`);
  }
  const { records, shape } = input.data;
  if (records.length === 0) throw new RecipeError('recipe: data.records is empty; the recipe needs the records the run trains on');
  const kind = recordKindOf(shape);
  const other = records.find((r) => r.kind !== kind);
  if (other) {
    throw new RecipeError(`recipe: data.records has a ${other.kind} record (line ${other.line}) in a dataset of shape ${shape}; every record must be ${kind}`);
  }
}

/** Every file of the recipe by relative path ('/' separated), e.g. 'train.py', 'accelerate/fsdp.yaml'. */
export function buildRecipe(input: RecipeInput): Map<string, Uint8Array> {
  checkInput(input);
  const method = methodById(input.method);
  // The options against this model (types, bounds, targets), naming the field, before anything is written.
  const plan = planMethod(method, input.options, input.model, input.base);
  const recipe = recipeJson({
    base: input.base,
    model: input.model,
    method: method.id,
    peftType: method.id === 'bottleneck' ? null : method.peftType,
    adapterConfig: method.adapterConfig(input.options, input.model, input.base),
    training: input.training,
    run: input.run,
    weightFormat: input.weightFormat,
    data: { source: input.data.source, shape: input.data.shape, records: input.data.records.length },
  });
  const loraRanks = method.id === 'lora' ? resolveLoraTargets(loraConfigOf(input.options, input.model, input.base), input.model).map((t) => t.r) : [];
  const memory = estimateGpuMemory({
    model: input.model,
    weightFormat: input.weightFormat,
    trainableParams: plan.counts.trainable,
    loraRanks,
    batch: input.training.batchSize,
    maxLength: input.run.maxLength,
  });

  const text = new Map<string, string>();
  text.set(RECIPE_FILE, JSON.stringify(recipe, null, 2) + '\n');
  text.set('train.py', trainPy);
  text.set('recipe_data.py', recipeDataPy);
  text.set(RECORDS_FILE, recordsJsonl(input.data.records));
  text.set('requirements.txt', requirementsTxt(method.id));
  for (const [path, content] of accelerateConfigFiles(input.model)) text.set(path, content);
  text.set('README.md', recipeReadme({ recipe, methodLabel: method.label, memory, trainableParams: plan.counts.trainable }));

  const enc = new TextEncoder();
  return new Map([...text].map(([path, content]) => [path, enc.encode(content)]));
}
