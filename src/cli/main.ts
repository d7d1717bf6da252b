/**
 * The `peft-studio` command line: the studio's trainer core on Node, with WebGPU through Dawn.
 * Every error ends the process with a non-zero status and one line saying why.
 */
import { parseArgs } from 'node:util';
import { CliUsageError } from './errors';
import { GENERATE_OPTIONS, generateCommand } from './commands/generate';
import { SCORE_OPTIONS, scoreCommand } from './commands/score';
import { TRAIN_OPTIONS, trainCommand } from './commands/train';

const COMMANDS = {
  train: { options: TRAIN_OPTIONS, run: trainCommand },
  generate: { options: GENERATE_OPTIONS, run: generateCommand },
  score: { options: SCORE_OPTIONS, run: scoreCommand },
} as const;

export const USAGE = `usage: peft-studio <command> [options]

  train            --model DIR|REPO --data FILE --out DIR [--r 8 --alpha 16 --dropout 0 --target LIST|REGEX|all-linear --bias none|lora_only
                   --lr 2e-4 --schedule constant|linear|cosine --warmup 0 --steps N | --epochs 1 --batch 4 --grad-accum 1
                   --seq 256 --quant f32|q8|q4|nf4 --seed 42 --val-split 0 --eval-every N --save-every 50 --resume
                   --skip-bad-records --rslora --max-grad-norm 1 --weight-decay 0 --adapter DIR|REPO --quiet]
  generate         --model M [--adapter DIR] --prompt TEXT [--max-new-tokens N --temperature T --top-k K --top-p P
                   --repetition-penalty R --seed 0 --quant f32 --json]
  score            --model M [--adapter DIR] (--text TEXT | --data FILE) [--json]

A model is "default" (the embedded Austen 2M model), a folder with config.json, or a Hugging Face Hub repo id
("owner/name" or "owner/name@revision"; set HF_TOKEN for gated models). --data takes a file (.jsonl, .json,
.csv, .txt) or a sample dataset: pirate, invitations, butler. generate samples with the model's
generation_config.json unless told otherwise.`;

export async function main(argv: string[]): Promise<number> {
  const args = argv[0] === '--' ? argv.slice(1) : argv;
  const [name, ...rest] = args;
  if (!name || name === '--help' || name === '-h' || name === 'help') {
    process.stdout.write(`${USAGE}\n`);
    return name ? 0 : 2;
  }
  const command = COMMANDS[name as keyof typeof COMMANDS];
  try {
    if (!command) throw new CliUsageError(`unknown command "${name}"; commands: ${Object.keys(COMMANDS).join(', ')}`);
    let values: Record<string, string | boolean | undefined>;
    try {
      values = parseArgs({ args: rest, options: command.options, strict: true, allowPositionals: false }).values as Record<string, string | boolean | undefined>;
    } catch (e) {
      throw new CliUsageError((e as Error).message.split('\n')[0]);
    }
    await command.run(values);
    return 0;
  } catch (e) {
    const err = e as Error;
    // One line: a multi-line message (a dataset's list of bad records) is joined with "; ".
    const line = `${err.message ?? String(e)}`.split('\n').map((l) => l.trim()).filter(Boolean).join('; ');
    process.stderr.write(`peft-studio: ${line}${err instanceof CliUsageError ? ' (see peft-studio --help)' : ''}\n`);
    return 1;
  }
}

const code = await main(process.argv.slice(2));
// Dawn can keep the process alive; exit explicitly.
process.exit(code);
