/** The commands of `peft-studio`, their flags, and the usage text made from them. */
import { usageLines, type CliFlags, type Values } from './flags';
import { COMPARE_METHODS_FLAGS, compareMethodsCommand } from './commands/compare-methods';
import { EXPORT_FLAGS, exportCommand } from './commands/export';
import { GENERATE_FLAGS, generateCommand } from './commands/generate';
import { PLAN_FLAGS, planCommand } from './commands/plan';
import { PUSH_FLAGS, pushCommand } from './commands/push';
import { RECIPE_FLAGS, recipeCommand } from './commands/recipe';
import { SCORE_FLAGS, scoreCommand } from './commands/score';
import { TRAIN_FLAGS, trainCommand } from './commands/train';

export const COMMANDS: Readonly<Record<string, { flags: CliFlags; run: (values: Values) => Promise<void> }>> = {
  train: { flags: TRAIN_FLAGS, run: trainCommand },
  'compare-methods': { flags: COMPARE_METHODS_FLAGS, run: compareMethodsCommand },
  generate: { flags: GENERATE_FLAGS, run: generateCommand },
  score: { flags: SCORE_FLAGS, run: scoreCommand },
  export: { flags: EXPORT_FLAGS, run: exportCommand },
  push: { flags: PUSH_FLAGS, run: pushCommand },
  recipe: { flags: RECIPE_FLAGS, run: recipeCommand },
  plan: { flags: PLAN_FLAGS, run: planCommand },
};

const COMMAND_COLUMN = 19;

export const USAGE = `usage: peft-studio <command> [options]      (peft-studio <command> --help: every option, its default and what it does)

${Object.entries(COMMANDS)
  .flatMap(([name, c]) => usageLines(name, c.flags, COMMAND_COLUMN))
  .join('\n')}

A model is "default" (the embedded Austen 2M model), a folder with config.json, or a Hugging Face Hub repo id
("owner/name" or "owner/name@revision"; set HF_TOKEN for gated models). --data takes a file (.jsonl, .json,
.csv, .txt) or a sample dataset: pirate, invitations, butler. generate samples with the model's
generation_config.json unless told otherwise.`;
