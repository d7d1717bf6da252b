/**
 * peft-studio push --repo owner/name DIR [--private] [--endpoint URL]
 * Pushes the files of DIR (an adapter folder from train, a merged model or an ONNX folder from export), sub-folders
 * such as onnx/ included, but not the training state in checkpoint/ nor hidden files, to a Hub model repo, creating
 * it when needed, with the token in HF_TOKEN.
 */
import { readdir, readFile } from 'node:fs/promises';
import { join, relative, sep } from 'node:path';
import { DEFAULT_HUB_ENDPOINT, pushToHub } from '../../deploy/hub-push';
import { CliUsageError } from '../errors';
import { str, type CliFlags, type Values } from '../flags';

/** The training state train writes next to the adapter; it stays home. */
const CHECKPOINT_DIR = 'checkpoint';

export const PUSH_FLAGS: CliFlags = {
  repo: { type: 'string', value: 'OWNER/NAME', required: true, help: 'The Hub model repo to push to; it is created when it does not exist.' },
  dir: { type: 'string', value: 'DIR', required: true, positional: true, help: 'The folder whose files are pushed, with its sub-folders (onnx/), but not checkpoint/ (training state) nor hidden files.' },
  private: { type: 'boolean', help: 'Creates the repo private (an existing repo keeps its visibility).' },
  endpoint: { type: 'string', value: 'URL', default: DEFAULT_HUB_ENDPOINT, help: 'The Hub (or a mirror); also PEFT_STUDIO_HUB_ENDPOINT.' },
};

export async function pushCommand(values: Values): Promise<void> {
  const repo = str(values, 'repo', true);
  const dir = str(values, 'dir', true);
  const token = process.env.HF_TOKEN ?? '';
  if (token === '') throw new CliUsageError('push needs a Hub token with write access in HF_TOKEN (https://huggingface.co/settings/tokens)');
  const entries = await readdir(dir, { withFileTypes: true, recursive: true }).catch((e: NodeJS.ErrnoException) => {
    throw new CliUsageError(`${dir}: ${e.code === 'ENOENT' ? 'no such folder' : e.message}`);
  });
  const files = new Map<string, Uint8Array>();
  for (const e of entries) {
    const path = relative(dir, join(e.parentPath, e.name)).split(sep).join('/');
    if (!e.isFile() || path.split('/').some((part) => part.startsWith('.')) || path.startsWith(`${CHECKPOINT_DIR}/`)) continue;
    files.set(path, new Uint8Array(await readFile(join(dir, path))));
  }
  if (files.size === 0) throw new CliUsageError(`${dir} has no files to push`);
  const endpoint = str(values, 'endpoint') ?? process.env.PEFT_STUDIO_HUB_ENDPOINT ?? DEFAULT_HUB_ENDPOINT;
  let last = '';
  const result = await pushToHub({
    repo,
    token,
    files,
    endpoint,
    private: values.private === true ? true : undefined,
    onProgress: (p) => {
      const line = p.file ? `${p.phase} ${p.file}` : p.phase;
      if (line !== last && (p.progress === undefined || p.progress === 1)) process.stderr.write(`${line}\n`);
      last = line;
    },
  });
  process.stderr.write(`pushed ${[...files.keys()].sort().join(', ')} to ${result.url}${result.commit ? ` (commit ${result.commit.slice(0, 7)})` : ''}\n`);
  process.stdout.write(`${result.url}\n`);
}
