/** The dtypes a merged export writes model.safetensors in (what the protocol and the forms offer). */
import type { SafetensorsDtype } from '../model-io/safetensors';

export const MERGED_DTYPES = ['F32', 'F16', 'BF16'] as const satisfies readonly SafetensorsDtype[];
export type MergedDtype = (typeof MERGED_DTYPES)[number];
