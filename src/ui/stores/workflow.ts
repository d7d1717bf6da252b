/**
 * The studio's workflow: Model → Data → Method → Train → Compare → Export, one step shown at a time. The current
 * step is kept for the tab's session (sessionStorage), so a reload comes back to it.
 */
import { create } from 'zustand';

export const STEPS = ['model', 'data', 'method', 'train', 'compare', 'export'] as const;
export type StepId = (typeof STEPS)[number];

const KEY = 'peft-studio:step';

function initialStep(): StepId {
  try {
    const v = sessionStorage.getItem(KEY);
    return (STEPS as readonly string[]).includes(v ?? '') ? (v as StepId) : 'model';
  } catch {
    return 'model';
  }
}

interface WorkflowState {
  step: StepId;
  go(step: StepId): void;
}

export const useWorkflow = create<WorkflowState>()((set) => ({
  step: initialStep(),
  go(step) {
    try {
      sessionStorage.setItem(KEY, step);
    } catch {
      // not remembered across a reload
    }
    set({ step });
    if (typeof window !== 'undefined') window.scrollTo({ top: 0 });
  },
}));

/** The step after `step`, or null after the last. */
export function nextStep(step: StepId): StepId | null {
  return STEPS[STEPS.indexOf(step) + 1] ?? null;
}
