/**
 * A model folder on disk, under Node. In its own module so that browser bundles, which import
 * `model-source.ts`, never pull in node:fs.
 */
import { open, readdir, stat } from 'node:fs/promises';
import { resolve, sep } from 'node:path';
import { assertSafeFileName, ModelSourceError, type ModelSource, type ReadProgress } from './model-source';

const CHUNK = 16 << 20;

export class NodeFolderSource implements ModelSource {
  readonly description: string;
  readonly root: string;

  constructor(path: string) {
    this.root = resolve(path);
    this.description = `folder ${this.root}`;
  }

  private pathOf(file: string): string {
    assertSafeFileName(file, this.description);
    const p = resolve(this.root, file);
    if (!p.startsWith(this.root + sep)) throw new ModelSourceError(`${this.description}: "${file}" is outside the folder`);
    return p;
  }

  async list(): Promise<string[]> {
    try {
      const entries = await readdir(this.root, { withFileTypes: true });
      return entries.filter((e) => e.isFile() || e.isSymbolicLink()).map((e) => e.name).sort();
    } catch (e) {
      throw new ModelSourceError(`${this.description}: cannot list the folder: ${(e as Error).message}`);
    }
  }

  async exists(file: string): Promise<boolean> {
    try {
      return (await stat(this.pathOf(file))).isFile();
    } catch (e) {
      if (e instanceof ModelSourceError) throw e;
      return false;
    }
  }

  async read(file: string, onProgress?: ReadProgress): Promise<Uint8Array> {
    const path = this.pathOf(file);
    let handle;
    try {
      handle = await open(path, 'r');
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      throw new ModelSourceError(
        code === 'ENOENT' ? `${this.description}: "${file}" does not exist` : `${this.description}: cannot open "${file}": ${(e as Error).message}`,
      );
    }
    try {
      const size = (await handle.stat()).size;
      const out = new Uint8Array(size);
      let loaded = 0;
      onProgress?.(0, size);
      while (loaded < size) {
        const { bytesRead } = await handle.read(out, loaded, Math.min(CHUNK, size - loaded), loaded);
        if (bytesRead === 0) throw new ModelSourceError(`${this.description}: "${file}" shrank while being read (${loaded} of ${size} bytes)`);
        loaded += bytesRead;
        onProgress?.(loaded, size);
      }
      return out;
    } catch (e) {
      if (e instanceof ModelSourceError) throw e;
      throw new ModelSourceError(`${this.description}: cannot read "${file}": ${(e as Error).message}`);
    } finally {
      await handle.close();
    }
  }
}
