/**
 * Several PEFT methods trained on the same data with the same settings, seed and data order, side by side: one row
 * per method (trainable parameters, adapter size, peak GPU memory, time per step, final losses). The CLI's
 * `compare-methods` and the studio's comparison view both build their rows here, from a run's result and what a
 * `RunMeter` saw of its trainer events.
 */
import { pythonFixed, pythonThousands } from '../peft/trainable-params';
import { methodById } from '../methods/registry';
import type { MethodId } from '../methods/method';
import { gpuMemoryBytes } from './gpu-memory';
import { timedSeconds, type TrainerEvent } from './trainer';
import type { TrainingRunResult } from './training-run';

export interface MethodComparisonRow {
  method: MethodId;
  label: string;
  trainable: number;
  all: number;
  /** 100 · trainable / all, as print_trainable_parameters. */
  trainablePercent: number;
  /** Bytes of the adapter's weights file (PEFT's adapter_model.safetensors, AdapterHub's adapter.safetensors). */
  adapterBytes: number;
  /** Frozen weights + the largest activations of a step + the adapter with its gradient and AdamW moments. */
  peakGpuBytes: number;
  /** Median time of a step after the first (whose shader compiles it leaves out); null when no step ran. */
  msPerStep: number | null;
  steps: number;
  finalLoss: number | null;
  finalValLoss: number | null;
}

/** What a run's trainer events say about its cost: the largest activation memory, and each step's time. */
export class RunMeter {
  activationBytes = 0;
  readonly stepSeconds: number[] = [];

  onEvent(e: TrainerEvent): void {
    if (e.kind !== 'step') return;
    this.activationBytes = Math.max(this.activationBytes, e.activationBytes);
    this.stepSeconds.push(timedSeconds(e.timing));
  }
}

function median(xs: readonly number[]): number | null {
  if (xs.length === 0) return null;
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 === 1 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
}

export function comparisonRow(result: TrainingRunResult, meter: RunMeter, weightBytes: number): MethodComparisonRow {
  const { trainable, all } = result.adapter.plan.counts;
  const method = methodById(result.adapter.method);
  // The first step also finishes the shader compiles a CPU driver defers to the first dispatch: leave it out when
  // there are others.
  const seconds = median(meter.stepSeconds.length > 1 ? meter.stepSeconds.slice(1) : meter.stepSeconds);
  return {
    method: method.id,
    label: method.label,
    trainable,
    all,
    trainablePercent: (100 * trainable) / all,
    adapterBytes: [...result.files].filter(([name]) => name.endsWith('.safetensors')).reduce((n, [, bytes]) => n + bytes.byteLength, 0),
    peakGpuBytes: gpuMemoryBytes({ weightBytes, activationBytes: meter.activationBytes, trainableParams: trainable }),
    msPerStep: seconds === null ? null : seconds * 1000,
    steps: result.step,
    finalLoss: result.log.at(-1)?.loss ?? null,
    finalValLoss: result.log.findLast((l) => l.val_loss !== null)?.val_loss ?? null,
  };
}

export const COMPARISON_COLUMNS = ['method', 'trainable params', 'trainable%', 'adapter file', 'peak GPU memory', 'ms / step', 'final loss', 'final val loss'] as const;

function mib(bytes: number): string {
  return bytes >= 1048576 ? `${(bytes / 1048576).toFixed(1)} MiB` : `${(bytes / 1024).toFixed(1)} KiB`;
}

function loss(x: number | null): string {
  return x === null ? '—' : x.toFixed(4);
}

/** A row's cells, as the table shows them. */
export function comparisonCells(r: MethodComparisonRow): string[] {
  return [
    r.label,
    pythonThousands(r.trainable),
    pythonFixed(r.trainablePercent, 4),
    mib(r.adapterBytes),
    mib(r.peakGpuBytes),
    r.msPerStep === null ? '—' : r.msPerStep.toFixed(0),
    loss(r.finalLoss),
    loss(r.finalValLoss),
  ];
}

/** The rows as a Markdown table (readable as plain text too). */
export function comparisonTable(rows: readonly MethodComparisonRow[]): string {
  const lines = [COMPARISON_COLUMNS, COMPARISON_COLUMNS.map(() => '---'), ...rows.map(comparisonCells)];
  return lines.map((cells) => `| ${cells.join(' | ')} |`).join('\n');
}
