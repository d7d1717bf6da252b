/**
 * Where a model's files come from: files the user picked in the browser, the Hugging Face Hub (or a mirror with
 * the same URL layout), or a folder on disk under Node (`node-folder-source.ts`, kept apart so that browser
 * bundles never import node:fs).
 */

/** Bytes read so far of one file, and its size when known. */
export type ReadProgress = (loaded: number, total: number | null) => void;

export interface ModelSource {
  /** Names the source in messages, e.g. "folder /tmp/gpt2" or "Hugging Face Hub repo gpt2 (revision main)". */
  readonly description: string;
  /** File names at the top level, when the source can list them. */
  list?(): Promise<string[]>;
  exists(file: string): Promise<boolean>;
  read(file: string, onProgress?: ReadProgress): Promise<Uint8Array>;
}

export class ModelSourceError extends Error {
  override name = 'ModelSourceError';
}

/** A relative file name with no "..", "." or empty segments, no backslashes and no leading slash. */
export function assertSafeFileName(file: string, where: string): void {
  const segments = file.split('/');
  if (file.length === 0 || file.includes('\\') || file.includes('\0') || segments.some((s) => s === '' || s === '.' || s === '..')) {
    throw new ModelSourceError(`${where}: "${file}" is not a plain relative file name`);
  }
}

/** Reads a stream to the end, reporting progress; `total` (when known) sizes the buffer up front. */
export async function readStream(
  stream: ReadableStream<Uint8Array>,
  total: number | null,
  onProgress?: ReadProgress,
): Promise<Uint8Array> {
  const reader = stream.getReader();
  let buf = new Uint8Array(total ?? 1 << 16);
  let loaded = 0;
  onProgress?.(0, total);
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    if (!value || value.byteLength === 0) continue;
    if (loaded + value.byteLength > buf.byteLength) {
      const grown = new Uint8Array(Math.max(buf.byteLength * 2, loaded + value.byteLength));
      grown.set(buf.subarray(0, loaded));
      buf = grown;
    }
    buf.set(value, loaded);
    loaded += value.byteLength;
    onProgress?.(loaded, total !== null && loaded <= total ? total : null);
  }
  return loaded === buf.byteLength ? buf : buf.slice(0, loaded);
}

// ---------------------------------------------------------------------------------------------------------------
// Browser files

function baseName(path: string): string {
  const parts = path.split(/[\\/]/);
  return parts[parts.length - 1];
}

function depth(f: File): number {
  const rel = (f as File & { webkitRelativePath?: string }).webkitRelativePath || f.name;
  return rel.split(/[\\/]/).length;
}

/**
 * Files from `<input type="file" webkitdirectory multiple>`, a directory picker or a drop. Files are matched by
 * name, ignoring directory prefixes; where two share a name, the shallower one wins.
 */
export class BrowserFilesSource implements ModelSource {
  readonly description: string;
  private readonly byName = new Map<string, File>();

  constructor(files: File[] | FileList) {
    const list = Array.from(files);
    for (const f of list) {
      const name = baseName(f.name);
      const prev = this.byName.get(name);
      if (!prev || depth(f) < depth(prev)) this.byName.set(name, f);
    }
    const first = list[0] as (File & { webkitRelativePath?: string }) | undefined;
    const rel = first ? first.webkitRelativePath || first.name : '';
    const folder = rel.includes('/') ? rel.split('/')[0] : null;
    this.description = folder ? `selected folder "${folder}"` : `${list.length} selected file${list.length === 1 ? '' : 's'}`;
  }

  async list(): Promise<string[]> {
    return [...this.byName.keys()].sort();
  }

  async exists(file: string): Promise<boolean> {
    return this.byName.has(baseName(file));
  }

  async read(file: string, onProgress?: ReadProgress): Promise<Uint8Array> {
    const f = this.byName.get(baseName(file));
    if (!f) throw new ModelSourceError(`${this.description}: "${file}" is not among the selected files`);
    try {
      if (typeof f.stream === 'function') return await readStream(f.stream() as ReadableStream<Uint8Array>, f.size, onProgress);
      const bytes = new Uint8Array(await f.arrayBuffer());
      onProgress?.(bytes.byteLength, bytes.byteLength);
      return bytes;
    } catch (e) {
      throw new ModelSourceError(`${this.description}: could not read "${file}": ${(e as Error).message}`);
    }
  }
}

// ---------------------------------------------------------------------------------------------------------------
// A folder served over HTTP (the studio's embedded model)

/** Files under a base URL, with their names known up front (HTTP cannot list a folder). */
export class UrlFolderSource implements ModelSource {
  readonly description: string;
  private readonly base: string;

