/** A checkpoint store in memory, for tests of save and resume. */
import type { CheckpointStore } from '../../src/trainer/checkpoint';

export class MemoryCheckpointStore implements CheckpointStore {
  files: Map<string, Uint8Array> | null = null;
  readonly description = 'memory';

  async save(files: Map<string, Uint8Array>): Promise<void> {
    this.files = new Map(files);
  }

  async load(): Promise<Map<string, Uint8Array> | null> {
    return this.files;
  }

  async clear(): Promise<boolean> {
    const had = this.files !== null;
    this.files = null;
    return had;
  }
}
