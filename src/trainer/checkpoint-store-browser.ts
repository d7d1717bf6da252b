/**
 * Checkpoints in the browser's origin-private file system (OPFS), under peft-studio/checkpoints/<run>.
 * Saves alternate between two slots, so a save cut short (a crash, a closed tab) never damages the previous
 * checkpoint; `load` returns the newest slot whose two files agree on the step (see checkpoint.ts).
 */
import { decodeCheckpoint, STATE_FILE, TENSORS_FILE, type CheckpointStore } from './checkpoint';

async function dirHandle(path: string[], create: boolean): Promise<FileSystemDirectoryHandle> {
  let dir = await navigator.storage.getDirectory();
  for (const part of path) dir = await dir.getDirectoryHandle(part, { create });
  return dir;
}

const SLOTS = ['a', 'b'] as const;

export class OpfsCheckpointStore implements CheckpointStore {
  private nextSlot: (typeof SLOTS)[number] | null = null;

  constructor(readonly run: string) {
    if (!/^[A-Za-z0-9._-]+$/.test(run)) throw new RangeError(`checkpoint run name "${run}" may only hold letters, digits, ".", "_" and "-"`);
  }

  get description(): string {
    return `OPFS peft-studio/checkpoints/${this.run}`;
  }

  private async readSlot(slot: string): Promise<{ files: Map<string, Uint8Array>; step: number } | null> {
    try {
      const dir = await dirHandle(['peft-studio', 'checkpoints', this.run, slot], false);
      const files = new Map<string, Uint8Array>();
      for (const name of [STATE_FILE, TENSORS_FILE]) {
        const file = await (await dir.getFileHandle(name)).getFile();
        files.set(name, new Uint8Array(await file.arrayBuffer()));
      }
      return { files, step: decodeCheckpoint(files, this.description).meta.step };
    } catch {
      return null;
    }
  }

  async save(files: Map<string, Uint8Array>): Promise<void> {
    if (!this.nextSlot) {
      const [a, b] = await Promise.all(SLOTS.map((s) => this.readSlot(s)));
      this.nextSlot = (a?.step ?? -1) <= (b?.step ?? -1) ? 'a' : 'b';
    }
    const dir = await dirHandle(['peft-studio', 'checkpoints', this.run, this.nextSlot], true);
    for (const [name, bytes] of files) {
      const writable = await (await dir.getFileHandle(name, { create: true })).createWritable();
      await writable.write(bytes as Uint8Array<ArrayBuffer>);
      await writable.close();
    }
    this.nextSlot = this.nextSlot === 'a' ? 'b' : 'a';
  }

  /** Deletes every checkpoint of this run. Returns whether there were any. */
  async clear(): Promise<boolean> {
    this.nextSlot = null;
    try {
      const parent = await dirHandle(['peft-studio', 'checkpoints'], false);
      await parent.removeEntry(this.run, { recursive: true });
      return true;
    } catch (e) {
      if ((e as DOMException).name === 'NotFoundError') return false;
      throw e;
    }
  }

  async load(): Promise<Map<string, Uint8Array> | null> {
    const slots = (await Promise.all(SLOTS.map((s) => this.readSlot(s)))).filter((s) => s !== null);
    slots.sort((x, y) => y.step - x.step);
    return slots[0]?.files ?? null;
  }
}
