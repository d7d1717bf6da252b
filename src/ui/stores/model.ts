/**
 * The Model panel's state: where the base model comes from, its weight format, loading progress, and what loaded;
 * and, for the memory plan, the config.json of the model the choices name (read alone, before any weight) and the
 * memory budget.
 */
import { create } from 'zustand';
import { DEFAULT_MEMORY_BUDGET } from '../../engine/memory-plan';
import type { WeightFormat } from '../../kernels/weight-format';
import type { BaseModelName } from '../../methods/method';
import type { ModelConfig } from '../../model/config';
import { readModelConfigFile } from '../../model-io/load-model';
import { RUN_DEFAULTS } from '../../options/run-fields';
import { resolveModelSpec } from '../../worker/model-spec';
import type { ModelInfo, TrainModelSpec } from '../../worker/protocol';
import { tr } from '../i18n';
import { kernelWorker, toErrorInfo, type ErrorInfo } from './worker';
import { localStore } from '../local-storage';

export type ModelSourceKind = 'default' | 'hub' | 'files';

export interface FileProgress {
  file: string;
  loaded: number;
  total: number | null;
}

export type ModelStatus =
  | { state: 'idle' }
  | { state: 'loading'; message: string; files: FileProgress[] }
  | { state: 'ready'; info: ModelInfo; spec: TrainModelSpec }
  | { state: 'error'; error: ErrorInfo };

/**
 * config.json of the model the choices name, for the memory plan: none named yet (no repo id, no files), being
 * read, read (with the base model's name for the method's plan), or why not (the message names the file). `key`
 * says which choices it belongs to.
 */
export type PlanConfigStatus =
  | { state: 'none' }
  | { state: 'reading'; key: string }
  | { state: 'ready'; key: string; config: ModelConfig; base: BaseModelName }
  | { state: 'error'; key: string; message: string };

export interface ModelState {
  sourceKind: ModelSourceKind;
  hubRepo: string;
  hubRevision: string;
  /** A mirror of the Hub's URL layout; empty = https://huggingface.co. */
  hubEndpoint: string;
  files: File[];
  format: WeightFormat;
  status: ModelStatus;
  planConfig: PlanConfigStatus;
  /** The GPU memory the plan assumes, in bytes (remembered in localStorage). */
  memoryBudget: number;
  setSourceKind(kind: ModelSourceKind): void;
  setHub(fields: Partial<Pick<ModelState, 'hubRepo' | 'hubRevision' | 'hubEndpoint'>>): void;
  setFiles(files: File[]): void;
  setFormat(format: WeightFormat): void;
  setMemoryBudget(bytes: number): void;
  /**
   * Reads config.json of the model the choices name (nothing else: for the Hub, a HEAD and a GET of the file's resolve
   * URL, kept in the cache the loader reads), unless it is read or being read already. `delayMs`: waits that long
   * first, and only the last call of a burst reads (typing a repo id).
   */
  readPlanConfig(delayMs?: number): void;
  /** The spec the current choices name, or an error message saying what is missing. */
  spec(): TrainModelSpec | string;
  load(): Promise<void>;
}

const IDLE_TIMEOUT_MS = 120_000;

export const MEMORY_BUDGET_KEY = 'peft-studio:memory-budget';

/** The remembered memory budget in bytes, else DEFAULT_MEMORY_BUDGET. */
export function initialMemoryBudget(): number {
  const saved = Number(localStore()?.getItem(MEMORY_BUDGET_KEY) ?? Number.NaN);
  return Number.isFinite(saved) && saved > 0 ? saved : DEFAULT_MEMORY_BUDGET;
}

/** Files chosen so far: each choice gets a number, so that the plan's key tells two choices apart. */
let filesChoice = 0;
let planTimer: ReturnType<typeof setTimeout> | null = null;

/** Which choices a spec stands for, as the plan's key. */
function planKey(spec: TrainModelSpec): string {
  switch (spec.kind) {
    case 'hub':
      return `hub\n${spec.endpoint ?? ''}\n${spec.repo}\n${spec.revision ?? 'main'}`;
    case 'files':
      return `files\n${filesChoice}`;
    default:
      return spec.kind;
  }
}

