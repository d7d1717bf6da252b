/**
 * peft-studio train --model DIR|REPO --data FILE --out DIR [--method M] [options]
 * Trains an adapter of a PEFT method (src/trainer/training-run.ts, as the studio does) and writes it in PEFT's
 * format, with train_log.jsonl (one line per step), run.json (the model, data and settings, for `recipe --run`) and a
 * checkpoint in OUT/checkpoint that --resume continues from.
 */
import { appendFile, mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type cliProgress from 'cli-progress';
import { adapterLine } from '../../gpu/device';
import { NodeCheckpointStore } from '../../trainer/checkpoint-store-node';
import { runTraining } from '../../trainer/training-run';
import { KERNELS_FLAG, kernelsFlag, str, type CliFlags, type Values } from '../flags';
import { loadProgress, makeBar } from '../progress';
import { METHOD_FLAG, methodOptionFlags, readMethodFlags } from '../method-flags';
import { RUN_FILE, writeRunFile } from '../run-file';
import { DATA_FLAG, MODEL_FLAG, readDataText, readRunFlags, SETTINGS_FLAGS } from '../run-flags';
import { kernelsLine, loadAdapter, openSession, trainingBase, type Session } from '../session';

export const TRAIN_FLAGS: CliFlags = {
  model: MODEL_FLAG,
  data: DATA_FLAG,
  out: { type: 'string', value: 'DIR', required: true, help: `Where the adapter, train_log.jsonl, ${RUN_FILE} (what recipe --run reads) and checkpoint/ are written.` },
  method: METHOD_FLAG,
  ...methodOptionFlags(),
  ...SETTINGS_FLAGS,
  adapter: { type: 'string', value: 'DIR|REPO', help: "Continues training this PEFT adapter (of any method); its adapter_config.json replaces the method's options." },
  resume: { type: 'boolean', help: 'Continues from the checkpoint in OUT/checkpoint (without it, a run starts afresh and replaces it).' },
  kernels: KERNELS_FLAG,
  quiet: { type: 'boolean', help: 'Prints nothing but errors.' },
};

export async function trainCommand(values: Values): Promise<void> {
  const runFlags = readRunFlags(values);
  const { modelArg, dataPath, settings, run } = runFlags;
  const out = str(values, 'out', true);
  const { method, options } = readMethodFlags(values);
  const kernels = kernelsFlag(values);
  const adapterArg = str(values, 'adapter');
  const quiet = values.quiet === true;
  const say = (line: string) => {
    if (!quiet) process.stderr.write(`${line}\n`);
  };

  const text = await readDataText(dataPath);
  const logPath = join(out, 'train_log.jsonl');
  const held: { session?: Session; bar?: cliProgress.SingleBar } = {};
  try {
    const result = await runTraining({
      data: { text, fileName: dataPath },
      loadBase: async () => {
        const load = loadProgress();
        const session = await openSession(modelArg, run.quant, { kernels, onProgress: load.onProgress });
        held.session = session;
        load.done();
        say(`GPU: ${adapterLine(session.gpu.report)}; ${kernelsLine(session.gpu)}`);
        return trainingBase(session);
      },
      adapter: adapterArg
        ? {
            continueFrom: async () => {
              const adapter = await loadAdapter(held.session!, adapterArg);
              for (const warning of adapter.warnings ?? []) say(`warning: ${warning}`);
              return { adapter, description: `the adapter ${adapterArg}` };
            },
          }
        : { method: method.id, options },
      settings,
      options: run,
      checkpoints: new NodeCheckpointStore(join(out, 'checkpoint')),
      resume: values.resume === true,
      checkpointAtEnd: true,
      log: (_phase, line) => say(line),
      onTrainer: async (trainer) => {
        await mkdir(out, { recursive: true });
        await writeFile(logPath, trainer.log.map((l) => `${JSON.stringify(l)}\n`).join(''));
        if (quiet || !process.stderr.isTTY) return;
        held.bar = makeBar('training [{bar}] {value}/{total} steps | loss {loss} | lr {lr} | {tps} tok/s');
        held.bar.start(trainer.totalSteps, trainer.step, { loss: '-', lr: '-', tps: '-' });
      },
      onEvent: async (e) => {
        if (e.kind === 'done') held.bar?.stop();
        if (e.kind !== 'step') return;
        await appendFile(logPath, `${JSON.stringify(e.log)}\n`);
        const { bar } = held;
        if (bar) bar.update(e.log.step, { loss: e.log.loss.toFixed(4), lr: e.log.lr.toExponential(2), tps: e.log.tokens_per_s.toFixed(0) });
        else {
          if (e.timing.compileSeconds > 0) {
            say(`step ${e.log.step} compiled shader pipelines: ${e.timing.compileSeconds.toFixed(1)} s of its ${e.timing.seconds.toFixed(1)} s`);
          }
          say(`step ${e.log.step}/${e.totalSteps} loss ${e.log.loss.toFixed(4)}${e.log.val_loss !== null ? ` val_loss ${e.log.val_loss.toFixed(4)}` : ''}`);
        }
      },
    });
    for (const [name, bytes] of result.files) await writeFile(join(out, name), bytes);
    await writeRunFile(out, runFlags);
    say(`adapter written to ${out} (${[...result.files.keys(), RUN_FILE].join(', ')}); final loss ${result.log.at(-1)?.loss.toFixed(4) ?? '-'}`);
    result.adapter.destroy();
  } finally {
    held.bar?.stop();
    held.session?.close();
  }
}
