/**
 * peft-studio generate --model M [--adapter DIR] --prompt TEXT [--max-new-tokens N --temperature T --seed S --json]
 * Sampling options the command line leaves out come from the model's generation_config.json, as in transformers;
 * without one, decoding is greedy.
 */
import { generateTokens } from '../../engine/generate';
import { generationDefaults } from '../../model/sampling';
import { WEIGHT_FORMATS } from '../../kernels/weight-format';
import { choice, num, str } from '../options';
import { loadAdapter, openSession } from '../session';

export const GENERATE_OPTIONS = {
  model: { type: 'string' },
  adapter: { type: 'string' },
  prompt: { type: 'string' },
  'max-new-tokens': { type: 'string' },
  temperature: { type: 'string' },
  'top-k': { type: 'string' },
  'top-p': { type: 'string' },
  'repetition-penalty': { type: 'string' },
  seed: { type: 'string' },
  quant: { type: 'string' },
  json: { type: 'boolean' },
} as const;

export async function generateCommand(values: Record<string, string | boolean | undefined>): Promise<void> {
  const prompt = str(values, 'prompt', true);
  const session = await openSession(str(values, 'model', true), choice(values, 'quant', WEIGHT_FORMATS, 'f32'));
  try {
    const adapterDir = str(values, 'adapter');
    const lora = adapterDir ? await loadAdapter(session, adapterDir) : null;
    const defaults = generationDefaults(session.loaded.generationConfig);
    const temperature = num(values, 'temperature', defaults.doSample ? (defaults.temperature ?? 1) : 0, { min: 0 });
    const promptIds = session.tokenizer.encode(prompt);
    const json = values.json === true;
    const tokens: number[] = [];
    const it = generateTokens(session.gpu, session.model, lora, promptIds, {
      maxNewTokens: num(values, 'max-new-tokens', defaults.maxNewTokens ?? 64, { int: true, min: 0 }),
      doSample: temperature > 0,
      temperature,
      topK: num(values, 'top-k', defaults.topK ?? 0, { int: true, min: 0 }),
      topP: num(values, 'top-p', defaults.topP ?? 1, { gt: 0, max: 1 }),
      repetitionPenalty: num(values, 'repetition-penalty', defaults.repetitionPenalty ?? 1, { gt: 0 }),
      seed: num(values, 'seed', 0, { int: true, min: 0 }),
    });
    let printed = '';
    if (!json) process.stdout.write(prompt);
    let stopReason: string;
    for (;;) {
      const r = await it.next();
      if (r.done) {
        stopReason = r.value;
        break;
      }
      tokens.push(r.value);
      if (!json) {
        // Decode the whole continuation each time so multi-byte characters come out whole.
        const text = session.tokenizer.decode(tokens, { skipSpecialTokens: true });
        if (!text.endsWith('\uFFFD')) {
          process.stdout.write(text.slice(printed.length));
          printed = text;
        }
      }
    }
    const completion = session.tokenizer.decode(tokens, { skipSpecialTokens: true });
    if (json) {
      process.stdout.write(`${JSON.stringify({ prompt, prompt_ids: promptIds, ids: tokens, completion, stop_reason: stopReason })}\n`);
    } else {
      process.stdout.write(`${completion.slice(printed.length)}\n`);
    }
    lora?.destroy();
  } finally {
    session.close();
  }
}
