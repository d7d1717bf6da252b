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
import { GpuLoraSet, loraModuleInits } from '../methods/lora/gpu';
import { assertNoProblems, parseDataset, parsePastedText, splitValidation, tokenizeRecords, type ParsedDataset } from '../data/index';
import { makeLoraConfig, type LoraConfig } from '../peft/lora-config';
import { initLoraWeights } from '../peft/lora-init';
import { resolveLoraTargets, type ResolvedTarget } from '../peft/lora-targets';
import { countParameters, trainableParametersLine } from '../peft/trainable-params';
import { OpfsCheckpointStore } from '../trainer/checkpoint-store-browser';
import { DEFAULT_TRAINING, Trainer, type TrainerEvent, type TrainingSettings } from '../trainer/trainer';
import type {
  TrainControlResult,
  TrainLogPhase,
  TrainModelSpec,
  TrainRunState,
  TrainStartRequest,
  TrainStartResponse,
  WorkerStreamMessage,
} from './protocol';
import { describeAdapter, exportHeldAdapter, type HeldAdapter } from './held-adapter';
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
    const cleanup: (() => void)[] = [];
    try {
      // The data first: a bad record fails before any download.
      const parsed: ParsedDataset = req.data.fileName === undefined ? parsePastedText(req.data.text) : parseDataset(req.data.text, req.data.fileName);
      assertNoProblems(parsed, { allowSkip: req.skipBadRecords });
      if (parsed.problems.length > 0) this.log('data', `skipped ${parsed.problems.length} bad record${parsed.problems.length === 1 ? '' : 's'} of ${parsed.source}`);
      this.log('data', `${parsed.source}: ${parsed.records.length} records${parsed.shape ? ` of shape ${parsed.shape}` : ''}, read as ${parsed.format}`);

      const gpu = await device;
      const onLoaded = req.model.kind === 'loaded';
      let base: LoadedBase;
      if (onLoaded) {
        if (!this.held.base) throw new NoModelError("train-start with model kind 'loaded': no model is loaded; load one first (model-load)");
        base = this.held.base;
      } else {
        base = await this.loadBase(gpu, req.model, req.quant);
        cleanup.push(() => base.model.destroy());
      }
      const c = base.config;
      this.log('model', `model: ${base.nameOrPath} (${c.modelType}, ${c.numLayers} layers, hidden ${c.hiddenSize}), W0 in ${base.format}`);

      const tokenized = tokenizeRecords(parsed.records, base.tokenizer, { maxLength: req.maxLength });
      assertNoProblems({ problems: tokenized.problems, examples: tokenized.examples, lineUnit: parsed.lineUnit, source: parsed.source }, { allowSkip: req.skipBadRecords });
      if (tokenized.problems.length > 0) this.log('data', `skipped ${tokenized.problems.length} records with nothing to learn from`);
      if (tokenized.truncated > 0) this.log('data', `${tokenized.truncated} examples were truncated to ${req.maxLength} tokens`);
      const { train, validation } = splitValidation(tokenized.examples, req.valSplit, settings.seed);
      this.log('data', `data: ${train.length} training and ${validation.length} validation examples`);

      let loraConfig: LoraConfig;
      let targets: ResolvedTarget[];
      let init: Map<string, { a: Float32Array; b: Float32Array }>;
      let biases: Map<string, Float32Array> | undefined;
      if (req.fromCurrentAdapter) {
        const current = this.held.adapter;
        if (!onLoaded || !current) throw new NoModelError('fromCurrentAdapter: the worker holds no adapter on a loaded model; import or train one first');
        loraConfig = current.config;
        targets = current.targets;
        init = await current.lora.readWeights();
        biases = await current.lora.readBiases();
        this.log('lora', `continuing from the ${current.origin} adapter (r=${loraConfig.r}, ${targets.length} modules)`);
      } else {
        loraConfig = makeLoraConfig(req.lora, c, { nameOrPath: base.nameOrPath, revision: base.revision });
        targets = resolveLoraTargets(loraConfig, c);
        init = initLoraWeights(targets, loraConfig.init_lora_weights, settings.seed);
      }
      const counts = countParameters(c, targets, loraConfig.bias);
      this.log('lora', trainableParametersLine(counts.trainable, counts.all));
      const lora = GpuLoraSet.create(gpu, base.model, loraModuleInits(loraConfig, targets, init, base.weights, { biases }));
      // On the loaded model the adapter outlives the run (the worker keeps it); otherwise it goes with the run.
      let keptAdapter = false;
      cleanup.push(() => {
        if (!keptAdapter) lora.destroy();
      });

      const store = new OpfsCheckpointStore(req.runName);
      if (!req.resume) {
        try {
          if (await store.clear()) this.log('checkpoint', `new run: deleted the earlier checkpoints of ${store.description}`);
        } catch (e) {
          // Without OPFS a run can still train, as long as it neither saves nor resumes.
          if (settings.checkpointEvery > 0) throw e;
        }
      }
      const trainer = new Trainer(gpu, base.model, lora, train, validation, settings, base.tokenizer.padTokenId ?? 0, store);
      cleanup.push(() => trainer.destroy());
      let resumedFrom: number | null = null;
      if (req.resume) {
        resumedFrom = await trainer.restore();
        this.log('checkpoint', resumedFrom === null ? `no checkpoint in ${store.description}; starting from step 0` : `resuming from step ${resumedFrom} (${store.description})`);
      }
      this.trainer = trainer;
      this.state = 'running';
      if (this.stopWanted) trainer.stop();
      else if (this.pauseWanted) trainer.pause();

      const every = settings.checkpointEvery;
      await trainer.run((event) => {
        this.post({ id: this.runId, kind: 'train-progress', event });
        if (this.isStepBoundary(event, every)) this.atStepBoundary(trainer);
      }, resumedFrom);
      const reason = trainer.step >= trainer.totalSteps ? 'completed' : 'stopped';

      this.log('export', 'exporting the adapter');
      const adapter: HeldAdapter = { lora, config: loraConfig, targets, origin: 'trained' };
      const adapterFiles = await exportHeldAdapter(adapter, c);
      if (onLoaded) {
        this.held.keepAdapter(adapter);
        keptAdapter = true;
      }
      return {
        id: this.runId,
        kind: 'train-start-result',
        log: trainer.log.map((l) => ({ ...l })),
        reason,
        step: trainer.step,
        totalSteps: trainer.totalSteps,
        resumedFromStep: resumedFrom,
        adapterFiles,
        adapter: onLoaded ? describeAdapter(adapter, c) : null,
      };
    } finally {
      this.state = 'finished';
      this.answerPauses('finished');
      for (const f of cleanup.reverse()) {
        try {
          f();
        } catch {
          // a lost device: nothing left to free
        }
      }
    }
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
