/**
 * requirements.txt: pinned versions that work together. PEFT is the release whose adapter format the studio writes
 * (src/peft/peft-version.ts); the others were checked against its and transformers' declared requirements
 * (peft 0.21.0: torch ≥ 1.13, transformers, accelerate ≥ 0.21; transformers 5.18.0: torch ≥ 2.5, accelerate ≥ 1.1,
 * bitsandbytes ≥ 0.46.1, deepspeed ≥ 0.9.3).
 * Bottleneck adapters train with AdapterHub's `adapters` 1.2.0 (src/peft/bottleneck-files.ts), which is built on
 * transformers 4.x; that recipe pins the 4.x release `adapters` supports and leaves PEFT out.
 */
import type { MethodId } from '../methods/method';
import { PEFT_VERSION } from '../peft/peft-version';
import { ADAPTERHUB_VERSION } from '../peft/bottleneck-files';

export const PINS = {
  torch: '2.9.1',
  transformers: '5.18.0',
  accelerate: '1.15.0',
  peft: PEFT_VERSION,
  bitsandbytes: '0.48.2',
  deepspeed: '0.18.2',
  adapters: ADAPTERHUB_VERSION.replace(/^adapters\./, ''),
  /** The transformers release `adapters` 1.2.0 is built for. */
  transformersForAdapters: '4.51.3',
} as const;

export function requirementsTxt(method: MethodId): string {
  const lines = [
    '# Pinned for the recipe written by PEFT Studio (see README.md). Install with: pip install -r requirements.txt',
    `torch==${PINS.torch}`,
    `accelerate==${PINS.accelerate}`,
  ];
  if (method === 'bottleneck') {
    lines.push(`transformers==${PINS.transformersForAdapters}`, `adapters==${PINS.adapters}`);
  } else {
    lines.push(`transformers==${PINS.transformers}`, `peft==${PINS.peft}`);
  }
  lines.push(
    '# The 4- and 8-bit bases (recipe.json "quantization"); not needed for a float32 base.',
    `bitsandbytes==${PINS.bitsandbytes}`,
    '# accelerate/deepspeed_zero3.yaml only.',
    `deepspeed==${PINS.deepspeed}`,
  );
  return lines.join('\n') + '\n';
}
