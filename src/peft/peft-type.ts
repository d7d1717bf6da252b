/**
 * Which PEFT method an adapter_config.json holds, from its `peft_type` (the one key PEFT requires,
 * `config.py` MIN_EXPECTED_CONFIG_KEYS; the values are `utils/peft_types.py`, PeftType).
 */
import { isPlainObject, parseConfigObject, showValue } from './config-values';

/** The prompt-learning methods (PromptLearningConfig subclasses), by PEFT's names. */
export const PROMPT_LEARNING_PEFT_TYPES = ['PROMPT_TUNING', 'P_TUNING', 'PREFIX_TUNING'] as const;
export type PromptLearningPeftType = (typeof PROMPT_LEARNING_PEFT_TYPES)[number];

/** The PEFT methods whose adapters PEFT Studio reads and writes. */
export const SUPPORTED_PEFT_TYPES = ['LORA', ...PROMPT_LEARNING_PEFT_TYPES, 'IA3'] as const;
export type SupportedPeftType = (typeof SUPPORTED_PEFT_TYPES)[number];

/**
 * Adapter types read and written outside PEFT, with no peft_type: AdapterHub's bottleneck adapters
 * (src/peft/bottleneck-files.ts), recognised by adapter_config.json's "config": {"architecture": "bottleneck"}.
 */
export const NON_PEFT_ADAPTER_TYPES = ['BOTTLENECK'] as const;
/** A method's adapter type: PEFT's peft_type, or one of NON_PEFT_ADAPTER_TYPES. */
export type AdapterType = SupportedPeftType | (typeof NON_PEFT_ADAPTER_TYPES)[number];

export class PeftTypeError extends Error {
  override name = 'PeftTypeError';
}

export function isPromptLearningPeftType(t: string): t is PromptLearningPeftType {
  return (PROMPT_LEARNING_PEFT_TYPES as readonly string[]).includes(t);
}

/**
 * The method of an adapter_config.json: "LORA", "PROMPT_TUNING", "P_TUNING", "PREFIX_TUNING" or "IA3". Throws a
 * PeftTypeError naming the file and the value for anything else (another PEFT method, a missing peft_type, not JSON).
 */
export function peftTypeOf(adapterConfigJsonText: string, file = 'adapter_config.json'): SupportedPeftType {
  const json = parseConfigObject(adapterConfigJsonText, file, (m) => new PeftTypeError(m));
  return peftTypeOfObject(json, file);
}

/** peftTypeOf for a parsed object. */
export function peftTypeOfObject(json: unknown, file = 'adapter_config.json'): SupportedPeftType {
  if (!isPlainObject(json)) throw new PeftTypeError(`${file}: expected a JSON object, got ${showValue(json)}`);
  const expected = SUPPORTED_PEFT_TYPES.map((t) => `"${t}"`).join(', ');
  if (!('peft_type' in json)) throw new PeftTypeError(`${file}: "peft_type" is missing; PEFT requires it (expected one of ${expected})`);
  const t = json.peft_type;
  if (typeof t === 'string' && (SUPPORTED_PEFT_TYPES as readonly string[]).includes(t)) return t as SupportedPeftType;
  throw new PeftTypeError(`${file}: peft_type = ${showValue(t)} is not supported; expected one of ${expected}`);
}
