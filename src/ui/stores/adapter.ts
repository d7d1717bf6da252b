/**
 * The adapter the worker holds on the loaded model (trained by the Training panel or imported by the Export
 * panel), as the Compare and Export panels need to know it. Cleared when another model is loaded.
 */
import { create } from 'zustand';
import type { AdapterInfo } from '../../worker/protocol';
import { useModel } from './model';

export interface AdapterState {
  adapter: AdapterInfo | null;
  /** Bumped whenever the adapter changes (a new training run or an import), so views can reset. */
  version: number;
  setAdapter(adapter: AdapterInfo | null): void;
}

export const useAdapter = create<AdapterState>()((set, get) => ({
  adapter: null,
  version: 0,
  setAdapter(adapter) {
    set({ adapter, version: get().version + 1 });
  },
}));

// A new model load drops the worker's adapter.
useModel.subscribe((state, prev) => {
  if (state.status.state === 'loading' && prev.status.state !== 'loading') useAdapter.getState().setAdapter(null);
});
