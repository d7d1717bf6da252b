/**
 * The Runs section's state: every kept run (newest first), which of them the overlay chart shows, its x axis, the
 * run whose details are open, a delete waiting for confirmation, and opening a run's adapter in the worker to compare
 * or export it. The Training store writes the run in progress through `put` / `patch`.
 */
import { create } from 'zustand';
import { tr } from '../i18n';
import { defaultRunStorage, type RunStorage } from '../runs/run-storage';
import type { RunRecord, XAxis } from '../runs/run-record';
import { useAdapter } from './adapter';
import { useModel } from './model';
import { describeSavedModel, sameModel } from './training-helpers';
import { kernelWorker, toErrorInfo, type ErrorInfo } from './worker';

/** Writes of a run in progress are batched to at most one per this many ms. */
const WRITE_DELAY_MS = 2000;
const IMPORT_TIMEOUT_MS = 120_000;

export interface PendingDelete {
  id: string;
  name: string;
  adapterBytes: number;
  checkpointBytes: number;
  steps: number;
}

export interface RunsState {
  loaded: boolean;
  records: RunRecord[];
  /** Runs drawn on the overlay chart. */
  overlay: string[];
  axis: XAxis;
  /** The run whose settings and log are shown. */
  details: string | null;
  pendingDelete: PendingDelete | null;
  /** A run's adapter being opened in the worker, the last one opened, or the error. */
  opening: string | null;
  opened: string | null;
  openError: ErrorInfo | null;
  storageError: ErrorInfo | null;
  load(): Promise<void>;
  /** Adds or replaces a run and writes it now. */
  put(record: RunRecord): Promise<void>;
  /** Changes a run; written within WRITE_DELAY_MS, or at once with `now`. */
  patch(id: string, patch: Partial<RunRecord>, now?: boolean): Promise<void>;
  rename(id: string, name: string): void;
  toggleOverlay(id: string): void;
  setAxis(axis: XAxis): void;
  showDetails(id: string | null): void;
  askDelete(id: string): Promise<void>;
  confirmDelete(): Promise<void>;
  cancelDelete(): void;
  saveAdapter(id: string, files: Record<string, Uint8Array>): Promise<void>;
  /** Makes the run's adapter the worker's current one, to compare and export it. */
  openRun(id: string): Promise<void>;
}

let storage: RunStorage | null = null;
function store(): RunStorage {
  storage ??= defaultRunStorage();
  return storage;
}

/** Tests give the store a storage of their own. */
export function setRunStorage(s: RunStorage): void {
  storage = s;
  pendingWrites.forEach((t) => clearTimeout(t));
  pendingWrites.clear();
}

const pendingWrites = new Map<string, ReturnType<typeof setTimeout>>();
/** The adapter version an opened run's adapter got: a later adapter (trained, imported, a new model) replaces it. */
let openedVersion = -1;

function byNewest(a: RunRecord, b: RunRecord): number {
  return b.startedAt.localeCompare(a.startedAt);
}

export const useRuns = create<RunsState>()((set, get) => {
  function record(id: string): RunRecord | undefined {
    return get().records.find((r) => r.id === id);
  }

  async function writeNow(id: string): Promise<void> {
    const timer = pendingWrites.get(id);
    if (timer !== undefined) clearTimeout(timer);
    pendingWrites.delete(id);
    const r = record(id);
    if (!r) return;
    try {
      await store().write(r);
    } catch (error) {
      set({ storageError: toErrorInfo(error) });
    }
  }

  return {
    loaded: false,
    records: [],
    overlay: [],
    axis: 'step',
    details: null,
    pendingDelete: null,
    opening: null,
    opened: null,
    openError: null,
    storageError: null,

    async load() {
      try {
        const found = await store().list();
        // Runs this page already holds (a run started before the list was read) stay as they are here.
        const here = new Map(get().records.map((r) => [r.id, r]));
        const merged = [...here.values(), ...found.filter((r) => !here.has(r.id))].sort(byNewest);
        set({ records: merged, loaded: true });
        // A run found running is interrupted now: say so in its record too.
        for (const r of found) if (!here.has(r.id) && r.status === 'interrupted') void store().write(r).catch(() => {});
      } catch (error) {
        set({ loaded: true, storageError: toErrorInfo(error) });
      }
    },

    async put(r) {
      set({ records: [r, ...get().records.filter((x) => x.id !== r.id)].sort(byNewest) });
      await writeNow(r.id);
    },

    async patch(id, patch, now = false) {
      if (!record(id)) return;
      set({ records: get().records.map((r) => (r.id === id ? { ...r, ...patch } : r)) });
      if (now) return writeNow(id);
      if (!pendingWrites.has(id)) pendingWrites.set(id, setTimeout(() => void writeNow(id), WRITE_DELAY_MS));
    },

    rename(id, name) {
      const trimmed = name.trim();
      if (trimmed === '' || !record(id)) return;
      void get().patch(id, { name: trimmed }, true);
    },

    toggleOverlay(id) {
      const { overlay } = get();
      set({ overlay: overlay.includes(id) ? overlay.filter((x) => x !== id) : [...overlay, id] });
    },

    setAxis(axis) {
      set({ axis });
    },

    showDetails(id) {
      set({ details: get().details === id ? null : id });
    },

    async askDelete(id) {
      const r = record(id);
      if (!r || r.status === 'running') return;
      const sizes = await store().sizes(id).catch(() => ({ adapterBytes: 0, checkpointBytes: 0 }));
      set({ pendingDelete: { id, name: r.name, steps: r.steps.length, ...sizes } });
    },

    async confirmDelete() {
      const pending = get().pendingDelete;
      if (!pending) return;
      const timer = pendingWrites.get(pending.id);
      if (timer !== undefined) clearTimeout(timer);
      pendingWrites.delete(pending.id);
      try {
        await store().remove(pending.id);
        const { records, overlay, details, opened } = get();
        set({
          pendingDelete: null,
          records: records.filter((r) => r.id !== pending.id),
          overlay: overlay.filter((x) => x !== pending.id),
          details: details === pending.id ? null : details,
          opened: opened === pending.id ? null : opened,
        });
      } catch (error) {
        set({ pendingDelete: null, storageError: toErrorInfo(error) });
      }
    },

    cancelDelete() {
      set({ pendingDelete: null });
    },

    async saveAdapter(id, files) {
      try {
        await store().saveAdapter(id, new Map(Object.entries(files)));
        await get().patch(id, { hasAdapter: true }, true);
      } catch (error) {
        set({ storageError: toErrorInfo(error) });
      }
    },

    async openRun(id) {
      const r = record(id);
      if (!r || get().opening !== null) return;
      const t = tr('runs');
      const status = useModel.getState().status;
      if (status.state !== 'ready' || !sameModel(r.model, status.spec, status.info)) {
        set({ openError: { name: 'Error', message: t.openNeedsModel(describeSavedModel(r.model)) } });
        return;
      }
      set({ opening: id, openError: null });
      try {
        const files = await store().loadAdapter(id);
        if (!files) throw new Error(t.openNoAdapter(r.name));
        const result = await kernelWorker().request({ kind: 'adapter-import', files }, IMPORT_TIMEOUT_MS);
        useAdapter.getState().setAdapter(result.adapter);
        openedVersion = useAdapter.getState().version;
        set({ opening: null, opened: id });
      } catch (error) {
        set({ opening: null, openError: toErrorInfo(error) });
      }
    },
  };
});

useAdapter.subscribe((state) => {
  if (state.version !== openedVersion && useRuns.getState().opened !== null) useRuns.setState({ opened: null });
});
