/**
 * peft-studio score --model M [--adapter DIR] (--text TEXT | --data FILE) [--json]
 * The adapter may be of any supported method (its adapter_config.json's peft_type says which).
 * Per-token log-probabilities and the mean loss. logprobs[t] = log p(ids[t+1] | ids[0..t]); ids starts with
 * whatever BOS the tokenizer adds.
 */
import { readFile } from 'node:fs/promises';
import { basename } from 'node:path';
import { forwardLogits, evalLoss } from '../../engine/training-pass';
import { pickFields } from '../../options/field';
import { RUN_DEFAULTS, RUN_FIELDS } from '../../options/run-fields';
import { TRAINING_FIELDS } from '../../options/training-fields';
import { DEFAULT_TRAINING } from '../../trainer/trainer';
import { assertNoProblems, parseDataset } from '../../data/parse';
import { tokenizeRecords } from '../../data/tokenize';
import { makeBatches } from '../../data/batching';
import { CliUsageError } from '../errors';
import { resolveDataArg } from '../embedded-assets';
import { KERNELS_FLAG, kernelsFlag, readFlags, schemaFlags, str, type CliFlags, type Values } from '../flags';
import { loadAdapter, openSession } from '../session';

/** The run options score shares with train: how the data is cut, W0's format, bad records. */
const SCORE_RUN_FIELDS = pickFields(RUN_FIELDS, ['maxLength', 'quant', 'skipBadRecords']);
const SCORE_BATCH_FIELDS = pickFields(TRAINING_FIELDS, ['batchSize']);

export const SCORE_FLAGS: CliFlags = {
  model: { type: 'string', value: 'M', required: true, help: 'The base model, as for train.' },
  adapter: { type: 'string', value: 'DIR|REPO', help: 'A PEFT adapter to score with (LoRA, prompt tuning, P-tuning or prefix tuning).' },
  text: { type: 'string', value: 'TEXT', help: 'Scores this text token by token (give --text or --data).' },
  data: { type: 'string', value: 'FILE|SAMPLE', help: "Scores a dataset as training's loss counts it: the mean loss over its trained tokens." },
  ...schemaFlags(SCORE_RUN_FIELDS),
  ...schemaFlags(SCORE_BATCH_FIELDS),
  kernels: KERNELS_FLAG,
  json: { type: 'boolean', help: 'Prints one JSON object: {ids, logprobs, mean_nll} for --text, {examples, tokens, mean_nll} for --data.' },
};

/**
 * log p(ids[t+1] | ids[..t]) for t < T − 1, from logits [rows, V], in float64. An adapter's virtual tokens come
 * first (rows − T of them, prompt tuning and P-tuning): token t's row is rows − T + t.
 */
export function nextTokenLogprobs(logits: Float32Array, ids: number[], V: number): number[] {
  const out: number[] = [];
  const first = logits.length / V - ids.length;
  for (let t = 0; t + 1 < ids.length; t++) {
    const row = logits.subarray((first + t) * V, (first + t + 1) * V);
    let max = -Infinity;
    for (const v of row) max = Math.max(max, v);
    let sum = 0;
    for (const v of row) sum += Math.exp(v - max);
    out.push(row[ids[t + 1]] - max - Math.log(sum));
  }
  return out;
}

/**
 * Refuses a result that is not a finite number: score must never exit 0 printing null (JSON's NaN) or NaN. Non-finite
 * log-probabilities come from non-finite logits, i.e. from weights or an adapter that hold, or overflow to, NaN/Inf.
 */
export function assertFiniteScore(values: readonly number[], what: (index: number) => string): void {
  const bad = values.findIndex((v) => !Number.isFinite(v));
  if (bad >= 0) {
    throw new Error(`score: ${what(bad)} is ${values[bad]}, not a finite number; the model or adapter computes non-finite logits (do its weights hold NaN or Infinity, or overflow?)`);
  }
}

export async function scoreCommand(values: Values): Promise<void> {
  const text = str(values, 'text');
  const dataArg = str(values, 'data');
  const dataPath = dataArg === undefined ? undefined : resolveDataArg(dataArg);
  if ((text === undefined) === (dataPath === undefined)) throw new CliUsageError('give exactly one of --text TEXT or --data FILE');
  const run = { ...RUN_DEFAULTS, ...readFlags(SCORE_RUN_FIELDS, values) };
  const { batchSize } = { ...DEFAULT_TRAINING, ...readFlags(SCORE_BATCH_FIELDS, values) };
  const session = await openSession(str(values, 'model', true), run.quant, { kernels: kernelsFlag(values) });
  try {
    const adapterDir = str(values, 'adapter');
    const lora = adapterDir ? await loadAdapter(session, adapterDir) : null;
    const json = values.json === true;
    if (text !== undefined) {
      const ids = session.tokenizer.encode(text);
      if (ids.length < 2) throw new CliUsageError('--text needs at least two tokens to score');
      const logits = await forwardLogits(session.gpu, session.model, lora, { inputIds: [ids] });
      const logprobs = nextTokenLogprobs(logits, ids, session.loaded.config.vocabSize);
      assertFiniteScore(logprobs, (t) => `the log-probability of token ${t + 1} (id ${ids[t + 1]})`);
      const meanNll = -logprobs.reduce((a, b) => a + b, 0) / logprobs.length;
      assertFiniteScore([meanNll], () => 'the mean loss');
      if (json) {
        process.stdout.write(`${JSON.stringify({ ids, logprobs, mean_nll: meanNll })}\n`);
      } else {
        for (let t = 0; t < logprobs.length; t++) {
          process.stdout.write(`${JSON.stringify(session.tokenizer.decode([ids[t + 1]]))}\t${logprobs[t].toFixed(4)}\n`);
        }
        process.stdout.write(`mean loss ${meanNll.toFixed(4)} over ${logprobs.length} tokens\n`);
      }
    } else {
      const parsed = parseDataset(await readFile(dataPath!, 'utf8'), basename(dataPath!));
      assertNoProblems(parsed, { allowSkip: run.skipBadRecords, file: dataPath! });
      const { examples, problems } = tokenizeRecords(parsed.records, session.tokenizer, { maxLength: run.maxLength });
      assertNoProblems({ problems, examples, lineUnit: parsed.lineUnit }, { allowSkip: run.skipBadRecords, file: dataPath! });
      const batches = makeBatches(examples, { batchSize, seed: 0, epoch: 0, padTokenId: session.tokenizer.padTokenId ?? 0, shuffle: false });
      let sum = 0;
      let tokens = 0;
      for (const b of batches) {
        const r = await evalLoss(session.gpu, session.model, lora, b);
        sum += r.loss * r.tokens;
        tokens += r.tokens;
      }
      if (tokens === 0) throw new Error(`score: ${dataPath} has no trained tokens to score`);
      const mean = sum / tokens;
      assertFiniteScore([mean], () => `the mean loss over ${tokens} tokens`);
      if (json) process.stdout.write(`${JSON.stringify({ examples: examples.length, tokens, mean_nll: mean })}\n`);
      else process.stdout.write(`mean loss ${mean.toFixed(4)} over ${tokens} tokens in ${examples.length} examples\n`);
    }
    lora?.destroy();
  } finally {
    session.close();
  }
}
