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
import { GpuModel } from '../engine/gpu-model';
import { GpuLoraSet, loraModuleInits } from '../engine/lora-adapters';
import { assertNoProblems, parseDataset, parsePastedText, splitValidation, tokenizeRecords, type ParsedDataset } from '../data/index';
import type { ModelConfig } from '../model/config';
import type { HostWeights } from '../model/weight-names';
import { loadModel, type LoadProgress } from '../model-io/load-model';
import { BrowserFilesSource, cacheStorageHubCache, HubSource, type HubCache, type ModelSource } from '../model-io/model-source';
import { makeTinyModel } from '../model-io/tiny-models';
import { loadTokenizer, type TextTokenizer } from '../model-io/tokenizer';
import { exportLoraAdapter } from '../peft/adapter-files';
import { makeLoraConfig, type LoraConfig } from '../peft/lora-config';
import { initLoraWeights } from '../peft/lora-init';
import { resolveLoraTargets } from '../peft/lora-targets';
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

interface BaseModel {
  config: ModelConfig;
  /** The host copy of the weights (biases seed a trainable bias with bias="lora_only"). */
  weights: HostWeights;
  tokenizer: TextTokenizer;
  model: GpuModel;
  nameOrPath: string;
  revision: string | null;
}

const PROGRESS_INTERVAL_MS = 250;

/** A second train-start while a run is in progress. */
export class TrainingBusyError extends Error {
  override name = 'TrainingBusyError';
}

/** A control request whose runId names no run in progress. */
export class NoSuchRunError extends Error {
  override name = 'NoSuchRunError';
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
  ) {}

  get runId(): number {
    return this.request.id;
  }

  get finished(): boolean {
    return this.state === 'finished';
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
      const base = await this.loadBase(gpu, req.model, req.quant);
      cleanup.push(() => base.model.destroy());
      const c = base.config;
      this.log('model', `model: ${base.nameOrPath} (${c.modelType}, ${c.numLayers} layers, hidden ${c.hiddenSize}), W0 in ${req.quant}`);

      const tokenized = tokenizeRecords(parsed.records, base.tokenizer, { maxLength: req.maxLength });
      assertNoProblems({ problems: tokenized.problems, examples: tokenized.examples, lineUnit: parsed.lineUnit, source: parsed.source }, { allowSkip: req.skipBadRecords });
      if (tokenized.problems.length > 0) this.log('data', `skipped ${tokenized.problems.length} records with nothing to learn from`);
      if (tokenized.truncated > 0) this.log('data', `${tokenized.truncated} examples were truncated to ${req.maxLength} tokens`);
      const { train, validation } = splitValidation(tokenized.examples, req.valSplit, settings.seed);
      this.log('data', `data: ${train.length} training and ${validation.length} validation examples`);

      const loraConfig: LoraConfig = makeLoraConfig(req.lora, c, { nameOrPath: base.nameOrPath, revision: base.revision });
      const targets = resolveLoraTargets(loraConfig, c);
      const init = initLoraWeights(targets, loraConfig.init_lora_weights, settings.seed);
      const counts = countParameters(c, targets, loraConfig.bias);
      this.log('lora', trainableParametersLine(counts.trainable, counts.all));
      const lora = GpuLoraSet.create(
        gpu,
        base.model,
        loraModuleInits(loraConfig, targets, init, base.weights),
      );
      cleanup.push(() => lora.destroy());

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
      const files = exportLoraAdapter({ config: loraConfig, weights: await lora.readWeights(), biases: await lora.readBiases(), model: c, targets });
      const adapterFiles: Record<string, Uint8Array> = {};
      // Each file in an ArrayBuffer of its own, so that it can be transferred.
      for (const [name, bytes] of files) adapterFiles[name] = bytes.slice();
      return {
        id: this.runId,
        kind: 'train-start-result',
        log: trainer.log.map((l) => ({ ...l })),
        reason,
        step: trainer.step,
        totalSteps: trainer.totalSteps,
        resumedFromStep: resumedFrom,
        adapterFiles,
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

  private async loadBase(gpu: GpuContext, spec: TrainModelSpec, quant: TrainStartRequest['quant']): Promise<BaseModel> {
    let source: ModelSource;
    let nameOrPath: string;
    let revision: string | null = null;
    if (spec.kind === 'tiny') {
      source = new BrowserFilesSource([...makeTinyModel(spec.arch)].map(([name, bytes]) => new File([bytes], name)));
      nameOrPath = `tiny-${spec.arch}`;
    } else if (spec.kind === 'hub') {
      let cache: HubCache | undefined;
      try {
        cache = cacheStorageHubCache();
      } catch {
        this.log('model', 'Cache Storage is not available here: the model is downloaded again next time');
      }
      const hub = new HubSource({ repo: spec.repo, revision: spec.revision, endpoint: spec.endpoint, cache });
      source = hub;
      nameOrPath = hub.repo;
      revision = spec.revision ?? null;
    } else {
      source = new BrowserFilesSource(spec.files);
      const rel = (spec.files[0] as File & { webkitRelativePath?: string }).webkitRelativePath ?? '';
      nameOrPath = rel.includes('/') ? rel.split('/')[0] : 'local-model';
    }

    let lastPhase = '';
    let lastAt = 0;
    const onProgress = (p: LoadProgress) => {
      const now = performance.now();
      const fileDone = p.loaded !== undefined && p.total != null && p.loaded >= p.total;
      if (p.message === lastPhase && now - lastAt < PROGRESS_INTERVAL_MS && !fileDone) return;
      lastPhase = p.message;
      lastAt = now;
      const extra = p.loaded !== undefined ? { loaded: p.loaded, total: p.total ?? null } : {};
      this.log('model', `${source.description}: ${p.message}`, extra);
    };
    const loaded = await loadModel(source, { onProgress });
    const tokenizer = loadTokenizer(loaded.tokenizerJson, loaded.tokenizerConfig);
    this.log('model', `uploading the weights to the GPU (W0 in ${quant})`);
    const model = GpuModel.upload(gpu, loaded.config, loaded.weights, quant);
    return { config: loaded.config, weights: loaded.weights, tokenizer, model, nameOrPath, revision };
  }
}
