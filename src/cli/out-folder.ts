/** The --out folder of the commands that write a folder of files (export, recipe). */
import { mkdir, readdir, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { CliUsageError } from './errors';

/**
 * Refuses an --out that holds anything (unless `force`, for the commands that offer --force), so that a command never
 * mixes its files with another folder's.
 */
export async function emptyOrNew(dir: string, opts: { force?: boolean } = {}): Promise<void> {
  if (opts.force) return;
  const entries = await readdir(dir).catch((e: NodeJS.ErrnoException) => {
    if (e.code === 'ENOENT') return [];
    throw new CliUsageError(`--out ${dir}: ${e.message}`);
  });
  if (entries.length > 0) {
    throw new CliUsageError(`--out ${dir} is not empty (it holds ${entries.slice(0, 3).join(', ')}${entries.length > 3 ? ', …' : ''}); give a new or empty folder`);
  }
}

/** Writes files by relative path ('/'-separated), creating their folders. */
export async function writeFolder(out: string, files: ReadonlyMap<string, Uint8Array>): Promise<void> {
  for (const [name, bytes] of files) {
    await mkdir(join(out, dirname(name)), { recursive: true });
    await writeFile(join(out, name), bytes);
  }
}