/** config.json of a model source, parsed; errors name the source and the file. */
export async function readModelConfigOf(spec: TrainModelSpec): Promise<{ config: ModelConfig; base: BaseModelName }> {
  const resolved = await resolveModelSpec(spec, () => undefined);
  return { config: (await readModelConfigFile(resolved.source)).config, base: { nameOrPath: resolved.nameOrPath, revision: resolved.revision } };
}

export const useModel = create<ModelState>()((set, get) => ({
  sourceKind: 'default',
  hubRepo: '',
  hubRevision: 'main',
  hubEndpoint: '',
  files: [],
  format: RUN_DEFAULTS.quant,
  status: { state: 'idle' },
  planConfig: { state: 'none' },
  memoryBudget: initialMemoryBudget(),

  setSourceKind(sourceKind) {
    set({ sourceKind });
  },
  setHub(fields) {
    set(fields);
  },
  setFiles(files) {
    filesChoice++;
    set({ files });
  },
  setFormat(format) {
    set({ format });
  },
  setMemoryBudget(bytes) {
    if (!(Number.isFinite(bytes) && bytes > 0)) return;
    try {
      localStore()?.setItem(MEMORY_BUDGET_KEY, String(bytes));
    } catch {
      // not remembered, still set
    }
    set({ memoryBudget: bytes });
  },

  readPlanConfig(delayMs = 0) {
    const spec = get().spec();
    const key = typeof spec === 'string' ? null : planKey(spec);
    const now = get().planConfig;
    // Read, or being read (or waiting to be): nothing to do.
    if (key !== null && (now.state === 'ready' || now.state === 'reading') && now.key === key) return;
    if (planTimer !== null) clearTimeout(planTimer);
    planTimer = null;
    if (typeof spec === 'string' || key === null) {
      set({ planConfig: { state: 'none' } });
      return;
    }
    set({ planConfig: { state: 'reading', key } });
    const read = async () => {
      planTimer = null;
      let next: PlanConfigStatus;
      try {
        next = { state: 'ready', key, ...(await readModelConfigOf(spec)) };
      } catch (error) {
        next = { state: 'error', key, message: error instanceof Error ? error.message : String(error) };
      }
      // Only for the choices still current: a slower read of an earlier repo id must not win.
      const current = get().planConfig;
      if (current.state === 'reading' && current.key === key) set({ planConfig: next });
    };
    if (delayMs > 0) planTimer = setTimeout(() => void read(), delayMs);
    else void read();
  },

  spec() {
    const { sourceKind, hubRepo, hubRevision, hubEndpoint, files } = get();
    if (sourceKind === 'default') return { kind: 'default' };
    if (sourceKind === 'hub') {
      if (!hubRepo.trim()) return tr('model').needHubRepo;
      return { kind: 'hub', repo: hubRepo.trim(), revision: hubRevision.trim() || 'main', ...(hubEndpoint.trim() ? { endpoint: hubEndpoint.trim() } : {}) };
    }
    if (files.length === 0) return tr('model').needFiles;
    return { kind: 'files', files };
  },

  async load() {
    if (get().status.state === 'loading') return;
    const spec = get().spec();
    if (typeof spec === 'string') {
      set({ status: { state: 'error', error: { name: 'Error', message: spec } } });
      return;
    }
    // The memory plan first (config.json alone), if the choices' is not read yet; it never holds the load up.
    get().readPlanConfig();
    const files = new Map<string, FileProgress>();
    set({ status: { state: 'loading', message: tr('model').starting, files: [] } });
    try {
      const result = await kernelWorker().stream(
        { kind: 'model-load', model: spec, quant: get().format },
        (m) => {
          if (m.file !== undefined && m.loaded !== undefined) files.set(m.file, { file: m.file, loaded: m.loaded, total: m.total ?? null });
          set({ status: { state: 'loading', message: m.message, files: [...files.values()] } });
        },
        { idleTimeoutMs: IDLE_TIMEOUT_MS },
      );
      set({ status: { state: 'ready', info: result.info, spec } });
    } catch (error) {
      set({ status: { state: 'error', error: toErrorInfo(error) } });
    }
  },
}));
