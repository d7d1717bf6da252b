/** The goals of the peer benchmark (issue 7), shared by the page that measures and the command that reports. */
import type { PeerRow } from './page';

/** The `peer` of the rows that time our quantized W0 against our f32 W0 at the same shape. */
export const OURS_F32 = 'ours-f32';

/**
 * The goals, as the least ratio (peer_ms / ours_ms) each row must reach: our train step 3× TF.js's, our
 * forward 1.5× ORT's, and a quantized W0 (q4, nf4) within 1.1× of the f32 time. Rows without a goal (q8 against
 * f32) give null.
 */
export function goalFor(row: PeerRow): number | null {
  if (row.peer === 'tfjs-webgpu') return 3;
  if (row.peer === 'ort-webgpu') return 1.5;
  if (row.peer === OURS_F32 && /W0 (q4|nf4) /.test(row.name)) return 1 / 1.1;
  return null;
}
