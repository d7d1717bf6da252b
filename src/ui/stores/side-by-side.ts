/**
 * Methods side by side: several PEFT methods trained one after another in the worker on the same model, data and
 * settings (the Method step's training settings, seed and data order; each method with its own options from the
 * Method step), each kept as a run; then the same prompt continued greedily by the base model and by every run's
 * adapter. The table's rows come from the worker (src/trainer/method-comparison.ts, as `compare-methods` prints).
 */
import { create } from 'zustand';
import type { MethodId } from '../../methods/method';
import { tr } from '../i18n';
import { generateOne, useCompare } from './compare';
import { useMethod } from './method';
import { useRuns } from './runs';
import { useTraining } from './training';
import { toErrorInfo, type ErrorInfo } from './worker';

export type SideBySideState = 'idle' | 'training' | 'generating' | 'done' | 'error';

export interface SideBySide {
  chosen: MethodId[];
  state: SideBySideState;
  /** The method being trained or continued: its place among the chosen ones. */
  progress: { index: number; total: number; method: MethodId } | null;
  /** The runs of the last comparison, in method order. */
  runIds: string[];
  outputs: { prompt: string; base: string | null; byRun: Record<string, string> } | null;
  error: ErrorInfo | null;
  toggle(id: MethodId): void;
  run(): Promise<void>;
}

/** Greedy, so that the outputs differ only by the adapter. */
const GREEDY = { doSample: false } as const;

export const useSideBySide = create<SideBySide>()((set, get) => ({
  chosen: ['lora', 'ia3'],
  state: 'idle',
  progress: null,
  runIds: [],
  outputs: null,
  error: null,

  toggle(id) {
    const { chosen } = get();
    set({ chosen: chosen.includes(id) ? chosen.filter((x) => x !== id) : [...chosen, id] });
  },

  async run() {
    const { chosen, state } = get();
    if (chosen.length === 0 || state === 'training' || state === 'generating') return;
    const training = useTraining.getState();
    if (training.state === 'starting' || training.state === 'running' || training.state === 'paused' || training.state === 'stopping') return;
    const method = useMethod.getState();
    const original = method.methodId;
    const runIds: string[] = [];
    set({ state: 'training', runIds, outputs: null, error: null });
    try {
      for (const [index, id] of chosen.entries()) {
        set({ progress: { index, total: chosen.length, method: id } });
        useMethod.getState().setMethodId(id);
        await useTraining.getState().start();
        const t = useTraining.getState();
        if (t.recordId) runIds.push(t.recordId);
        set({ runIds: [...runIds] });
        if (t.state !== 'done' || t.reason !== 'completed') {
          // The run's own error (a plain ErrorInfo), or why it is not a result.
          throw Object.assign(new Error(t.error?.message ?? tr('sideBySide').notCompleted(id)), { name: t.error?.name ?? 'Error' });
        }
      }
      useRuns.setState({ overlay: [...runIds] });

      // The same prompt, greedily, by the base model and by each run's adapter.
      set({ state: 'generating', progress: null });
      const { prompt, settings } = useCompare.getState();
      const gen = { ...settings, ...GREEDY };
      const base = await generateOne(prompt, 'base', gen, 0, () => {});
      const byRun: Record<string, string> = {};
      set({ outputs: { prompt, base: base.text, byRun: { ...byRun } } });
      for (const id of runIds) {
        await useRuns.getState().openRun(id);
        const openError = useRuns.getState().openError;
        if (openError) throw Object.assign(new Error(openError.message), { name: openError.name });
        byRun[id] = (await generateOne(prompt, 'adapted', gen, 0, () => {})).text;
        set({ outputs: { prompt, base: base.text, byRun: { ...byRun } } });
      }
      set({ state: 'done' });
    } catch (error) {
      set({ state: 'error', error: toErrorInfo(error) });
    } finally {
      useMethod.getState().setMethodId(original);
      set({ progress: null });
    }
  },
}));
