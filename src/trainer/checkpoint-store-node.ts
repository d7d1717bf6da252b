/** Checkpoints in a folder under Node, replaced atomically (written beside, then renamed). */
import { mkdir, readFile, rename, rm, writeFile, access } from 'node:fs/promises';
import { join } from 'node:path';
import { STATE_FILE, TENSORS_FILE, type CheckpointStore } from './checkpoint';

export class NodeCheckpointStore implements CheckpointStore {
  constructor(readonly dir: string) {}

  get description(): string {
    return this.dir;
  }

  async save(files: Map<string, Uint8Array>): Promise<void> {
    const tmp = `${this.dir}.tmp`;
    await rm(tmp, { recursive: true, force: true });
    await mkdir(tmp, { recursive: true });
    for (const [name, bytes] of files) await writeFile(join(tmp, name), bytes);
    const old = `${this.dir}.old`;
    await rm(old, { recursive: true, force: true });
    const exists = await access(this.dir).then(() => true, () => false);
    if (exists) await rename(this.dir, old);
    await rename(tmp, this.dir);
    await rm(old, { recursive: true, force: true });
  }

  async clear(): Promise<boolean> {
    const exists = await access(this.dir).then(() => true, () => false);
    await rm(this.dir, { recursive: true, force: true });
    return exists;
  }

  async load(): Promise<Map<string, Uint8Array> | null> {
    const files = new Map<string, Uint8Array>();
    for (const name of [STATE_FILE, TENSORS_FILE]) {
      try {
        files.set(name, new Uint8Array(await readFile(join(this.dir, name))));
      } catch {
        return null;
      }
    }
    return files;
  }
}
