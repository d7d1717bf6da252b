/**
 * A loopback stand-in for the Hugging Face Hub's file endpoint, `/{owner}/{name}/resolve/{revision}/{file}`,
 * for tests: GET and HEAD, 401/403 for gated repos without the right token, 404 for anything unknown. It
 * records every request.
 */
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
  close(): Promise<void>;
}

const CHUNK = 16 * 1024;

export async function startHubServer(repos: Record<string, HubRepo>): Promise<HubServer> {
  const requests: { method: string; path: string }[] = [];
  const handle = (req: IncomingMessage, res: ServerResponse) => {
    const path = (req.url ?? '/').split('?')[0];
    requests.push({ method: req.method ?? 'GET', path });
    const parts = path.split('/').map(decodeURIComponent);
    // ['', owner, name, 'resolve', revision, ...file]
    const repoId = `${parts[1]}/${parts[2]}`;
    const repo = repos[repoId];
    // Pages from another loopback origin (the studio in e2e tests) may read the answers, as from the Hub.
    res.setHeader('access-control-allow-origin', '*');
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
  const server = createServer(handle);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    requests,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.closeAllConnections();
        server.close((e) => (e ? reject(e) : resolve()));
      }),
  };
}
