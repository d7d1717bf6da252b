/**
 * peft-studio score --model M [--adapter DIR] (--text TEXT | --data FILE) [--json]
 * Per-token log-probabilities and the mean loss. logprobs[t] = log p(ids[t+1] | ids[0..t]); ids starts with
 * whatever BOS the tokenizer adds.
 */
import { readFile } from 'node:fs/promises';
import { basename } from 'node:path';
import { forwardLogits, evalLoss } from '../../engine/training-pass';
import { WEIGHT_FORMATS } from '../../kernels/weight-format';
import { assertNoProblems, parseDataset } from '../../data/parse';
import { tokenizeRecords } from '../../data/tokenize';
import { makeBatches } from '../../data/batching';
import { CliUsageError } from '../errors';
import { resolveDataArg } from '../embedded-assets';
import { choice, num, str } from '../options';
import { loadAdapter, openSession } from '../session';

export const SCORE_OPTIONS = {
  model: { type: 'string' },
  adapter: { type: 'string' },
  text: { type: 'string' },
  data: { type: 'string' },
  seq: { type: 'string' },
  batch: { type: 'string' },
  quant: { type: 'string' },
  json: { type: 'boolean' },
  'skip-bad-records': { type: 'boolean' },
} as const;

/** log p(ids[t+1] | ids[..t]) for t < T − 1, from logits [T, V], in float64. */
export function nextTokenLogprobs(logits: Float32Array, ids: number[], V: number): number[] {
  const out: number[] = [];
  for (let t = 0; t + 1 < ids.length; t++) {
    const row = logits.subarray(t * V, (t + 1) * V);
    let max = -Infinity;
    for (const v of row) max = Math.max(max, v);
    let sum = 0;
    for (const v of row) sum += Math.exp(v - max);
    out.push(row[ids[t + 1]] - max - Math.log(sum));
  }
  return out;
}

export async function scoreCommand(values: Record<string, string | boolean | undefined>): Promise<void> {
  const text = str(values, 'text');
  const dataArg = str(values, 'data');
  const dataPath = dataArg === undefined ? undefined : resolveDataArg(dataArg);
  if ((text === undefined) === (dataPath === undefined)) throw new CliUsageError('give exactly one of --text TEXT or --data FILE');
  const session = await openSession(str(values, 'model', true), choice(values, 'quant', WEIGHT_FORMATS, 'f32'));
  try {
    const adapterDir = str(values, 'adapter');
    const lora = adapterDir ? await loadAdapter(session, adapterDir) : null;
    const json = values.json === true;
    if (text !== undefined) {
      const ids = session.tokenizer.encode(text);
      if (ids.length < 2) throw new CliUsageError('--text needs at least two tokens to score');
      const logits = await forwardLogits(session.gpu, session.model, lora, { inputIds: [ids] });
      const logprobs = nextTokenLogprobs(logits, ids, session.loaded.config.vocabSize);
      const meanNll = -logprobs.reduce((a, b) => a + b, 0) / logprobs.length;
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
      assertNoProblems(parsed, { allowSkip: values['skip-bad-records'] === true, file: dataPath! });
      const { examples, problems } = tokenizeRecords(parsed.records, session.tokenizer, { maxLength: num(values, 'seq', 256, { int: true, min: 2 }) });
      assertNoProblems({ problems, examples, lineUnit: parsed.lineUnit }, { allowSkip: values['skip-bad-records'] === true, file: dataPath! });
      const batches = makeBatches(examples, { batchSize: num(values, 'batch', 4, { int: true, min: 1 }), seed: 0, epoch: 0, padTokenId: session.tokenizer.padTokenId ?? 0, shuffle: false });
      let sum = 0;
      let tokens = 0;
      for (const b of batches) {
        const r = await evalLoss(session.gpu, session.model, lora, b);
        sum += r.loss * r.tokens;
        tokens += r.tokens;
      }
      const mean = sum / tokens;
      if (json) process.stdout.write(`${JSON.stringify({ examples: examples.length, tokens, mean_nll: mean })}\n`);
      else process.stdout.write(`mean loss ${mean.toFixed(4)} over ${tokens} tokens in ${examples.length} examples\n`);
    }
    lora?.destroy();
  } finally {
    session.close();
  }
}
