/**
 * One training run inside the kernel worker: loads the base model and the dataset a `train-start` request names,
 * builds the LoRA adapter, drives a `Trainer` (checkpoints in OPFS under the run's name), streams its events,
 * and answers with the step log and the adapter in PEFT's format.
 *
 * Pause, resume and stop may arrive at any time, also while the model is still loading. A pause takes effect at
 * the next step boundary (after the step in progress and its checkpoint, if one is due) and is answered only
 * then, so that after a `train-pause-result` no step event comes until the run is resumed or stopped.
 */
import type { GpuContext } from '../gpu/device';
import { destroyQuietly } from '../gpu/errors';
import { OpfsCheckpointStore } from '../trainer/checkpoint-store-browser';
import { comparisonRow, RunMeter } from '../trainer/method-comparison';
import { DEFAULT_TRAINING, type Trainer, type TrainerEvent, type TrainingSettings } from '../trainer/trainer';
import { runTraining, type StartingAdapter, type TrainingBase, type TrainingRunResult } from '../trainer/training-run';
import { loadAdapterFiles } from '../methods/runtimes';
import type {
  TrainControlResult,
  TrainLogPhase,
  TrainModelSpec,
  TrainRunState,
  TrainStartRequest,
  TrainStartResponse,
  WorkerStreamMessage,
} from './protocol';
import { describeAdapter, transferableFiles, type HeldAdapter } from './held-adapter';
import { loadBase, type LoadedBase } from './loaded-model';

/** A second train-start while a run is in progress. */
export class TrainingBusyError extends Error {
  override name = 'TrainingBusyError';
}

/** A control request whose runId names no run in progress. */
export class NoSuchRunError extends Error {
  override name = 'NoSuchRunError';
}

/** What the worker holds between requests, for runs on model kind 'loaded'. */
export interface WorkerHeld {
  base: LoadedBase | null;
  adapter: HeldAdapter | null;
  /** Takes the run's adapter when the run trained the loaded model (the worker then owns it). */
  keepAdapter(adapter: HeldAdapter): void;
}

/** A request that needs a loaded model (or adapter) before one was loaded. */
export class NoModelError extends Error {
  override name = 'NoModelError';
}

export class TrainSession {
  private trainer: Trainer | null = null;
  private state: 'loading' | 'running' | 'paused' | 'finished' = 'loading';
  private pauseWanted = false;
  private stopWanted = false;
  private readonly pendingPauses: ((r: TrainControlResult) => void)[] = [];

  constructor(
    private readonly request: TrainStartRequest,
    private readonly post: (message: WorkerStreamMessage) => void,
    private readonly held: WorkerHeld = { base: null, adapter: null, keepAdapter: () => undefined },
  ) {}

  get runId(): number {
    return this.request.id;
  }

  get finished(): boolean {
    return this.state === 'finished';
  }

  /** Paused at a step boundary: the GPU is idle until the run is resumed or stopped. */
  get paused(): boolean {
    return this.state === 'paused';
  }

  // ------------------------------------------------------------------------------------------------ control

  private result(state: TrainRunState): TrainControlResult {
    return { runId: this.runId, step: this.trainer?.step ?? 0, state };
  }

  private outwardState(): TrainRunState {
    if (this.state === 'finished') return 'finished';
    if (this.stopWanted) return 'stopping';
    return this.state === 'paused' ? 'paused' : 'running';
  }

  private answerPauses(state: TrainRunState): void {
    const result = this.result(state);
    for (const answer of this.pendingPauses.splice(0)) answer(result);
  }

  /** Resolves once the run is paused at a step boundary (or has ended, or is stopping). */
  pause(): Promise<TrainControlResult> {
    if (this.state === 'finished' || this.stopWanted || this.state === 'paused') return Promise.resolve(this.result(this.outwardState()));
    this.pauseWanted = true;
    this.trainer?.pause();
    return new Promise((resolve) => this.pendingPauses.push(resolve));
  }

  resume(): TrainControlResult {
    if (this.state === 'finished' || this.stopWanted) return this.result(this.outwardState());
    this.pauseWanted = false;
    this.trainer?.resume();
    if (this.state === 'paused') this.state = 'running';
    // A pause asked for and taken back before it took effect.
    this.answerPauses('running');
    return this.result('running');
  }

  stop(): TrainControlResult {
    if (this.state === 'finished') return this.result('finished');
    this.stopWanted = true;
    this.trainer?.stop();
    this.answerPauses('stopping');
    return this.result('stopping');
  }

  // -------------------------------------------------------------------------------------------------- run

  private log(phase: TrainLogPhase, message: string, extra: { loaded?: number; total?: number | null } = {}): void {
    this.post({ id: this.runId, kind: 'train-log', phase, message, ...extra });
  }

