/**
 * peft-studio generate --model M [--adapter DIR] --prompt TEXT [--max-new-tokens N --temperature T --seed S --json]
 * Sampling options the command line leaves out come from the model's generation_config.json, as in transformers;
 * without one, decoding is greedy.
 */
import { generateTokens } from '../../engine/generate';
import { generationDefaults } from '../../model/sampling';
import { pickFields } from '../../options/field';
import { RUN_DEFAULTS, RUN_FIELDS } from '../../options/run-fields';
import { KERNELS_FLAG, kernelsFlag, num, readFlags, schemaFlags, str, type CliFlags, type Values } from '../flags';
import { loadAdapter, openSession } from '../session';

export const GENERATE_FLAGS: CliFlags = {
  model: { type: 'string', value: 'M', required: true, help: 'The base model, as for train.' },
  prompt: { type: 'string', value: 'TEXT', required: true, help: 'The text to continue.' },
  adapter: { type: 'string', value: 'DIR|REPO', help: 'A PEFT adapter to generate with (LoRA, prompt tuning, P-tuning or prefix tuning).' },
  'max-new-tokens': { type: 'string', value: 'N', help: "Tokens to generate at most. Default: generation_config.json's, else 64." },
  temperature: { type: 'string', value: 'T', help: "Sampling temperature; 0 = greedy. Default: generation_config.json's when it samples, else greedy." },
  'top-k': { type: 'string', value: 'K', help: 'Sample from the K most likely tokens (0 = all). Default: from generation_config.json, else 0.' },
  'top-p': { type: 'string', value: 'P', help: 'Sample from the smallest set of tokens whose probability reaches P. Default: from generation_config.json, else 1.' },
  'repetition-penalty': { type: 'string', value: 'R', help: "transformers' repetition penalty (1 = none). Default: from generation_config.json, else 1." },
  seed: { type: 'string', value: '0', help: 'Seeds the sampling.', default: '0' },
  quant: schemaFlags(pickFields(RUN_FIELDS, ['quant'])).quant,
  kernels: KERNELS_FLAG,
  json: { type: 'boolean', help: 'Prints one JSON object: prompt, prompt_ids, ids, completion, stop_reason.' },
};

export async function generateCommand(values: Values): Promise<void> {
  const prompt = str(values, 'prompt', true);
  const { quant } = { ...RUN_DEFAULTS, ...readFlags(pickFields(RUN_FIELDS, ['quant']), values) };
  const session = await openSession(str(values, 'model', true), quant, { kernels: kernelsFlag(values) });
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
