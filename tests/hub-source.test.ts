import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadModel, type LoadProgress } from '../src/model-io/load-model';
import { BrowserFilesSource, cacheStorageHubCache, HubError, HubSource, memoryHubCache } from '../src/model-io/model-source';
import { makeTinyModel, shardCheckpoint } from './fixtures/tiny-models';
import { startHubServer, type HubServer } from './helpers/hub-server';

const llama = makeTinyModel('llama', { seed: 3 });
const qwen = shardCheckpoint(makeTinyModel('qwen2', { seed: 4 }), 2);
let hub: HubServer;

beforeAll(async () => {
  hub = await startHubServer({
    'tiny/llama': { files: llama },
    'tiny/qwen2-sharded': { files: qwen, revision: 'v1.0', chunked: true },
    'tiny/gated': { files: llama, token: 'hf_secret' },
  });
});
afterAll(async () => {
  await hub?.close();
});

async function error(p: Promise<unknown>): Promise<Error> {
  try {
    await p;
  } catch (e) {
    return e as Error;
  }
  throw new Error('expected a failure');
}

function requestsDuring(): () => { method: string; path: string }[] {
  const start = hub.requests.length;
  return () => hub.requests.slice(start);
}

describe('HubSource', () => {
  it('builds resolve URLs', () => {
    const s = new HubSource({ repo: 'org/model', revision: 'refs/pr/1', endpoint: 'https://example.test/' });
    expect(s.url('model.safetensors')).toBe('https://example.test/org/model/resolve/refs%2Fpr%2F1/model.safetensors');
    expect(new HubSource({ repo: 'gpt2' }).url('config.json')).toBe('https://huggingface.co/gpt2/resolve/main/config.json');
    expect(() => new HubSource({ repo: 'not a repo' })).toThrow(/not a Hugging Face repo id/);
    expect(() => s.url('../secret')).toThrow(/not a plain relative file name/);
  });

  it('loads the same weights as the folder source, with monotone progress ending at each file size', async () => {
    const progress: LoadProgress[] = [];
    const viaHub = await loadModel(new HubSource({ repo: 'tiny/llama', endpoint: hub.endpoint }), { onProgress: (p) => progress.push(p) });
    const local = await loadModel(new BrowserFilesSource([...llama].map(([n, b]) => new File([b], n))));
    expect(viaHub.source).toBe('Hugging Face repo tiny/llama (revision main)');
    expect([...viaHub.weights.keys()]).toEqual([...local.weights.keys()]);
    for (const [name, w] of local.weights) expect(viaHub.weights.get(name)!.data, name).toEqual(w.data);
    expect(viaHub.tokenizerJson).toEqual(local.tokenizerJson);

    const size = llama.get('model.safetensors')!.byteLength;
    const bytes = progress.filter((p) => p.phase === 'weights' && p.loaded !== undefined);
    expect(bytes.length).toBeGreaterThan(3); // streamed in several chunks
    for (let i = 1; i < bytes.length; i++) expect(bytes[i].loaded!).toBeGreaterThanOrEqual(bytes[i - 1].loaded!);
    expect(bytes.slice(1).every((p) => p.total === size)).toBe(true);
    expect(bytes[bytes.length - 1].loaded).toBe(size);
  });

  it('reports progress without content-length and loads a sharded checkpoint at a revision', async () => {
    const src = new HubSource({ repo: 'tiny/qwen2-sharded', revision: 'v1.0', endpoint: hub.endpoint });
    const seen: [number, number | null][] = [];
    const shard = 'model-00001-of-00002.safetensors';
    const bytes = await src.read(shard, (l, t) => seen.push([l, t]));
    expect(bytes).toEqual(qwen.get(shard));
    expect(seen.slice(0, -1).every(([, t]) => t === null)).toBe(true);
    for (let i = 1; i < seen.length; i++) expect(seen[i][0]).toBeGreaterThanOrEqual(seen[i - 1][0]);
    expect(seen[seen.length - 1]).toEqual([bytes.byteLength, bytes.byteLength]);
    const m = await loadModel(src);
    expect(m.checkpointFiles).toHaveLength(2);
    expect(m.config.modelType).toBe('qwen2');
  });

  it('a second load through a HubCache makes no requests', async () => {
    const cache = memoryHubCache();
    const first = requestsDuring();
    const a = await loadModel(new HubSource({ repo: 'tiny/llama', endpoint: hub.endpoint, cache }));
    expect(first().length).toBeGreaterThan(0);
    expect(cache.entries.size).toBe(5);
    const second = requestsDuring();
    const progress: LoadProgress[] = [];
    const b = await loadModel(new HubSource({ repo: 'tiny/llama', endpoint: hub.endpoint, cache }), { onProgress: (p) => progress.push(p) });
    expect(second()).toEqual([]);
    for (const [name, w] of a.weights) expect(b.weights.get(name)!.data).toEqual(w.data);
    const last = progress.filter((p) => p.phase === 'weights').pop()!;
    expect(last.loaded).toBe(llama.get('model.safetensors')!.byteLength);
    // A cache with only match/put works the same.
    const plain = { match: cache.match, put: cache.put };
    const third = requestsDuring();
    await loadModel(new HubSource({ repo: 'tiny/llama', endpoint: hub.endpoint, cache: plain }));
    expect(third()).toEqual([]);
  });

  it('exists() uses HEAD', async () => {
    const src = new HubSource({ repo: 'tiny/llama', endpoint: hub.endpoint });
    const during = requestsDuring();
    expect(await src.exists('config.json')).toBe(true);
    expect(await src.exists('model.safetensors.index.json')).toBe(false);
    expect(during().map((r) => r.method)).toEqual(['HEAD', 'HEAD']);
  });

  it('a gated repo: 401 without a token, 403 with a wrong one, loads with the right one', async () => {
    const e = await error(new HubSource({ repo: 'tiny/gated', endpoint: hub.endpoint }).read('config.json'));
    expect(e).toBeInstanceOf(HubError);
    expect((e as HubError).status).toBe(401);
    expect(e.message).toContain('tiny/gated');
    expect(e.message).toContain('"config.json"');
    expect(e.message).toContain('the model may be gated or private: accept its license on the Hub and pass an access token');
    // loadModel surfaces it from its first probe.
    const e2 = await error(loadModel(new HubSource({ repo: 'tiny/gated', endpoint: hub.endpoint })));
    expect(e2.message).toContain('gated or private');
    const e3 = await error(new HubSource({ repo: 'tiny/gated', endpoint: hub.endpoint, token: 'wrong' }).read('config.json'));
    expect((e3 as HubError).status).toBe(403);
    expect(e3.message).toContain('gated or private');
    const m = await loadModel(new HubSource({ repo: 'tiny/gated', endpoint: hub.endpoint, token: 'hf_secret' }));
    expect(m.config.modelType).toBe('llama');
  });

  it('404: names repo, file and revision, and what to check', async () => {
    const e = await error(new HubSource({ repo: 'tiny/llama', endpoint: hub.endpoint }).read('pytorch_model.bin'));
    expect((e as HubError).status).toBe(404);
    expect(e.message).toContain('tiny/llama');
    expect(e.message).toContain('"pytorch_model.bin"');
    expect(e.message).toContain('revision "main"');
    expect(e.message).toContain('check the repo id, the revision and whether the file exists (only safetensors checkpoints are supported)');
    const e2 = await error(loadModel(new HubSource({ repo: 'tiny/llama', revision: 'nope', endpoint: hub.endpoint })));
    expect(e2.message).toContain('config.json not found');
  });

  it('network failures and other statuses name the URL', async () => {
    const closed = createServer();
    await new Promise<void>((r) => closed.listen(0, '127.0.0.1', r));
    const { port } = closed.address() as AddressInfo;
    await new Promise<void>((r) => closed.close(() => r()));
    const e = await error(new HubSource({ repo: 'tiny/llama', endpoint: `http://127.0.0.1:${port}` }).read('config.json'));
    expect(e).toBeInstanceOf(HubError);
    expect(e.message).toContain(`http://127.0.0.1:${port}/tiny/llama/resolve/main/config.json`);

    const fake = (async () => new Response('boom', { status: 500, statusText: 'Internal Server Error' })) as typeof fetch;
    const e2 = await error(new HubSource({ repo: 'o/m', endpoint: 'https://hub.test', fetch: fake }).read('config.json'));
    expect(e2.message).toContain('HTTP 500');
    expect(e2.message).toContain('https://hub.test/o/m/resolve/main/config.json');

    const short = (async () => new Response(new Uint8Array(10), { headers: { 'content-length': '20' } })) as typeof fetch;
    const e3 = await error(new HubSource({ repo: 'o/m', endpoint: 'https://hub.test', fetch: short }).read('x.json'));
    expect(e3.message).toMatch(/x\.json/);
  });

  it('cacheStorageHubCache stores bytes in Cache Storage', async () => {
    const stores = new Map<string, Map<string, Response>>();
    const fakeCaches = {
      async open(name: string) {
        const m = stores.get(name) ?? new Map<string, Response>();
        stores.set(name, m);
        return {
          async match(url: string) {
            return m.get(url)?.clone();
          },
          async put(url: string, res: Response) {
            m.set(url, res);
          },
        };
      },
    };
    const g = globalThis as { caches?: unknown };
    const before = g.caches;
    g.caches = fakeCaches;
    try {
      const cache = cacheStorageHubCache();
      expect(await cache.match('https://hub.test/a')).toBeNull();
      await cache.put('https://hub.test/a', new Uint8Array([1, 2, 3]));
      expect(stores.get('peft-studio-hub')!.has('https://hub.test/a')).toBe(true);
      expect([...(await cache.match('https://hub.test/a'))!]).toEqual([1, 2, 3]);
      expect(await cache.has!('https://hub.test/a')).toBe(true);
      expect(await cache.has!('https://hub.test/b')).toBe(false);
    } finally {
      g.caches = before;
    }
    if (before === undefined) expect(() => cacheStorageHubCache()).toThrow(/Cache Storage/);
  });
});
