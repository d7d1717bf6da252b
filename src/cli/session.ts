/** Loading what a command needs on Node: the model (folder or Hub repo), its tokenizer, the GPU, an adapter. */
import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { acquireNodeGpu } from '../gpu/node-gpu';
import type { GpuContext } from '../gpu/device';
import { GpuModel } from '../engine/gpu-model';
import { GpuLoraSet, loraModuleInits } from '../methods/lora/gpu';
import type { WeightFormat } from '../kernels/weight-format';
import { loadModel, type LoadedModel, type LoadProgress } from '../model-io/load-model';
import { HubSource, type ModelSource } from '../model-io/model-source';
import { NodeFolderSource } from '../model-io/node-folder-source';
import { nodeHubCache } from '../model-io/node-hub-cache';
import { loadTokenizer, type TextTokenizer } from '../model-io/tokenizer';
import { importLoraAdapter, readAdapterFiles, type ImportedLoraAdapter } from '../peft/adapter-files';
import { CliUsageError } from './errors';
import { embeddedModelFolder } from './embedded-assets';

/** "default" (the embedded model), a folder path, or a Hub repo id ("owner/name", optionally "@revision"). */
export function modelSource(arg: string, opts: { endpoint?: string; token?: string } = {}): ModelSource {
  const embedded = embeddedModelFolder(arg);
  if (embedded) {
    if (!existsSync(join(embedded, 'config.json'))) throw new CliUsageError(`--model ${arg}: the embedded model is missing from ${embedded}`);
    return new NodeFolderSource(embedded);
  }
  if (existsSync(arg)) {
    if (!statSync(arg).isDirectory()) throw new CliUsageError(`${arg}: expected a folder, not a file`);
    return new NodeFolderSource(arg);
  }
  const m = /^([A-Za-z0-9][\w.-]*\/[\w.-]+)(?:@([\w./-]+))?$/.exec(arg);
  if (!m) throw new CliUsageError(`--model ${arg}: no such folder, and not a Hub repo id like "owner/name" or "owner/name@revision"`);
  return new HubSource({
    repo: m[1],
    revision: m[2] ?? 'main',
    endpoint: opts.endpoint ?? process.env.PEFT_STUDIO_HUB_ENDPOINT ?? 'https://huggingface.co',
    token: opts.token ?? process.env.HF_TOKEN,
    cache: nodeHubCache(),
  });
}

export interface Session {
  loaded: LoadedModel;
  tokenizer: TextTokenizer;
  gpu: GpuContext;
  model: GpuModel;
  close(): void;
}

export async function openSession(modelArg: string, format: WeightFormat, onProgress?: (p: LoadProgress) => void): Promise<Session> {
  const loaded = await loadModel(modelSource(modelArg), { onProgress });
  const tokenizer = loadTokenizer(loaded.tokenizerJson, loaded.tokenizerConfig);
  const gpu = await acquireNodeGpu();
  try {
    const model = GpuModel.upload(gpu, loaded.config, loaded.weights, format);
    return {
      loaded,
      tokenizer,
      gpu,
      model,
      close() {
        model.destroy();
        gpu.destroy();
      },
    };
  } catch (e) {
    gpu.destroy();
    throw e;
  }
}

/** A PEFT LoRA adapter (a folder or a Hub repo id) read and checked against the session's model. */
export async function importAdapter(session: Session, arg: string): Promise<ImportedLoraAdapter> {
  let source: ModelSource;
  try {
    source = modelSource(arg);
  } catch {
    throw new CliUsageError(`--adapter ${arg}: no such folder, and not a Hub repo id like "owner/name"`);
  }
  return importLoraAdapter(await readAdapterFiles(source), session.loaded.config);
}

/** A PEFT LoRA adapter (a folder or a Hub repo id) loaded onto the session's model, for inference. */
export async function loadAdapter(session: Session, arg: string): Promise<GpuLoraSet> {
  const adapter = await importAdapter(session, arg);
  const inits = loraModuleInits(adapter.config, adapter.targets, adapter.weights, session.loaded.weights, {
    dropout: false,
    biases: adapter.biases,
  });
  return GpuLoraSet.create(session.gpu, session.model, inits);
}
