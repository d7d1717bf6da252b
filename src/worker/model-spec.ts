/** Where a model named by the protocol's `TrainModelSpec` is read from, inside the worker. */
import { DEFAULT_MODEL } from '../model-io/embedded';
import { BrowserFilesSource, cacheStorageHubCache, HubSource, UrlFolderSource, type HubCache, type ModelSource } from '../model-io/model-source';
import type { TrainModelSpec } from './protocol';
import { publicUrl } from '../util/public-url';

export interface ResolvedModelSpec {
  source: ModelSource;
  /** What adapter_config.json's base_model_name_or_path says. */
  nameOrPath: string;
  revision: string | null;
}


export async function resolveModelSpec(spec: TrainModelSpec, log: (message: string) => void): Promise<ResolvedModelSpec> {
  if (spec.kind === 'loaded') throw new TypeError("model kind 'loaded' names the model the worker holds, not a source to read");
  if (spec.kind === 'default') {
    return {
      source: new UrlFolderSource(publicUrl(`${DEFAULT_MODEL.folder}/`), DEFAULT_MODEL.files, `embedded model ${DEFAULT_MODEL.id}`),
      nameOrPath: DEFAULT_MODEL.id,
      revision: null,
    };
  }
  if (spec.kind === 'tiny') {
    if (import.meta.env.TEST_BUILD) {
      // A test fixture, imported here only, so that no other build contains it.
      const { makeTinyModel } = await import('../../tests/fixtures/tiny-models');
      return {
        source: new BrowserFilesSource([...makeTinyModel(spec.arch)].map(([name, bytes]) => new File([bytes], name))),
        nameOrPath: `tiny-${spec.arch}`,
        revision: null,
      };
    }
    throw new TypeError("model kind 'tiny' exists in the test build only (vite build --mode e2e)");
  }
  if (spec.kind === 'hub') {
    let cache: HubCache | undefined;
    try {
      cache = cacheStorageHubCache();
    } catch {
      log('Cache Storage is not available here: the model is downloaded again next time');
    }
    const hub = new HubSource({ repo: spec.repo, revision: spec.revision, endpoint: spec.endpoint, cache });
    return { source: hub, nameOrPath: hub.repo, revision: spec.revision ?? null };
  }
  const rel = (spec.files[0] as File & { webkitRelativePath?: string }).webkitRelativePath ?? '';
  return { source: new BrowserFilesSource(spec.files), nameOrPath: rel.includes('/') ? rel.split('/')[0] : 'local-model', revision: null };
}
