/**
 * Pushing a folder (an adapter, a merged model) to a Hugging Face Hub model repo with `@huggingface/hub`: the repo
 * is created when it does not exist, then every file goes up in one commit (large files through LFS). The token is
 * only passed through; keeping it is the caller's choice. Errors name the repo, the HTTP status and what to do.
 */
import { createRepo, HubApiError, uploadFilesWithProgress } from '@huggingface/hub';

export const DEFAULT_HUB_ENDPOINT = 'https://huggingface.co';

export class HubPushError extends Error {
  override name = 'HubPushError';
}

/** The Hub's rule for a repo id: "owner/name", letters, digits, "-", "_" and ".", no "--" or "..", at most 96 characters. */
const REPO_ID = /^[A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?\/[A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?$/;

/** Throws a HubPushError naming the repo id and what is expected when it is not a valid model repo id. */
export function checkRepoId(repo: string): void {
  const ok = REPO_ID.test(repo) && !/--|\.\./.test(repo) && repo.split('/')[1].length <= 96 && !repo.split('/')[1].endsWith('.git');
  if (!ok) {
    throw new HubPushError(
      `repo ${JSON.stringify(repo)} is not a valid Hub repo id: expected "owner/name" with letters, digits, "-", "_" and "." ` +
        '(no "--" or "..", not starting or ending with "-" or ".", a name of at most 96 characters)',
    );
  }
}

export interface PushProgress {
  /** "creating the repo", "hashing", "uploading", "committing". */
  phase: string;
  /** The file the event is about, when it is about one. */
  file?: string;
  /** 0..1 for the file. */
  progress?: number;
}

export interface PushOptions {
  repo: string;
  token: string;
  files: ReadonlyMap<string, Uint8Array>;
  endpoint?: string;
  private?: boolean;
  commitTitle?: string;
  onProgress?: (p: PushProgress) => void;
}

export interface PushResult {
  /** The repo's page, e.g. https://huggingface.co/owner/name. */
  url: string;
  commit: string | null;
}

function hubError(repo: string, e: unknown, what: string): HubPushError {
  if (e instanceof HubApiError) {
    const detail = e.message.split('. URL:')[0];
    const advice =
      e.statusCode === 401 || e.statusCode === 403
        ? ': the Hub refused the token (it needs write access to this repo or its owner)'
        : e.statusCode === 404
          ? ': no such repo or owner'
          : '';
    return new HubPushError(`pushing to ${repo}: ${what} failed with HTTP ${e.statusCode}${advice} (${detail})`);
  }
  return new HubPushError(`pushing to ${repo}: ${what} failed: ${e instanceof Error ? e.message : String(e)}`);
}

/** Creates the model repo (an existing one is kept) and commits the files to its main branch. */
export async function pushToHub(o: PushOptions): Promise<PushResult> {
  checkRepoId(o.repo);
  if (o.token.trim() === '') throw new HubPushError(`pushing to ${o.repo} needs a Hub token with write access (https://huggingface.co/settings/tokens)`);
  if (o.files.size === 0) throw new HubPushError(`pushing to ${o.repo}: there are no files to push`);
  const hubUrl = (o.endpoint ?? DEFAULT_HUB_ENDPOINT).replace(/\/+$/, '');
  const credentials = { accessToken: o.token };

  o.onProgress?.({ phase: 'creating the repo' });
  try {
    await createRepo({ repo: { type: 'model', name: o.repo }, hubUrl, ...credentials, ...(o.private === undefined ? {} : { visibility: o.private ? 'private' : 'public' }) });
  } catch (e) {
    // 409: the repo exists already, and the commit goes on top of it.
    if (!(e instanceof HubApiError && e.statusCode === 409)) throw hubError(o.repo, e, 'creating the repo');
  }

  let commit: string | null = null;
  try {
    const upload = uploadFilesWithProgress({
      repo: { type: 'model', name: o.repo },
      hubUrl,
      ...credentials,
      commitTitle: o.commitTitle ?? 'Upload from PEFT Studio',
      files: [...o.files].map(([path, bytes]) => ({ path, content: new Blob([bytes as Uint8Array<ArrayBuffer>]) })),
      useXet: false,
    });
    for (;;) {
      const next = await upload.next();
      if (next.done) {
        commit = next.value?.commit.oid ?? null;
        break;
      }
      const e = next.value;
      if (e.event === 'phase') o.onProgress?.({ phase: e.phase === 'preuploading' ? 'preparing' : e.phase === 'uploadingLargeFiles' ? 'uploading' : 'committing' });
      else o.onProgress?.({ phase: e.state, file: e.path, progress: e.progress });
    }
  } catch (e) {
    throw hubError(o.repo, e, 'uploading the files');
  }
  return { url: `${hubUrl}/${o.repo}`, commit };
}