  /** Loads the dataset, the model and the adapter, trains, exports. Always tears down what it put on the GPU. */
  async run(device: GpuContext | Promise<GpuContext>): Promise<TrainStartResponse> {
    const req = this.request;
    const settings: TrainingSettings = { ...DEFAULT_TRAINING, ...req.settings };
    const onLoaded = req.model.kind === 'loaded';
    /** The model this run loaded (not the worker's loaded one): it goes with the run. */
    const own: { base?: LoadedBase } = {};
    let trained: TrainingRunResult | null = null;
    let keptAdapter = false;
    const meter = new RunMeter();
    try {
      trained = await runTraining({
        data: req.data,
        loadBase: async () => {
          const gpu = await device;
          if (!onLoaded) return (own.base = await this.loadBase(gpu, req.model, req.quant));
          if (!this.held.base) throw new NoModelError("train-start with model kind 'loaded': no model is loaded; load one first (model-load)");
          return this.held.base;
        },
        adapter: req.fromCurrentAdapter ? { continueFrom: (base) => this.currentAdapter(onLoaded, base) } : { method: req.method.id, options: req.method.options },
        settings,
        options: req,
        checkpoints: new OpfsCheckpointStore(req.runName),
        resume: req.resume,
        checkpointAtEnd: false,
        log: (phase, message) => this.log(phase, message),
        onTrainer: (trainer) => {
          this.trainer = trainer;
          this.state = 'running';
          if (this.stopWanted) trainer.stop();
          else if (this.pauseWanted) trainer.pause();
        },
        onEvent: (event, trainer) => {
          meter.onEvent(event);
          this.post({ id: this.runId, kind: 'train-progress', event });
          if (this.isStepBoundary(event, settings.checkpointEvery)) this.atStepBoundary(trainer);
        },
      });
      const adapter: HeldAdapter = { adapter: trained.adapter, origin: 'trained', card: trained.card };
      if (onLoaded) {
        // On the loaded model the adapter outlives the run (the worker keeps it); otherwise it goes with the run.
        this.held.keepAdapter(adapter);
        keptAdapter = true;
      }
      return {
        id: this.runId,
        kind: 'train-start-result',
        log: trained.log,
        reason: trained.reason,
        step: trained.step,
        totalSteps: trained.totalSteps,
        resumedFromStep: trained.resumedFromStep,
        adapterFiles: transferableFiles(trained.files),
        adapter: onLoaded ? describeAdapter(adapter) : null,
        comparison: comparisonRow(trained, meter, trained.base.model.memory.total),
      };
    } finally {
      this.state = 'finished';
      this.answerPauses('finished');
      const trainedAdapter = trained?.adapter;
      if (trainedAdapter && !keptAdapter) destroyQuietly(() => trainedAdapter.destroy());
      const base = own.base;
      if (base) destroyQuietly(() => base.model.destroy());
    }
  }

  /**
   * A copy of the adapter the worker holds, to continue training (fromCurrentAdapter): through PEFT's files, so the
   * held adapter stays as it is until the run's adapter replaces it.
   */
  private async currentAdapter(onLoaded: boolean, base: TrainingBase): Promise<StartingAdapter> {
    const current = this.held.adapter;
    if (!onLoaded || !current) throw new NoModelError('fromCurrentAdapter: the worker holds no adapter on a loaded model; import or train one first');
    return { adapter: loadAdapterFiles(base, await current.adapter.exportFiles()), description: `the ${current.origin} adapter` };
  }

  /** The last event the trainer sends for a step (or 'started' for the step it starts from) before its pause gate. */
  private isStepBoundary(event: TrainerEvent, checkpointEvery: number): boolean {
    if (event.kind === 'started' || event.kind === 'checkpoint') return true;
    return event.kind === 'step' && !(checkpointEvery > 0 && event.log.step % checkpointEvery === 0);
  }

  private atStepBoundary(trainer: Trainer): void {
    // After the last step the loop ends; a pending pause is answered when the run finishes.
    if (trainer.step >= trainer.totalSteps || this.stopWanted) return;
    if (this.pauseWanted && trainer.paused) {
      this.state = 'paused';
      this.answerPauses('paused');
    }
  }

  private async loadBase(gpu: GpuContext, spec: TrainModelSpec, quant: TrainStartRequest['quant']): Promise<LoadedBase> {
    return loadBase(gpu, spec, quant, (p) => {
      const extra = p.loaded !== undefined ? { loaded: p.loaded, total: p.total ?? null } : {};
      this.log('model', p.source ? `${p.source}: ${p.message}` : p.message, extra);
    });
  }
}
