/**
 * peft-studio train --model DIR|REPO --data FILE --out DIR [options]
 * Trains a LoRA adapter and writes it in PEFT's format, with train_log.jsonl (one line per step) and a
 * checkpoint in OUT/checkpoint that --resume continues from.
 */
import { appendFile, mkdir, readFile, writeFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { GpuLoraSet, loraModuleInits } from '../../methods/lora/gpu';
import { WEIGHT_FORMATS } from '../../kernels/weight-format';
import { assertNoProblems, parseDataset } from '../../data/parse';
import { splitValidation } from '../../data/batching';
import { tokenizeRecords } from '../../data/tokenize';
import { makeLoraConfig, type LoraConfig } from '../../peft/lora-config';
import { resolveLoraTargets } from '../../peft/lora-targets';
import { initLoraWeights } from '../../peft/lora-init';
import { exportLoraAdapter } from '../../peft/adapter-files';
import { countParameters, trainableParametersLine } from '../../peft/trainable-params';
import { NodeCheckpointStore } from '../../trainer/checkpoint-store-node';
import { DEFAULT_TRAINING, Trainer, type TrainingSettings } from '../../trainer/trainer';
import { LR_SCHEDULES } from '../../trainer/lr-schedule';
import { adapterLine } from '../../gpu/device';
import { CliUsageError } from '../errors';
import { embeddedModelFolder, resolveDataArg, SAMPLE_DATASET_HINT } from '../embedded-assets';
import { DEFAULT_MODEL } from '../../model-io/embedded';
import { choice, num, str } from '../options';
import { loadProgress, makeBar } from '../progress';
import { importAdapter, openSession } from '../session';

export const TRAIN_OPTIONS = {
  model: { type: 'string' },
  data: { type: 'string' },
  out: { type: 'string' },
  r: { type: 'string' },
  alpha: { type: 'string' },
  dropout: { type: 'string' },
  target: { type: 'string' },
  lr: { type: 'string' },
  schedule: { type: 'string' },
  warmup: { type: 'string' },
  steps: { type: 'string' },
  epochs: { type: 'string' },
  batch: { type: 'string' },
  'grad-accum': { type: 'string' },
  seq: { type: 'string' },
  quant: { type: 'string' },
  seed: { type: 'string' },
  'val-split': { type: 'string' },
  'eval-every': { type: 'string' },
  'save-every': { type: 'string' },
  'max-grad-norm': { type: 'string' },
  'weight-decay': { type: 'string' },
  resume: { type: 'boolean' },
  'skip-bad-records': { type: 'boolean' },
  rslora: { type: 'boolean' },
  adapter: { type: 'string' },
  bias: { type: 'string' },
  quiet: { type: 'boolean' },
} as const;

/** --target: "all-linear", a comma-separated list, or a regex (anything with regex characters). */
export function parseTargets(raw: string | undefined): string[] | string | undefined {
  if (raw === undefined) return undefined;
  if (raw === 'all-linear') return raw;
  if (/[\\^$*+?()[\]{}|]/.test(raw)) return raw;
  return raw.split(',').map((s) => s.trim()).filter(Boolean);
}

export async function trainCommand(values: Record<string, string | boolean | undefined>): Promise<void> {
  const modelArg = str(values, 'model', true);
  const dataPath = resolveDataArg(str(values, 'data', true));
  const out = str(values, 'out', true);
  const quant = choice(values, 'quant', WEIGHT_FORMATS, 'f32');
  const seed = num(values, 'seed', DEFAULT_TRAINING.seed, { int: true, min: 0 });
  const settings: TrainingSettings = {
    ...DEFAULT_TRAINING,
    lr: num(values, 'lr', DEFAULT_TRAINING.lr, { gt: 0 }),
    schedule: choice(values, 'schedule', LR_SCHEDULES, DEFAULT_TRAINING.schedule),
    warmupSteps: num(values, 'warmup', 0, { int: true, min: 0 }),
    maxSteps: num(values, 'steps', 0, { int: true, min: 0 }),
    epochs: num(values, 'epochs', 1, { gt: 0 }),
    batchSize: num(values, 'batch', DEFAULT_TRAINING.batchSize, { int: true, min: 1 }),
    gradAccum: num(values, 'grad-accum', 1, { int: true, min: 1 }),
    maxGradNorm: num(values, 'max-grad-norm', DEFAULT_TRAINING.maxGradNorm, { min: 0 }),
    weightDecay: num(values, 'weight-decay', 0, { min: 0 }),
    seed,
    evalEvery: num(values, 'eval-every', 0, { int: true, min: 0 }),
    checkpointEvery: num(values, 'save-every', 50, { int: true, min: 0 }),
  };
  const seqLen = num(values, 'seq', 256, { int: true, min: 2 });
  const valSplit = num(values, 'val-split', 0, { min: 0, lt: 1 });
  const quiet = values.quiet === true;
  const say = (line: string) => {
    if (!quiet) process.stderr.write(`${line}\n`);
  };

  const text = await readFile(dataPath, 'utf8').catch((e: NodeJS.ErrnoException) => {
    throw new CliUsageError(`--data ${dataPath}: ${e.code === 'ENOENT' ? SAMPLE_DATASET_HINT : e.message}`);
  });
  const load = loadProgress();
  const session = await openSession(modelArg, quant, load.onProgress);
  load.done();
  try {
    const { loaded, tokenizer, gpu, model } = session;
    const c = loaded.config;
    say(`model: ${loaded.source} (${c.modelType}, ${c.numLayers} layers, hidden ${c.hiddenSize}), W0 in ${quant}`);
    say(`GPU: ${adapterLine(gpu.report)}; kernel profile '${gpu.kernels}' (${gpu.kernels === 'direct' ? 'direct matmuls, for CPU drivers' : 'tiled matmuls'})`);

    const parsed = parseDataset(text, basename(dataPath));
    assertNoProblems(parsed, { allowSkip: values['skip-bad-records'] === true, file: dataPath });
    if (parsed.problems.length > 0) say(`skipped ${parsed.problems.length} bad records (--skip-bad-records)`);
    const { examples, truncated, problems } = tokenizeRecords(parsed.records, tokenizer, { maxLength: seqLen });
    assertNoProblems({ problems, examples, lineUnit: parsed.lineUnit }, { allowSkip: values['skip-bad-records'] === true, file: dataPath });
    if (truncated > 0) say(`${truncated} examples were truncated to ${seqLen} tokens`);
    const { train, validation } = splitValidation(examples, valSplit, seed);
    say(`data: ${train.length} training and ${validation.length} validation examples from ${dataPath}`);

    // A fresh adapter from the options, or an existing PEFT adapter to continue training (its config wins).
    const adapterArg = str(values, 'adapter');
    const imported = adapterArg ? await importAdapter(session, adapterArg) : null;
    if (imported) say(`continuing from the adapter ${adapterArg} (r ${imported.config.r}, targets ${imported.targets.length} modules)`);
    const loraConfig: LoraConfig =
      imported?.config ??
      makeLoraConfig(
        {
          r: num(values, 'r', 8, { int: true, min: 1 }),
          lora_alpha: num(values, 'alpha', 16, { gt: 0 }),
          lora_dropout: num(values, 'dropout', 0, { min: 0, lt: 1 }),
          use_rslora: values.rslora === true,
          bias: choice(values, 'bias', ['none', 'lora_only'] as const, 'none'),
          ...(parseTargets(str(values, 'target')) !== undefined ? { target_modules: parseTargets(str(values, 'target')) } : {}),
        },
        c,
        { nameOrPath: embeddedModelFolder(modelArg) ? DEFAULT_MODEL.id : modelArg },
      );
    const targets = imported?.targets ?? resolveLoraTargets(loraConfig, c);
    const init = imported?.weights ?? initLoraWeights(targets, loraConfig.init_lora_weights, seed);
    const counts = countParameters(c, targets, loraConfig.bias);
    say(trainableParametersLine(counts.trainable, counts.all));
    const lora = GpuLoraSet.create(gpu, model, loraModuleInits(loraConfig, targets, init, loaded.weights, { biases: imported?.biases }));
    await mkdir(out, { recursive: true });
    const trainer = new Trainer(gpu, model, lora, train, validation, settings, tokenizer.padTokenId ?? 0, new NodeCheckpointStore(join(out, 'checkpoint')));
    const logPath = join(out, 'train_log.jsonl');
    let resumedFrom: number | null = null;
    if (values.resume === true) {
      resumedFrom = await trainer.restore();
      say(resumedFrom === null ? 'no checkpoint found; starting from step 0' : `resuming from step ${resumedFrom}`);
    }
    await writeFile(logPath, trainer.log.map((l) => `${JSON.stringify(l)}\n`).join(''));
    const bar = quiet || !process.stderr.isTTY ? null : makeBar('training [{bar}] {value}/{total} steps | loss {loss} | lr {lr} | {tps} tok/s');
    bar?.start(trainer.totalSteps, trainer.step, { loss: '-', lr: '-', tps: '-' });
    try {
      await trainer.run(async (e) => {
        if (e.kind === 'step') {
          await appendFile(logPath, `${JSON.stringify(e.log)}\n`);
          bar?.update(e.log.step, { loss: e.log.loss.toFixed(4), lr: e.log.lr.toExponential(2), tps: e.log.tokens_per_s.toFixed(0) });
          if (!bar) say(`step ${e.log.step}/${e.totalSteps} loss ${e.log.loss.toFixed(4)}${e.log.val_loss !== null ? ` val_loss ${e.log.val_loss.toFixed(4)}` : ''}`);
        }
      }, resumedFrom);
    } finally {
      bar?.stop();
    }
    await trainer.saveCheckpoint();
    const weights = await lora.readWeights();
    const files = exportLoraAdapter({ config: loraConfig, weights, biases: await lora.readBiases(), model: c, targets });
    for (const [name, bytes] of files) await writeFile(join(out, name), bytes);
    const last = trainer.log.at(-1);
    say(`adapter written to ${out} (${[...files.keys()].join(', ')}); final loss ${last?.loss.toFixed(4) ?? '-'}`);
    trainer.destroy();
    lora.destroy();
  } finally {
    session.close();
  }
}
