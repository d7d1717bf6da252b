/**
 * A loopback stand-in for the Hugging Face Hub, for tests. Reading: the file endpoint
 * `/{owner}/{name}/resolve/{revision}/{file}`, GET and HEAD, 401/403 for gated repos without the right token, 404
 * for anything unknown. Writing (with `writeToken`), the endpoints `@huggingface/hub`'s createRepo and commit use:
 * `POST /api/repos/create` (409 for an existing repo), `POST /api/models/{repo}/preupload/{rev}` (safetensors go
 * to LFS), `POST /{repo}.git/info/lfs/objects/batch` (basic transfer), `PUT /lfs-upload/{oid}` (the sha256 is
 * checked) and `POST /api/models/{repo}/commit/{rev}` (NDJSON); a pushed file can then be read back. 401 without
 * a token, 403 with another. CORS is open, as the Hub's is for pages. It records every request.
 */
import { createHash } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface HubRepo {
  files: Map<string, Uint8Array>;
  /** Default "main". */
  revision?: string;
  /** When set, requests need `Authorization: Bearer <token>`: 401 without one, 403 with another. */
  token?: string;
  /** Send bodies chunked, without content-length. */
  chunked?: boolean;
}

export interface HubServer {
  endpoint: string;
  requests: { method: string; path: string }[];
  /** The commits pushed: the repo, the commit title and the files it wrote. */
  commits: { repo: string; title: string; files: Map<string, Uint8Array> }[];
  close(): Promise<void>;
}

export interface HubServerOptions {
  /** The token that may create repos and push (none: writing is refused with 401). */
  writeToken?: string;
}

