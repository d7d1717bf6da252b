/**
 * Training checkpoints: everything needed to continue a run exactly where it stopped — the adapter, the
 * AdamW moments, the optimizer step, the seed (which fixes every dropout mask and the data order of every
 * epoch) and a fingerprint of the data — as two files: `trainer_state.json` and `checkpoint.safetensors`.
 * A store keeps the latest checkpoint: a folder under Node (checkpoint-store-node.ts), OPFS in a browser
 * (checkpoint-store-browser.ts).
 */
import { parseSafetensors, tensorToFloat32, writeSafetensors } from '../model-io/safetensors';

export const CHECKPOINT_VERSION = 1;

export interface CheckpointMeta {
  version: number;
  /** Optimizer steps completed. */
  step: number;
  seed: number;
  /** The run's settings, so that a resume can refuse a changed configuration. */
  settings: Record<string, unknown>;
  /** Hash of the training examples' token ids; resuming on other data is refused. */
  dataFingerprint: string;
  /** Per-step log so far, so a resumed run's log is complete. */
  log: unknown[];
}

export interface CheckpointState {
  meta: CheckpointMeta;
  /** Adapter matrices and optimizer moments by name (see trainer.ts for the names). */
  tensors: Map<string, Float32Array>;
}

export interface CheckpointStore {
  readonly description: string;
  save(files: Map<string, Uint8Array>): Promise<void>;
  /** The latest checkpoint's files, or null when there is none. */
  load(): Promise<Map<string, Uint8Array> | null>;
  /** Deletes every checkpoint; returns whether there were any. */
  clear(): Promise<boolean>;
}

export const STATE_FILE = 'trainer_state.json';
export const TENSORS_FILE = 'checkpoint.safetensors';

export function encodeCheckpoint(state: CheckpointState): Map<string, Uint8Array> {
  const tensors = [...state.tensors].map(([name, data]) => ({ name, dtype: 'F32' as const, shape: [data.length], data }));
  return new Map<string, Uint8Array>([
    [STATE_FILE, new TextEncoder().encode(JSON.stringify(state.meta, null, 2))],
    // The step in the tensors' metadata pairs them with their state file: a save cut short leaves a mismatch.
    [TENSORS_FILE, writeSafetensors(tensors, { format: 'peft-studio-checkpoint', step: String(state.meta.step) })],
  ]);
}

export class CheckpointError extends Error {
  override name = 'CheckpointError';
}

export function decodeCheckpoint(files: Map<string, Uint8Array>, where: string): CheckpointState {
  const stateBytes = files.get(STATE_FILE);
  const tensorBytes = files.get(TENSORS_FILE);
  if (!stateBytes || !tensorBytes) throw new CheckpointError(`${where}: a checkpoint needs ${STATE_FILE} and ${TENSORS_FILE}`);
  let meta: CheckpointMeta;
  try {
    meta = JSON.parse(new TextDecoder().decode(stateBytes)) as CheckpointMeta;
  } catch (e) {
    throw new CheckpointError(`${where}/${STATE_FILE}: not valid JSON (${(e as Error).message})`);
  }
  if (meta.version !== CHECKPOINT_VERSION) {
    throw new CheckpointError(`${where}/${STATE_FILE}: checkpoint version ${meta.version}, this build reads version ${CHECKPOINT_VERSION}`);
  }
  const file = parseSafetensors(tensorBytes, `${where}/${TENSORS_FILE}`);
  if (file.metadata?.step !== String(meta.step)) {
    throw new CheckpointError(
      `${where}: ${TENSORS_FILE} is from step ${file.metadata?.step ?? '?'} but ${STATE_FILE} says step ${meta.step}; the save was cut short`,
    );
  }
  const tensors = new Map<string, Float32Array>();
  for (const name of file.tensors.keys()) tensors.set(name, tensorToFloat32(file, name));
  return { meta, tensors };
}

/** FNV-1a over the examples' token ids and labels: enough to notice that the data changed. */
export function fingerprintExamples(examples: readonly { inputIds: number[]; labels: number[] }[]): string {
  let h = 0x811c9dc5;
  const mix = (v: number) => {
    h ^= v & 0xffff;
    h = Math.imul(h, 0x01000193);
    h ^= (v >>> 16) & 0xffff;
    h = Math.imul(h, 0x01000193);
  };
  for (const ex of examples) {
    mix(ex.inputIds.length);
    for (const t of ex.inputIds) mix(t);
    for (const t of ex.labels) mix(t);
  }
  return `${examples.length}:${(h >>> 0).toString(16)}`;
}