  constructor(
    base: string,
    private readonly files: readonly string[],
    description?: string,
    private readonly fetchFn: typeof fetch = (input, init) => globalThis.fetch(input, init),
  ) {
    this.base = base.endsWith('/') ? base : `${base}/`;
    this.description = description ?? `folder ${this.base}`;
  }

  async list(): Promise<string[]> {
    return [...this.files].sort();
  }

  async exists(file: string): Promise<boolean> {
    return this.files.includes(file);
  }

  async read(file: string, onProgress?: ReadProgress): Promise<Uint8Array> {
    assertSafeFileName(file, this.description);
    if (!this.files.includes(file)) throw new ModelSourceError(`${this.description}: has no file "${file}"`);
    const url = this.base + file.split('/').map(encodeURIComponent).join('/');
    let res: Response;
    try {
      res = await this.fetchFn(url);
    } catch (e) {
      throw new ModelSourceError(`${this.description}: could not fetch "${file}" (${url}): ${(e as Error).message}`);
    }
    if (!res.ok || !res.body) throw new ModelSourceError(`${this.description}: "${file}": HTTP ${res.status} from ${url}`);
    const length = Number(res.headers.get('content-length'));
    return readStream(res.body, Number.isFinite(length) && length > 0 ? length : null, onProgress);
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Hugging Face Hub

/** Downloaded files by URL. */
export interface HubCache {
  match(url: string): Promise<Uint8Array | null>;
  put(url: string, bytes: Uint8Array): Promise<void>;
  /** Whether an entry exists, without reading it (optional; `match` is used otherwise). */
  has?(url: string): Promise<boolean>;
}

/** A HubCache in memory (tests; or one session). */
export function memoryHubCache(): HubCache & { readonly entries: Map<string, Uint8Array> } {
  const entries = new Map<string, Uint8Array>();
  return {
    entries,
    async match(url) {
      return entries.get(url) ?? null;
    },
    async has(url) {
      return entries.has(url);
    },
    async put(url, bytes) {
      entries.set(url, bytes);
    },
  };
}

/**
 * A HubCache in the browser's Cache Storage (`globalThis.caches`), so that a reload does not download a model
 * again. Entries are keyed by URL, which includes the revision: pin a commit hash to pick up no later changes of
 * a branch. Throws when Cache Storage is not available (it needs a secure context).
 */
export function cacheStorageHubCache(name = 'peft-studio-hub'): HubCache {
  const storage = (globalThis as { caches?: CacheStorage }).caches;
  if (!storage) throw new ModelSourceError('Cache Storage (globalThis.caches) is not available here; it needs a secure context (https or localhost)');
  let opened: Promise<Cache> | null = null;
  const open = () => (opened ??= storage.open(name));
  return {
    async match(url) {
      const res = await (await open()).match(url);
      return res ? new Uint8Array(await res.arrayBuffer()) : null;
    },
    async has(url) {
      return (await (await open()).match(url)) !== undefined;
    },
    async put(url, bytes) {
      const body = bytes.slice().buffer as ArrayBuffer;
      await (await open()).put(
        url,
        new Response(body, { headers: { 'content-type': 'application/octet-stream', 'content-length': String(bytes.byteLength) } }),
      );
    },
  };
}

export interface HubSourceOptions {
  /** "owner/name" (or a legacy single-name repo such as "gpt2"). */
  repo: string;
  /** Branch, tag or commit hash; default "main". */
  revision?: string;
  /** Default "https://huggingface.co". */
  endpoint?: string;
  /** Hugging Face access token, for gated or private repos. */
  token?: string;
  cache?: HubCache;
  /** Default globalThis.fetch. */
  fetch?: typeof fetch;
}

export class HubError extends ModelSourceError {
  override name = 'HubError';
  constructor(
    message: string,
    readonly status: number | null,
    readonly url: string,
  ) {
    super(message);
  }
}

const REPO_RE = /^[A-Za-z0-9][A-Za-z0-9._-]*(\/[A-Za-z0-9][A-Za-z0-9._-]*)?$/;

/** Files of a Hub repo, at `${endpoint}/${repo}/resolve/${revision}/${file}`. */
export class HubSource implements ModelSource {
  readonly description: string;
  readonly repo: string;
  readonly revision: string;
  readonly endpoint: string;
  private readonly token: string | undefined;
  private readonly cache: HubCache | undefined;
  private readonly fetchFn: typeof fetch;

  constructor(opts: HubSourceOptions) {
    if (!REPO_RE.test(opts.repo) || opts.repo.includes('..')) {
      throw new ModelSourceError(`"${opts.repo}" is not a Hugging Face repo id; expected "owner/name", e.g. "HuggingFaceTB/SmolLM2-135M"`);
    }
    this.repo = opts.repo;
    this.revision = opts.revision ?? 'main';
    if (this.revision.length === 0) throw new ModelSourceError(`repo ${opts.repo}: the revision is empty`);
    this.endpoint = (opts.endpoint ?? 'https://huggingface.co').replace(/\/+$/, '');
    this.token = opts.token || undefined;
    this.cache = opts.cache;
    const given = opts.fetch;
    if (!given && typeof globalThis.fetch !== 'function') {
      throw new ModelSourceError('fetch is not available here; pass one in HubSourceOptions.fetch');
    }
    // Called unbound: a browser's fetch refuses any `this` other than the global object.
    this.fetchFn = given ? (input, init) => given(input, init) : (input, init) => globalThis.fetch(input, init);
    this.description = `Hugging Face repo ${this.repo} (revision ${this.revision})`;
  }

  /** The URL of a file. */
  url(file: string): string {
    assertSafeFileName(file, this.description);
    const path = file.split('/').map(encodeURIComponent).join('/');
    return `${this.endpoint}/${this.repo}/resolve/${encodeURIComponent(this.revision)}/${path}`;
  }

  private headers(): Record<string, string> {
    return this.token ? { authorization: `Bearer ${this.token}` } : {};
  }

  private statusError(status: number, statusText: string, file: string, url: string): HubError {
    if (status === 401 || status === 403) {
      return new HubError(
        `${this.repo}: cannot read "${file}" at revision "${this.revision}" (HTTP ${status}${statusText ? ` ${statusText}` : ''}): the model may be gated or private: ` +
          `accept its license on the Hub and pass an access token${this.token ? ' (the token given was refused or lacks access)' : ''}`,
        status,
        url,
      );
    }
    if (status === 404) {
      return new HubError(
        `${this.repo}: "${file}" not found at revision "${this.revision}" (HTTP 404, ${url}): check the repo id, the revision and ` +
          `whether the file exists (only safetensors checkpoints are supported)`,
        status,
        url,
      );
    }
    return new HubError(`${this.repo}: "${file}": HTTP ${status}${statusText ? ` ${statusText}` : ''} from ${url}`, status, url);
  }

  private async request(method: 'GET' | 'HEAD', file: string, url: string): Promise<Response> {
    try {
      return await this.fetchFn(url, { method, headers: this.headers(), redirect: 'follow' });
    } catch (e) {
      const cause = e instanceof Error ? e.message : String(e);
      throw new HubError(`${this.repo}: could not fetch "${file}" from ${url}: ${cause} (network failure, or the endpoint refused the request)`, null, url);
    }
  }

  async exists(file: string): Promise<boolean> {
    const url = this.url(file);
    if (this.cache && (await this.cacheHas(url))) return true;
    const res = await this.request('HEAD', file, url);
    if (res.ok) return true;
    if (res.status === 404) return false;
    throw this.statusError(res.status, res.statusText, file, url);
  }

  private async cacheHas(url: string): Promise<boolean> {
    try {
      if (this.cache?.has) return await this.cache.has(url);
      return (await this.cache?.match(url)) != null;
    } catch {
      return false;
    }
  }

  private async cacheMatch(url: string): Promise<Uint8Array | null> {
    try {
      return (await this.cache?.match(url)) ?? null;
    } catch {
      return null;
    }
  }

  async read(file: string, onProgress?: ReadProgress): Promise<Uint8Array> {
    const url = this.url(file);
    const cached = await this.cacheMatch(url);
    if (cached) {
      onProgress?.(cached.byteLength, cached.byteLength);
      return cached;
    }
    const res = await this.request('GET', file, url);
    if (!res.ok) {
      await res.body?.cancel().catch(() => undefined);
      throw this.statusError(res.status, res.statusText, file, url);
    }
    // content-length counts encoded bytes when a content-encoding applies; the body stream is decoded.
    const lengthHeader = res.headers.get('content-length');
    const encoded = (res.headers.get('content-encoding') ?? 'identity') !== 'identity';
    const total = lengthHeader !== null && !encoded && /^\d+$/.test(lengthHeader) ? Number(lengthHeader) : null;
    let bytes: Uint8Array;
    try {
      if (res.body) {
        bytes = await readStream(res.body, total, onProgress);
      } else {
        bytes = new Uint8Array(await res.arrayBuffer());
      }
    } catch (e) {
      throw new HubError(`${this.repo}: download of "${file}" from ${url} failed: ${(e as Error).message}`, null, url);
    }
    if (total !== null && bytes.byteLength !== total) {
      throw new HubError(`${this.repo}: download of "${file}" from ${url} was cut short: got ${bytes.byteLength} of ${total} bytes`, null, url);
    }
    onProgress?.(bytes.byteLength, bytes.byteLength);
    if (this.cache) {
      try {
        await this.cache.put(url, bytes);
      } catch {
        // A full or unavailable cache costs a download next time, not this load.
      }
    }
    return bytes;
  }
}