function readBody(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

const CHUNK = 16 * 1024;

export async function startHubServer(repos: Record<string, HubRepo>, opts: HubServerOptions = {}): Promise<HubServer> {
  const requests: { method: string; path: string }[] = [];
  const commits: HubServer['commits'] = [];
  const lfs = new Map<string, Uint8Array>();
  let endpoint = '';

  /** Answers with JSON; true, so that a write endpoint can `return json(…)`. */
  const json = (res: ServerResponse, status: number, body: unknown): true => {
    const text = JSON.stringify(body);
    res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
    res.end(text);
    return true;
  };
  /** The write endpoints; false when the path is not one of them. */
  const write = async (req: IncomingMessage, res: ServerResponse, path: string): Promise<boolean> => {
    const create = path === '/api/repos/create';
    const preupload = /^\/api\/models\/([^/]+\/[^/]+)\/preupload\/([^/]+)$/.exec(path);
    const commit = /^\/api\/models\/([^/]+\/[^/]+)\/commit\/([^/]+)$/.exec(path);
    const batch = /^\/([^/]+\/[^/]+)\.git\/info\/lfs\/objects\/batch$/.exec(path);
    const upload = /^\/lfs-upload\/([0-9a-f]{64})$/.exec(path);
    if (!create && !preupload && !commit && !batch && !upload) return false;
    const body = await readBody(req);
    if (!upload) {
      const auth = req.headers.authorization;
      if (!auth || opts.writeToken === undefined) return json(res, 401, { error: 'Invalid username or password.' });
      if (auth !== `Bearer ${opts.writeToken}`) return json(res, 403, { error: 'You don\'t have the rights to create a model under this namespace' });
    }
    if (create) {
      const { name, organization } = JSON.parse(body.toString('utf8')) as { name: string; organization: string };
      const id = `${organization}/${name}`;
      if (repos[id]) return json(res, 409, { error: 'You already created this model repo', url: `${endpoint}/${id}` });
      repos[id] = { files: new Map() };
      return json(res, 200, { url: `${endpoint}/${id}`, name: id });
    }
    const repoId = (preupload ?? commit ?? batch)?.[1];
    if (repoId !== undefined && !repos[repoId]) return json(res, 404, { error: 'Repository not found' });
    if (preupload) {
      const { files } = JSON.parse(body.toString('utf8')) as { files: { path: string }[] };
      return json(res, 200, { files: files.map((f) => ({ path: f.path, uploadMode: f.path.endsWith('.safetensors') ? 'lfs' : 'regular' })) });
    }
    if (batch) {
      const { objects } = JSON.parse(body.toString('utf8')) as { objects: { oid: string; size: number }[] };
      return json(res, 200, {
        transfer: 'basic',
        objects: objects.map((o) => ({ oid: o.oid, size: o.size, actions: { upload: { href: `${endpoint}/lfs-upload/${o.oid}` } } })),
      });
    }
    if (upload) {
      if (createHash('sha256').update(body).digest('hex') !== upload[1]) return json(res, 400, { error: 'sha256 does not match the oid' });
      lfs.set(upload[1], new Uint8Array(body));
      // With a content-length, as storage answers: @huggingface/hub's browser upload (XMLHttpRequest) rebuilds the
      // response from the headers a page may read, and fails on a response that exposes none.
      return json(res, 200, {});
    }
    // commit: one JSON object per line, the header first.
    const lines = body.toString('utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as { key: string; value: Record<string, unknown> });
    const files = new Map<string, Uint8Array>();
    for (const { key, value } of lines) {
      if (key === 'file') files.set(String(value.path), new Uint8Array(Buffer.from(String(value.content), 'base64')));
      if (key === 'lfsFile') {
        const bytes = lfs.get(String(value.oid));
        if (!bytes) return json(res, 400, { error: `LFS object ${String(value.oid)} was not uploaded` });
        files.set(String(value.path), bytes);
      }
    }
    const repo = repos[repoId!];
    for (const [name, bytes] of files) repo.files.set(name, bytes);
    commits.push({ repo: repoId!, title: String(lines[0]?.value.summary ?? ''), files });
    const oid = createHash('sha1').update(String(commits.length)).digest('hex');
    return json(res, 200, { success: true, commitOid: oid, commitUrl: `${endpoint}/${repoId}/commit/${oid}` });
  };

  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    const path = (req.url ?? '/').split('?')[0];
    requests.push({ method: req.method ?? 'GET', path });
    // Pages from another loopback origin (the studio in e2e tests) may read the answers and push, as to the Hub.
    res.setHeader('access-control-allow-origin', '*');
    if (req.method === 'OPTIONS') {
      res.writeHead(204, { 'access-control-allow-methods': 'GET, HEAD, POST, PUT', 'access-control-allow-headers': 'authorization, content-type, accept, x-request-id', 'access-control-max-age': '600' });
      return res.end();
    }
    if ((req.method === 'POST' || req.method === 'PUT') && (await write(req, res, path))) return;
    const parts = path.split('/').map(decodeURIComponent);
    // ['', owner, name, 'resolve', revision, ...file]
    const repoId = `${parts[1]}/${parts[2]}`;
    const repo = repos[repoId];
    const text = (status: number, body: string) => {
      res.writeHead(status, { 'content-type': 'text/plain', 'content-length': Buffer.byteLength(body) });
      res.end(req.method === 'HEAD' ? undefined : body);
    };
    if (!repo || parts[3] !== 'resolve' || parts.length < 6) return text(404, 'Repository not found');
    if (repo.token !== undefined) {
      const auth = req.headers.authorization;
      if (!auth) return text(401, 'Access to this model is restricted; you must be authenticated');
      if (auth !== `Bearer ${repo.token}`) return text(403, 'Access to this model is restricted');
    }
    if (parts[4] !== (repo.revision ?? 'main')) return text(404, 'Revision not found');
    const body = repo.files.get(parts.slice(5).join('/'));
    if (!body) return text(404, 'Entry not found');
    const headers: Record<string, string | number> = { 'content-type': 'application/octet-stream' };
    if (!repo.chunked) headers['content-length'] = body.byteLength;
    res.writeHead(200, headers);
    if (req.method === 'HEAD') return res.end();
    for (let i = 0; i < body.byteLength; i += CHUNK) res.write(body.subarray(i, i + CHUNK));
    res.end();
  };
  const server = createServer((req, res) => {
    handle(req, res).catch((e: unknown) => json(res, 500, { error: String(e) }));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  endpoint = `http://127.0.0.1:${port}`;
  return {
    endpoint,
    requests,
    commits,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.closeAllConnections();
        server.close((e) => (e ? reject(e) : resolve()));
      }),
  };
}
