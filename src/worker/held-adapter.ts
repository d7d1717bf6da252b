/**
 * The adapter a worker holds on its loaded model between requests: the last one trained with model kind 'loaded',
 * or one imported with `adapter-import`. Generation with side 'adapted' and `adapter-export` use it.
 */
import type { TrainedAdapter } from '../methods/method';
import { methodById } from '../methods/registry';
import { MODEL_CARD_FILE } from '../peft/adapter-files';
import type { AdapterInfo } from './protocol';

export interface HeldAdapter {
  adapter: TrainedAdapter;
  origin: AdapterInfo['origin'];
  /** The model card of the run that trained it (README.md); an imported adapter gets PEFT's own. */
  card?: string;
}

export function describeAdapter(held: HeldAdapter): AdapterInfo {
  const a = held.adapter;
  const method = methodById(a.method);
  return {
    origin: held.origin,
    method: a.method,
    label: method.label,
    mergeRefusal: method.merge.kind === 'refused' ? method.merge.why : null,
    facts: a.plan.facts.filter(([label]) => label !== 'method').map(([label, value]) => [label, value]),
    trainableParameters: a.plan.counts.trainable,
    allParameters: a.plan.counts.all,
    options: { ...a.options },
  };
}

/** The adapter's files in PEFT's format, each in an ArrayBuffer of its own (so that it can be transferred). */
export async function exportHeldAdapter(held: HeldAdapter): Promise<Record<string, Uint8Array>> {
  const files = await held.adapter.exportFiles();
  if (held.card !== undefined) files.set(MODEL_CARD_FILE, new TextEncoder().encode(held.card));
  return transferableFiles(files);
}

/** Files by name, each copied into an ArrayBuffer of its own (so that it can be transferred to the page). */
export function transferableFiles(files: ReadonlyMap<string, Uint8Array>): Record<string, Uint8Array> {
  const out: Record<string, Uint8Array> = {};
  for (const [name, bytes] of files) out[name] = bytes.slice();
  return out;
}
