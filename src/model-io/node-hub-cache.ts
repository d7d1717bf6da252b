/** A Hub download cache on disk for Node (~/.cache/peft-studio/hub, or $PEFT_STUDIO_CACHE), keyed by URL. */
import { createHash } from 'node:crypto';
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import type { HubCache } from './model-source';

export function nodeHubCache(dir = process.env.PEFT_STUDIO_CACHE ?? join(homedir(), '.cache', 'peft-studio', 'hub')): HubCache {
  const pathOf = (url: string) => join(dir, createHash('sha256').update(url).digest('hex'));
  return {
    async match(url) {
      try {
        return new Uint8Array(await readFile(pathOf(url)));
      } catch {
        return null;
      }
    },
    async put(url, bytes) {
      await mkdir(dir, { recursive: true });
      const tmp = `${pathOf(url)}.${process.pid}.tmp`;
      await writeFile(tmp, bytes);
      await rename(tmp, pathOf(url));
    },
  };
}
