/**
 * peft-studio compare-methods --model M --data D --methods lora,ia3,prompt-tuning --out DIR [options]
 * Trains each method in turn on the same model (loaded once), data, settings, seed and data order, through the
 * training pipeline the studio uses (src/trainer/training-run.ts); prints the comparison table
 * (src/trainer/method-comparison.ts), writes it as OUT/comparison.json and keeps each adapter in OUT/<method>/.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { adapterLine } from '../../gpu/device';
import type { MethodId, PeftMethod } from '../../methods/method';
import { availableMethods, methodById } from '../../methods/registry';
import { comparisonRow, comparisonTable, RunMeter, type MethodComparisonRow } from '../../trainer/method-comparison';
import { runTraining } from '../../trainer/training-run';
import { CliUsageError } from '../errors';
import { KERNELS_FLAG, kernelsFlag, readFlags, str, type CliFlags, type Values } from '../flags';
import { loadProgress } from '../progress';
import { methodOptionFlags } from '../method-flags';
import { readDataText, readRunFlags, SETTINGS_FLAGS } from '../run-flags';
import { kernelsLine, openSession, trainingBase, type Session } from '../session';

/** Virtual tokens of a prompt-learning method when --virtual-tokens is not given (PEFT has no default). */
export const COMPARE_VIRTUAL_TOKENS = 10;

export const COMPARE_METHODS_FLAGS: CliFlags = {
  model: { type: 'string', value: 'default|DIR|REPO', required: true, help: 'The base model, as for train.' },
  data: { type: 'string', value: 'FILE|SAMPLE', required: true, help: 'The dataset, as for train.' },
  methods: {
    type: 'string',
    value: 'M,M,…',
    required: true,
    help: `The methods to train, in order, comma-separated: ${availableMethods().map((m) => m.id).join(', ')}.`,
  },
  out: { type: 'string', value: 'DIR', required: true, help: 'Where comparison.json and one folder per method (its adapter) are written.' },
  ...methodOptionFlags(),
  ...SETTINGS_FLAGS,
  kernels: KERNELS_FLAG,
  quiet: { type: 'boolean', help: 'Prints nothing but the table and errors.' },
};

/** The methods --methods names, each once, in order. */
export function parseMethodList(text: string): PeftMethod[] {
  const ids = text.split(',').map((s) => s.trim()).filter(Boolean);
  if (ids.length === 0) throw new CliUsageError('--methods: name at least one method');
  const out: PeftMethod[] = [];
  for (const id of ids) {
    let m: PeftMethod;
    try {
      m = methodById(id);
    } catch (e) {
      throw new CliUsageError(`--methods ${text}: ${(e as Error).message}`);
    }
    if (out.some((x) => x.id === m.id)) throw new CliUsageError(`--methods ${text}: ${id} is named twice`);
    out.push(m);
  }
  return out;
}

/** A method's options from the flags of its own fields (a prompt-learning method gets 10 virtual tokens unless told). */
function methodOptions(m: PeftMethod, values: Values): Record<string, unknown> {
  const options: Record<string, unknown> = readFlags(m.fields, values);
  if ('num_virtual_tokens' in m.fields && options.num_virtual_tokens === undefined) options.num_virtual_tokens = COMPARE_VIRTUAL_TOKENS;
  return options;
}

export async function compareMethodsCommand(values: Values): Promise<void> {
  const { modelArg, dataPath, settings, run } = readRunFlags(values);
  const methods = parseMethodList(str(values, 'methods', true));
  const out = str(values, 'out', true);
  const kernels = kernelsFlag(values);
  const quiet = values.quiet === true;
  const say = (line: string) => {
    if (!quiet) process.stderr.write(`${line}\n`);
  };
  const text = await readDataText(dataPath);
  const optionsOf = new Map<MethodId, Record<string, unknown>>(methods.map((m) => [m.id, methodOptions(m, values)]));

  let session: Session | null = null;
  const rows: MethodComparisonRow[] = [];
  try {
    for (const m of methods) {
      say(`— ${m.label} (${m.id})`);
      const meter = new RunMeter();
      const result = await runTraining({
        data: { text, fileName: dataPath },
        loadBase: async () => {
          if (!session) {
            const load = loadProgress();
            session = await openSession(modelArg, run.quant, { kernels, onProgress: load.onProgress });
            load.done();
            say(`GPU: ${adapterLine(session.gpu.report)}; ${kernelsLine(session.gpu)}`);
          }
          return trainingBase(session);
        },
        adapter: { method: m.id, options: optionsOf.get(m.id)! },
        settings,
        options: run,
        checkpoints: null,
        resume: false,
        checkpointAtEnd: false,
        log: (_phase, line) => say(`  ${line}`),
        onEvent: (e) => meter.onEvent(e),
      });
      try {
        const row = comparisonRow(result, meter, (session as Session | null)?.model.memory.total ?? 0);
        rows.push(row);
        const dir = join(out, m.id);
        await mkdir(dir, { recursive: true });
        for (const [name, bytes] of result.files) await writeFile(join(dir, name), bytes);
        say(`  ${m.id}: final loss ${row.finalLoss?.toFixed(4) ?? '—'}; adapter in ${dir}`);
      } finally {
        result.adapter.destroy();
      }
    }
  } finally {
    (session as Session | null)?.close();
  }
  const table = comparisonTable(rows);
  await mkdir(out, { recursive: true });
  await writeFile(
    join(out, 'comparison.json'),
    `${JSON.stringify({ model: modelArg, data: dataPath, settings, run, methods: Object.fromEntries(optionsOf), rows }, null, 2)}\n`,
  );
  process.stdout.write(`${table}\n`);
  say(`comparison written to ${join(out, 'comparison.json')}`);
}
