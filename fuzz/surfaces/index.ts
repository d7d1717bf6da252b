/** The fuzzed surfaces, in report order. */
import type { FuzzSurface } from '../fuzz-case';
import { ADAPTER_SURFACE, prepareAdapterSurface } from './adapter-files';
import { DATASET_SURFACE } from './dataset-files';
import { CONFIG_SURFACE, SAFETENSORS_SURFACE } from './model-files';
import { TOKENIZER_SURFACE } from './tokenizer-files';

export const SURFACES: readonly FuzzSurface[] = [SAFETENSORS_SURFACE, CONFIG_SURFACE, DATASET_SURFACE, ADAPTER_SURFACE, TOKENIZER_SURFACE];

export function surfaceByName(name: string): FuzzSurface {
  const s = SURFACES.find((x) => x.name === name);
  if (!s) throw new Error(`unknown surface "${name}"; expected one of ${SURFACES.map((x) => x.name).join(', ')}, cli`);
  return s;
}

/** What the surfaces load once before their cases run. */
export async function prepareSurfaces(): Promise<void> {
  await prepareAdapterSurface();
}
