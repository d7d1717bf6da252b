/**
 * Where runs are kept: in the browser's origin-private file system (OPFS), each run in peft-studio/runs/<id>/ (its
 * record in run.json, its adapter's PEFT files in adapter/), next to the worker's checkpoints in
 * peft-studio/checkpoints/<id>. Deleting a run removes both. An in-memory storage with the same interface serves
 * tests and browsers without OPFS.
 */
import { afterReload, RUN_RECORD_VERSION, type RunRecord } from './run-record';

export interface RunStorage {
  /** Every kept run, as found (a run that was running when the page closed comes back interrupted). */
  list(): Promise<RunRecord[]>;
  write(record: RunRecord): Promise<void>;
  /** Deletes the run: its record, its adapter files and its checkpoints. */
  remove(id: string): Promise<void>;
  saveAdapter(id: string, files: ReadonlyMap<string, Uint8Array>): Promise<void>;
  /** The run's adapter files, or null when none were kept. */
  loadAdapter(id: string): Promise<File[] | null>;
  /** Bytes the run keeps: its adapter files and its checkpoints (for the delete confirmation). */
  sizes(id: string): Promise<{ adapterBytes: number; checkpointBytes: number }>;
}

const ROOT = 'peft-studio';
const RUN_FILE = 'run.json';

/** A record as read from storage, or null when it is not one (another version, or damaged). */
export function parseRecord(text: string): RunRecord | null {
  try {
    const v = JSON.parse(text) as RunRecord;
    if (v?.version !== RUN_RECORD_VERSION || typeof v.id !== 'string' || typeof v.name !== 'string' || !Array.isArray(v.steps)) return null;
    if (!v.model || !v.peftMethod || !v.method || !v.data) return null;
    return afterReload(v);
  } catch {
    return null;
  }
}

async function dir(path: string[], create: boolean): Promise<FileSystemDirectoryHandle> {
  let d = await navigator.storage.getDirectory();
  for (const part of path) d = await d.getDirectoryHandle(part, { create });
  return d;
}

async function writeFile(d: FileSystemDirectoryHandle, name: string, bytes: Uint8Array | string): Promise<void> {
  const writable = await (await d.getFileHandle(name, { create: true })).createWritable();
  await writable.write(typeof bytes === 'string' ? bytes : (bytes as Uint8Array<ArrayBuffer>));
  await writable.close();
}

async function folderBytes(d: FileSystemDirectoryHandle): Promise<number> {
  let total = 0;
  for await (const [, handle] of (d as unknown as { entries(): AsyncIterable<[string, FileSystemHandle]> }).entries()) {
    if (handle.kind === 'file') total += (await (handle as FileSystemFileHandle).getFile()).size;
    else total += await folderBytes(handle as FileSystemDirectoryHandle);
  }
  return total;
}

async function removeQuietly(path: string[], name: string): Promise<void> {
  try {
    await (await dir(path, false)).removeEntry(name, { recursive: true });
  } catch (e) {
    if ((e as DOMException).name !== 'NotFoundError') throw e;
  }
}

async function bytesOf(path: string[]): Promise<number> {
  try {
    return await folderBytes(await dir(path, false));
  } catch {
    return 0;
  }
}

export class OpfsRunStorage implements RunStorage {
  /** Writes of one run happen in order, one at a time. */
  private readonly queues = new Map<string, Promise<void>>();

  private queued(id: string, job: () => Promise<void>): Promise<void> {
    const next = (this.queues.get(id) ?? Promise.resolve()).then(job, job);
    this.queues.set(id, next.catch(() => {}));
    return next;
  }

  async list(): Promise<RunRecord[]> {
    let runs: FileSystemDirectoryHandle;
    try {
      runs = await dir([ROOT, 'runs'], false);
    } catch {
      return [];
    }
    const out: RunRecord[] = [];
    for await (const [, handle] of (runs as unknown as { entries(): AsyncIterable<[string, FileSystemHandle]> }).entries()) {
      if (handle.kind !== 'directory') continue;
      try {
        const file = await (await (handle as FileSystemDirectoryHandle).getFileHandle(RUN_FILE)).getFile();
        const record = parseRecord(await file.text());
        if (record) out.push(record);
      } catch {
        // a folder without a readable record: not a run (a delete cut short)
      }
    }
    return out;
  }

  write(record: RunRecord): Promise<void> {
    const text = JSON.stringify(record);
    return this.queued(record.id, async () => writeFile(await dir([ROOT, 'runs', record.id], true), RUN_FILE, text));
  }

  remove(id: string): Promise<void> {
    return this.queued(id, async () => {
      // The record goes first: a delete cut short leaves no run listed without its files.
      await removeQuietly([ROOT, 'runs'], id);
      await removeQuietly([ROOT, 'checkpoints'], id);
    });
  }

  saveAdapter(id: string, files: ReadonlyMap<string, Uint8Array>): Promise<void> {
    return this.queued(id, async () => {
      const d = await dir([ROOT, 'runs', id, 'adapter'], true);
      for (const [name, bytes] of files) await writeFile(d, name, bytes);
    });
  }

  async loadAdapter(id: string): Promise<File[] | null> {
    try {
      const d = await dir([ROOT, 'runs', id, 'adapter'], false);
      const files: File[] = [];
      for await (const [, handle] of (d as unknown as { entries(): AsyncIterable<[string, FileSystemHandle]> }).entries()) {
        if (handle.kind === 'file') files.push(await (handle as FileSystemFileHandle).getFile());
      }
      return files.length > 0 ? files : null;
    } catch {
      return null;
    }
  }

  async sizes(id: string): Promise<{ adapterBytes: number; checkpointBytes: number }> {
    return { adapterBytes: await bytesOf([ROOT, 'runs', id, 'adapter']), checkpointBytes: await bytesOf([ROOT, 'checkpoints', id]) };
  }
}

/** Runs in memory: for tests, and for browsers without OPFS (the runs then last as long as the page). */
export class MemoryRunStorage implements RunStorage {
  readonly records = new Map<string, string>();
  readonly adapters = new Map<string, Map<string, Uint8Array>>();

  async list(): Promise<RunRecord[]> {
    return [...this.records.values()].map(parseRecord).filter((r): r is RunRecord => r !== null);
  }

  async write(record: RunRecord): Promise<void> {
    this.records.set(record.id, JSON.stringify(record));
  }

  async remove(id: string): Promise<void> {
    this.records.delete(id);
    this.adapters.delete(id);
  }

  async saveAdapter(id: string, files: ReadonlyMap<string, Uint8Array>): Promise<void> {
    this.adapters.set(id, new Map(files));
  }

  async loadAdapter(id: string): Promise<File[] | null> {
    const files = this.adapters.get(id);
    return files ? [...files].map(([name, bytes]) => new File([bytes as Uint8Array<ArrayBuffer>], name)) : null;
  }

  async sizes(id: string): Promise<{ adapterBytes: number; checkpointBytes: number }> {
    let adapterBytes = 0;
    for (const bytes of this.adapters.get(id)?.values() ?? []) adapterBytes += bytes.length;
    return { adapterBytes, checkpointBytes: 0 };
  }
}

/** OPFS where the browser has it, else memory. */
export function defaultRunStorage(): RunStorage {
  return typeof navigator !== 'undefined' && navigator.storage && typeof navigator.storage.getDirectory === 'function'
    ? new OpfsRunStorage()
    : new MemoryRunStorage();
}
