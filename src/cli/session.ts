/** Loading what a command needs on Node: the model (folder or Hub repo), its tokenizer, the GPU, an adapter. */
import { existsSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { acquireNodeGpu } from '../gpu/node-gpu';
import type { GpuContext, KernelProfile } from '../gpu/device';
import { settleKernelProfile } from '../kernels/kernel-profile';
import { DEFAULT_MODEL } from '../model-io/embedded';
import { GpuModel } from '../engine/gpu-model';
import type { TrainedAdapter } from '../methods/method';
import type { ModelConfig } from '../model/config';
import { loadAdapterFiles } from '../methods/runtimes';
import type { TrainingBase } from '../trainer/training-run';
import type { WeightFormat } from '../kernels/weight-format';
import { loadModel, ModelLoadError, readModelConfigFile, type LoadedModel, type LoadProgress } from '../model-io/load-model';
import { HubSource, type ModelSource } from '../model-io/model-source';
import { NodeFolderSource } from '../model-io/node-folder-source';
import { nodeHubCache } from '../model-io/node-hub-cache';
import { loadTokenizer, type TextTokenizer } from '../model-io/tokenizer';
import { readAdapterFiles } from '../peft/adapter-files';
import { CliUsageError } from './errors';
import { embeddedModelFolder } from './embedded-assets';

/** A --model argument: "default" (the embedded model), a folder path, or a Hub repo id ("owner/name", optionally "@revision"). */
export type ModelArg = { kind: 'embedded'; folder: string } | { kind: 'folder'; path: string } | { kind: 'hub'; repo: string; revision: string | null };

export function parseModelArg(arg: string): ModelArg {
  const embedded = embeddedModelFolder(arg);
  if (embedded) return { kind: 'embedded', folder: embedded };
  if (existsSync(arg)) return { kind: 'folder', path: arg };
  const m = /^([A-Za-z0-9][\w.-]*\/[\w.-]+)(?:@([\w./-]+))?$/.exec(arg);
  if (!m) throw new CliUsageError(`--model ${arg}: no such folder, and not a Hub repo id like "owner/name" or "owner/name@revision"`);
  return { kind: 'hub', repo: m[1], revision: m[2] ?? null };
}

/** What adapter_config.json names as the base model: PEFT's base_model_name_or_path and revision (null unless given). */
export function baseModelName(arg: string): { nameOrPath: string; revision: string | null } {
  const m = parseModelArg(arg);
  if (m.kind === 'embedded') return { nameOrPath: DEFAULT_MODEL.id, revision: null };
  if (m.kind === 'folder') return { nameOrPath: arg, revision: null };
  return { nameOrPath: m.repo, revision: m.revision };
}

/**
 * The base model a recipe (src/recipe) loads with transformers: a Hub repo id and its revision as given, or else an
 * absolute path, which the GPU machine needs a copy of (or a Hub copy named instead); `kind` says which (the embedded
 * model is a folder that is not on the Hub).
 */
export function recipeBaseModel(arg: string): { base: { nameOrPath: string; revision: string | null }; kind: ModelArg['kind'] } {
  const m = parseModelArg(arg);
  if (m.kind === 'hub') return { base: { nameOrPath: m.repo, revision: m.revision }, kind: m.kind };
  return { base: { nameOrPath: m.kind === 'embedded' ? m.folder : resolve(m.path), revision: null }, kind: m.kind };
}

/** The model's config.json alone, parsed: what needs no weights (a recipe) reads no more (a Hub model downloads one file). */
export async function readModelConfig(arg: string): Promise<ModelConfig> {
  try {
    return (await readModelConfigFile(modelSource(arg))).config;
  } catch (e) {
    if (e instanceof ModelLoadError) throw new CliUsageError(`--model ${arg}: ${e.message}`);
    throw e;
  }
}

export function modelSource(arg: string, opts: { endpoint?: string; token?: string } = {}): ModelSource {
  const m = parseModelArg(arg);
  if (m.kind === 'embedded') {
    if (!existsSync(join(m.folder, 'config.json'))) throw new CliUsageError(`--model ${arg}: the embedded model is missing from ${m.folder}`);
    return new NodeFolderSource(m.folder);
  }
  if (m.kind === 'folder') {
    if (!statSync(m.path).isDirectory()) throw new CliUsageError(`${arg}: expected a folder, not a file`);
    return new NodeFolderSource(m.path);
  }
  return new HubSource({
    repo: m.repo,
    revision: m.revision ?? 'main',
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
  format: WeightFormat;
  /** adapter_config.json's base_model_name_or_path and revision for this model. */
  nameOrPath: string;
  revision: string | null;
  close(): void;
}

export interface SessionOptions {
  /** Forces the kernel profile; otherwise the adapter's name decides (or, when it names nothing, a measurement). */
  kernels?: KernelProfile;
  onProgress?: (p: LoadProgress) => void;
}

export async function openSession(modelArg: string, format: WeightFormat, opts: SessionOptions = {}): Promise<Session> {
  const loaded = await loadModel(modelSource(modelArg), { onProgress: opts.onProgress });
  const tokenizer = loadTokenizer(loaded.tokenizerJson, loaded.tokenizerConfig);
  const gpu = await acquireNodeGpu({ kernels: opts.kernels });
  try {
    await settleKernelProfile(gpu);
    const model = GpuModel.upload(gpu, loaded.config, loaded.weights, format);
    return {
      loaded,
      tokenizer,
      gpu,
      model,
      format,
      ...baseModelName(modelArg),
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

/** How the session's kernel profile was chosen, for the log. */
export function kernelsLine(gpu: GpuContext): string {
  const why = { caller: '--kernels', adapter: "from the adapter's name", measurement: 'measured the faster', pending: 'not settled' }[gpu.kernelsChosenBy];
  return `kernel profile '${gpu.kernels}' (${why}; ${gpu.kernels === 'direct' ? 'direct matmuls, for CPU drivers' : 'tiled matmuls'})`;
}

/** The session's model as the training pipeline and the methods take it. */
export function trainingBase(session: Session): TrainingBase {
  const { gpu, tokenizer, model, format, nameOrPath, revision, loaded } = session;
  return { gpu, tokenizer, model, format, nameOrPath, revision, config: loaded.config, weights: loaded.weights, source: loaded.source };
}

/** A PEFT adapter of any method (a folder or a Hub repo id), read, checked against the session's model and put on the GPU. */
export async function loadAdapter(session: Session, arg: string): Promise<TrainedAdapter> {
  let source: ModelSource;
  try {
    source = modelSource(arg);
  } catch {
    throw new CliUsageError(`--adapter ${arg}: no such folder, and not a Hub repo id like "owner/name"`);
  }
  const files = await readAdapterFiles(source);
  return loadAdapterFiles(trainingBase(session), files);
}
