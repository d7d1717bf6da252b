/**
 * Pushing to the Hub (src/deploy/hub-push.ts, through @huggingface/hub) against the loopback Hub: a new repo is
 * created and every file arrives intact (the safetensors through LFS), an existing repo takes a second commit, and
 * a refused token and a bad repo id are errors that name the repo (and the status).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkRepoId, HubPushError, pushToHub, type PushProgress } from '../src/deploy/hub-push';
import { startHubServer, type HubServer } from './helpers/hub-server';

const TOKEN = 'hf_write_token';
const enc = new TextEncoder();

describe('pushToHub', () => {
  let hub: HubServer;
  beforeAll(async () => {
    hub = await startHubServer({}, { writeToken: TOKEN });
  });
  afterAll(() => hub.close());

  const files = new Map<string, Uint8Array>([
    ['adapter_config.json', enc.encode('{"peft_type": "LORA"}')],
    ['adapter_model.safetensors', Uint8Array.from({ length: 5000 }, (_, i) => (i * 7) % 251)],
    ['README.md', enc.encode('---\nlibrary_name: peft\n---\n# card')],
  ]);

  it('creates the repo and commits every file, the large one through LFS, reporting progress', async () => {
    const events: PushProgress[] = [];
    const result = await pushToHub({ repo: 'me/pirate-lora', token: TOKEN, files, endpoint: hub.endpoint, onProgress: (p) => events.push(p) });
    expect(result.url).toBe(`${hub.endpoint}/me/pirate-lora`);
    expect(result.commit).toMatch(/^[0-9a-f]{40}$/);
    expect(hub.commits).toHaveLength(1);
    expect(hub.commits[0].repo).toBe('me/pirate-lora');
    expect(hub.commits[0].title).toBe('Upload from PEFT Studio');
    expect(new Map([...hub.commits[0].files].sort())).toEqual(new Map([...files].sort()));
    const paths = hub.requests.map((r) => `${r.method} ${r.path}`);
    expect(paths).toContain('POST /api/repos/create');
    expect(paths).toContain('POST /me/pirate-lora.git/info/lfs/objects/batch');
    expect(paths.filter((p) => p.startsWith('PUT /lfs-upload/'))).toHaveLength(1);
    expect(events[0]).toEqual({ phase: 'creating the repo' });
    expect(events.map((e) => e.phase)).toContain('committing');
    expect(events.some((e) => e.file === 'adapter_model.safetensors' && e.progress === 1)).toBe(true);
  });

  it('pushes again to a repo that exists', async () => {
    await pushToHub({ repo: 'me/pirate-lora', token: TOKEN, files: new Map([['README.md', enc.encode('v2')]]), endpoint: hub.endpoint, commitTitle: 'second' });
    expect(hub.commits.at(-1)!.title).toBe('second');
    expect([...hub.commits.at(-1)!.files.keys()]).toEqual(['README.md']);
  });

  it('says when the Hub refuses the token, naming the repo and the status', async () => {
    await expect(pushToHub({ repo: 'me/other', token: 'hf_wrong', files, endpoint: hub.endpoint })).rejects.toThrow(
      /^pushing to me\/other: creating the repo failed with HTTP 403: the Hub refused the token \(it needs write access to this repo or its owner\)/,
    );
    await expect(pushToHub({ repo: 'me/other', token: ' ', files, endpoint: hub.endpoint })).rejects.toThrow('pushing to me/other needs a Hub token with write access');
  });

  it('refuses a repo id that is not "owner/name" before any request', async () => {
    const before = hub.requests.length;
    for (const bad of ['pirate-lora', 'me/', 'me/a--b', 'me/-x', 'a/b/c', 'me/x.git', `me/${'x'.repeat(97)}`]) {
      expect(() => checkRepoId(bad), bad).toThrow(HubPushError);
      await expect(pushToHub({ repo: bad, token: TOKEN, files, endpoint: hub.endpoint })).rejects.toThrow(`repo ${JSON.stringify(bad)} is not a valid Hub repo id`);
    }
    for (const good of ['me/pirate-lora', 'HuggingFaceTB/SmolLM2-135M', 'a/b.c_d-e']) expect(() => checkRepoId(good)).not.toThrow();
    expect(hub.requests.length).toBe(before);
  });
});
