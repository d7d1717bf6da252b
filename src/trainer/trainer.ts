/**
 * The training loop, independent of where it runs: the studio's Web Worker and the Node command line drive
 * the same `Trainer`. Only the method's parameters train (GpuAdapter.parameters(): LoRA's A and B, …); the
 * model's W0 stays frozen in its quantized format.
 *
 * One optimizer step = `gradAccum` micro-batches of `batchSize` examples (gradients summed on the GPU,
 * averaged through the AdamW gradient scale), global-norm clipping, then AdamW on the GPU. Every random choice
 * is a function of (seed, step): each epoch's data order, each micro-batch's dropout masks. So a run resumed
 * from a checkpoint repeats exactly the losses of a run that was never interrupted.
 */
import type { GpuContext } from '../gpu/device';
import { CommandRecorder } from '../kernels/dispatch';
import { encodeAdamW, encodeSquaredNorms, clipFactor } from '../kernels/optimizer';
import { readTensor, zerosTensor, type GpuTensor } from '../kernels/tensor';
import { pcgHash } from '../kernels/dropout-mask';
import { ActivationPool, type PoolStats } from '../engine/activation-pool';
import type { GpuModel } from '../engine/gpu-model';
import type { GpuAdapter } from '../engine/method-hooks';
import { evalLoss, lossAndGrads } from '../engine/training-pass';
import type { TrainBatch } from '../engine/batch';
import { makeBatches, type TokenizedExample } from '../data/batching';
import { learningRate, type LrScheduleKind } from './lr-schedule';
import { firstProblem, problemText } from '../options/field';
import { TRAINING_DEFAULTS, TRAINING_FIELDS } from '../options/training-fields';
import {
  CHECKPOINT_VERSION,
  CheckpointError,
  decodeCheckpoint,
  encodeCheckpoint,
  fingerprintExamples,
  type CheckpointStore,
} from './checkpoint';

export interface TrainingSettings {
  /** Peak learning rate. */
  lr: number;
  schedule: LrScheduleKind;
  warmupSteps: number;
  /** Optimizer steps; when 0, `epochs` decides. */
  maxSteps: number;
  epochs: number;
  batchSize: number;
  gradAccum: number;
  /** Global-norm clipping threshold; 0 disables clipping. */
  maxGradNorm: number;
  weightDecay: number;
  /** LoRA+: the learning rate of `lora_B` (and of 1-D parameters) is this many times `lr` (1 = plain). */
  loraplusLrRatio: number;
  beta1: number;
  beta2: number;
  eps: number;
  seed: number;
  /** Evaluate on the validation examples every N steps (0 = only at the end). */
  evalEvery: number;
  /** Save a checkpoint every N steps (0 = never). */
  checkpointEvery: number;
  /** Keep only each layer's input in the forward and recompute the layer in the backward. */
  gradientCheckpointing: boolean;
}

/** Every setting's default (src/options/training-fields.ts: transformers' TrainingArguments wherever it has one). */
export const DEFAULT_TRAINING: TrainingSettings = TRAINING_DEFAULTS;

export interface StepLog {
  step: number;
  loss: number;
  val_loss: number | null;
  lr: number;
  tokens_per_s: number;
  grad_norm: number;
}

/** What a step spent its time on: the whole step, and the part of it that compiled shaders (the first step's). */
export interface StepTiming {
  seconds: number;
  compileSeconds: number;
  /** Tokens the step trained on. */
  tokens: number;
  /** Distinct pipelines the step used (set on the run's first step, whose compiles the `compiling` events count). */
  pipelines: number | null;
}

/** A step's duration without its shader compiles (never below a millisecond): what the ETA and step times use. */
export function timedSeconds(timing: Pick<StepTiming, 'seconds' | 'compileSeconds'>): number {
  return Math.max(1e-3, timing.seconds - timing.compileSeconds);
}

export type TrainerEvent =
  /** stepsPerEpoch: optimizer steps per pass over the training examples (fractional when gradAccum does not divide it). */
  | { kind: 'started'; totalSteps: number; resumedFromStep: number | null; stepsPerEpoch: number }
  /**
   * A shader pipeline of the run's first step was compiled: `used` distinct pipelines so far in the step, `compiled`
   * of them compiled now (the others were compiled earlier in this worker), `seconds` spent compiling.
   */
  | { kind: 'compiling'; step: number; used: number; compiled: number; seconds: number }
  /** activationBytes: the largest activation memory a micro-batch of this step allocated on the GPU. */
  | { kind: 'step'; log: StepLog; totalSteps: number; activationBytes: number; timing: StepTiming }
  | { kind: 'eval'; step: number; valLoss: number }
  | { kind: 'checkpoint'; step: number; where: string }
  | { kind: 'done'; step: number; reason: 'completed' | 'stopped' };

export class TrainingDivergedError extends Error {
  override name = 'TrainingDivergedError';
}

export class TrainingConfigError extends Error {
  override name = 'TrainingConfigError';
}

/** Checks every setting's type and bounds (as src/options/training-fields.ts gives them); throws naming the setting. */
export function validateSettings(s: TrainingSettings): void {
  const problem = firstProblem(TRAINING_FIELDS, s as unknown as Record<string, unknown>, { complete: true });
  if (problem) throw new TrainingConfigError(`training setting ${problemText(problem)}`);
}

/**
 * Whether LoRA+ puts a parameter in its faster group B, as PEFT's `create_loraplus_optimizer` does: `lora_B`, and every
 * 1-D parameter (trained biases).
 */
export function loraplusGroupB(name: string, shape: readonly number[]): boolean {
  return /(^|\.)lora_B(\.|$)/.test(name) || shape.length === 1;
}

/** Weight decay applies to every trainable tensor but biases (transformers' Trainer leaves out every `bias`). */
export function appliesWeightDecay(name: string): boolean {
  return !/(^|\.)bias$/.test(name);
}

/** A trainable tensor with its gradient and AdamW moments, all on the GPU. */
interface Param {
  name: string;
  /** Its learning rate is `lr` times this (LoRA+'s ratio for its group B, else 1). */
  lrScale: number;
  /** Whether weight decay applies: not to biases, as transformers' Trainer (and PEFT's LoRA+ groups) leave them out. */
  decays: boolean;
  value: GpuTensor;
  grad: GpuTensor;
  m: GpuTensor;
  v: GpuTensor;
}

export class Trainer {
  private readonly params: Param[] = [];
  private readonly batchesPerEpoch: number;
  readonly totalSteps: number;
  /** Optimizer steps completed. */
  step = 0;
  readonly log: StepLog[] = [];
  private stopRequested = false;
  private pauseGate: { promise: Promise<void>; release: () => void } | null = null;
  private readonly epochCache = new Map<number, TrainBatch[]>();
  private readonly fingerprint: string;
  /** The activations of every pass of the run, reused from step to step. */
  private readonly pool: ActivationPool;
  /** Each parameter's squared gradient norm, written every step (kept, so that its bind groups are reused). */
  private readonly norms: GpuTensor;

  constructor(
    private readonly gpu: GpuContext,
    private readonly model: GpuModel,
    private readonly adapter: GpuAdapter,
    private readonly train: TokenizedExample[],
    private readonly validation: TokenizedExample[],
    readonly settings: TrainingSettings,
    private readonly padTokenId: number,
    private readonly checkpoints: CheckpointStore | null = null,
  ) {
    validateSettings(settings);
    if (train.length === 0) throw new TrainingConfigError('there are no training examples');
    this.batchesPerEpoch = Math.ceil(train.length / settings.batchSize);
    this.totalSteps = settings.maxSteps > 0 ? settings.maxSteps : Math.ceil((settings.epochs * this.batchesPerEpoch) / settings.gradAccum);
    this.fingerprint = fingerprintExamples(train);
    for (const { name, value, grad } of adapter.parameters()) {
      this.params.push({
        name,
        lrScale: loraplusGroupB(name, value.shape) ? settings.loraplusLrRatio : 1,
        decays: appliesWeightDecay(name),
        value,
        grad,
        m: zerosTensor(gpu.device, [...value.shape], `${name} exp_avg`),
        v: zerosTensor(gpu.device, [...value.shape], `${name} exp_avg_sq`),
      });
    }
    if (this.params.length === 0) throw new TrainingConfigError('the adapter has no trainable parameters');
    this.pool = new ActivationPool(gpu.device);
    this.norms = zerosTensor(gpu.device, [this.params.length], 'squared gradient norms');
  }

  /** Micro-batch number `index` of the run (epochs follow each other; each has its own seeded order). */
  private microBatch(index: number): TrainBatch {
    const epoch = Math.floor(index / this.batchesPerEpoch);
    let batches = this.epochCache.get(epoch);
    if (!batches) {
      this.epochCache.clear();
      batches = makeBatches(this.train, { batchSize: this.settings.batchSize, seed: this.settings.seed, epoch, padTokenId: this.padTokenId });
      this.epochCache.set(epoch, batches);
    }
    return batches[index % this.batchesPerEpoch];
  }

  pause(): void {
    if (this.pauseGate) return;
    let release!: () => void;
    const promise = new Promise<void>((r) => (release = r));
    this.pauseGate = { promise, release };
  }

  resume(): void {
    this.pauseGate?.release();
    this.pauseGate = null;
  }

  stop(): void {
    this.stopRequested = true;
    this.resume();
  }

  /** What the run's activation pool has done so far (buffers created and reused, bytes held). */
  activationStats(): PoolStats {
    return this.pool.snapshot();
  }

  get paused(): boolean {
    return this.pauseGate !== null;
  }

  /** Restores the latest checkpoint from the store, if any. Returns the step it resumes from. */
  async restore(): Promise<number | null> {
    if (!this.checkpoints) return null;
    const files = await this.checkpoints.load();
    if (!files) return null;
    const state = decodeCheckpoint(files, this.checkpoints.description);
    const where = this.checkpoints.description;
    if (state.meta.dataFingerprint !== this.fingerprint) {
      throw new CheckpointError(`${where}: the checkpoint was made on other training data (${state.meta.dataFingerprint}, now ${this.fingerprint}); start a new run instead of --resume`);
    }
    for (const key of ['seed', 'batchSize', 'gradAccum', 'lr', 'schedule', 'warmupSteps'] as const) {
      if (state.meta.settings[key] !== this.settings[key]) {
        throw new CheckpointError(`${where}: setting ${key} was ${JSON.stringify(state.meta.settings[key])} in the checkpoint, now ${JSON.stringify(this.settings[key])}`);
      }
    }
    const d = this.gpu.device;
    for (const p of this.params) {
      for (const [suffix, t] of [['', p.value], ['.exp_avg', p.m], ['.exp_avg_sq', p.v]] as const) {
        const data = state.tensors.get(`${p.name}${suffix}`);
        const expected = t.shape.reduce((a, b) => a * b, 1);
        if (!data || data.length !== expected) {
          throw new CheckpointError(`${where}: tensor "${p.name}${suffix}" is ${data ? `${data.length} values` : 'missing'}, expected ${expected}`);
        }
        d.queue.writeBuffer(t.buffer, 0, data as Float32Array<ArrayBuffer>);
      }
    }
    this.step = state.meta.step;
    this.log.length = 0;
    this.log.push(...(state.meta.log as StepLog[]));
    return this.step;
  }

  async saveCheckpoint(): Promise<string | null> {
    if (!this.checkpoints) return null;
    const tensors = new Map<string, Float32Array>();
    for (const p of this.params) {
      tensors.set(p.name, await readTensor(this.gpu.device, p.value));
      tensors.set(`${p.name}.exp_avg`, await readTensor(this.gpu.device, p.m));
      tensors.set(`${p.name}.exp_avg_sq`, await readTensor(this.gpu.device, p.v));
    }
    await this.checkpoints.save(
      encodeCheckpoint({
        meta: {
          version: CHECKPOINT_VERSION,
          step: this.step,
          seed: this.settings.seed,
          settings: { ...this.settings },
          dataFingerprint: this.fingerprint,
          log: this.log,
        },
        tensors,
      }),
    );
    return this.checkpoints.description;
  }

  /** Mean validation loss over all validation examples (token-weighted). */
  async validationLoss(): Promise<number | null> {
    if (this.validation.length === 0) return null;
    const batches = makeBatches(this.validation, { batchSize: this.settings.batchSize, seed: 0, epoch: 0, padTokenId: this.padTokenId, shuffle: false });
    let sum = 0;
    let tokens = 0;
    for (const b of batches) {
      const r = await evalLoss(this.gpu, this.model, this.adapter, b, { pool: this.pool });
      sum += r.loss * r.tokens;
      tokens += r.tokens;
    }
    return sum / tokens;
  }

  /**
   * Compiles the pipelines of a training step's passes before the step records them: a dry run of its first
   * micro-batch in collecting mode, where nothing is dispatched, lists them; then they compile all at once with
   * createComputePipelineAsync (the optimizer's two small kernels compile at first use, in milliseconds). A browser compiles those on its GPU process's worker
   * threads, several in parallel, where a first use would compile them one after another on the step's path.
   */
  private async precompile(): Promise<void> {
    const s = this.settings;
    const specs = await this.gpu.pipelines.collectPipelines(async () => {
      const index = this.step * s.gradAccum;
      const dropoutSeed = pcgHash((s.seed ^ Math.imul(index + 1, 0x85ebca6b)) >>> 0);
      await lossAndGrads(this.gpu, this.model, this.adapter, this.microBatch(index), { dropoutSeed, accumulateGrads: false, pool: this.pool, gradientCheckpointing: s.gradientCheckpointing });
    });
    await this.gpu.pipelines.compileAll(specs);
  }

  /** Runs from the current step to the end (or until stopped), reporting through `onEvent`. */
  async run(onEvent: (e: TrainerEvent) => void | Promise<void> = () => {}, resumedFromStep: number | null = null): Promise<StepLog[]> {
    const s = this.settings;
    await onEvent({ kind: 'started', totalSteps: this.totalSteps, resumedFromStep, stepsPerEpoch: this.batchesPerEpoch / s.gradAccum });
    let firstStep = true;
    let releaseDeferred: (() => void) | null = null;
    try {
      while (this.step < this.totalSteps) {
        if (this.pauseGate) await this.pauseGate.promise;
        if (this.stopRequested) break;
        const t0 = performance.now();
        // The run's first step compiles its shaders (seconds each on a CPU driver): say so as it happens.
        const used = new Set<string>();
        let compiled = 0;
        let compileMs = 0;
        const stepNumber = this.step + 1;
        const unobserve = firstStep
          ? this.gpu.pipelines.observe((use) => {
              used.add(use.key);
              if (!use.compiled) return;
              compiled++;
              compileMs += use.ms;
              void onEvent({ kind: 'compiling', step: stepNumber, used: used.size, compiled, seconds: compileMs / 1000 });
            })
          : null;
        let lossSum = 0;
        let tokens = 0;
        let activationBytes = 0;
        try {
          // The first step's pipelines compile first; the fast variants of tiered kernels wait until it is done.
          if (firstStep) {
            releaseDeferred = this.gpu.pipelines.holdDeferred();
            await this.precompile();
          }
          for (let micro = 0; micro < s.gradAccum; micro++) {
            const batch = this.microBatch(this.step * s.gradAccum + micro);
            const dropoutSeed = pcgHash((s.seed ^ Math.imul(this.step * s.gradAccum + micro + 1, 0x85ebca6b)) >>> 0);
            const r = await lossAndGrads(this.gpu, this.model, this.adapter, batch, { dropoutSeed, accumulateGrads: micro > 0, pool: this.pool, gradientCheckpointing: s.gradientCheckpointing });
            lossSum += r.loss;
            tokens += r.tokens;
            activationBytes = Math.max(activationBytes, r.activationBytes);
          }
        } finally {
          unobserve?.();
        }
        const loss = lossSum / s.gradAccum;
        // Global gradient norm of the averaged gradients (the sums divided by gradAccum).
        const rec = new CommandRecorder(this.gpu, 'gradient norms');
        encodeSquaredNorms(rec, { tensors: this.params.map((p) => p.grad), out: this.norms });
        rec.submit();
        const squared = Array.from(await readTensor(this.gpu.device, this.norms), (x) => x / (s.gradAccum * s.gradAccum));
        const clip = clipFactor(squared, s.maxGradNorm > 0 ? s.maxGradNorm : Infinity);
        if (!Number.isFinite(loss) || !Number.isFinite(clip.norm)) {
          // The adapter has not been touched by this step: what is on the GPU is the last good adapter.
          throw new TrainingDivergedError(
            `training diverged at step ${this.step + 1}: loss ${loss}, gradient norm ${clip.norm}. ` +
              'The adapter from the previous step is kept; lower the learning rate or enable gradient clipping.',
          );
        }
        const lr = learningRate(this.step, { schedule: s.schedule, baseLr: s.lr, warmupSteps: s.warmupSteps, totalSteps: this.totalSteps });
        const update = new CommandRecorder(this.gpu, 'AdamW');
        for (const p of this.params) {
          encodeAdamW(update, {
            param: p.value, grad: p.grad, m: p.m, v: p.v, lr: lr * p.lrScale, beta1: s.beta1, beta2: s.beta2, eps: s.eps,
            weightDecay: p.decays ? s.weightDecay : 0, step: this.step + 1, gradScale: clip.factor / s.gradAccum,
          });
        }
        update.submit();
        await this.gpu.device.queue.onSubmittedWorkDone();
        this.gpu.assertHealthy();
        this.step++;
        const seconds = (performance.now() - t0) / 1000;
        let valLoss: number | null = null;
        if ((s.evalEvery > 0 && this.step % s.evalEvery === 0) || (this.step === this.totalSteps && this.validation.length > 0)) {
          valLoss = await this.validationLoss();
          if (valLoss !== null) await onEvent({ kind: 'eval', step: this.step, valLoss });
        }
        const log: StepLog = { step: this.step, loss, val_loss: valLoss, lr, tokens_per_s: tokens / seconds, grad_norm: clip.norm };
        this.log.push(log);
        const timing: StepTiming = { seconds, compileSeconds: compileMs / 1000, tokens, pipelines: firstStep ? used.size : null };
        firstStep = false;
        releaseDeferred?.();
        await onEvent({ kind: 'step', log, totalSteps: this.totalSteps, activationBytes, timing });
        if (s.checkpointEvery > 0 && this.step % s.checkpointEvery === 0 && this.checkpoints) {
          await onEvent({ kind: 'checkpoint', step: this.step, where: (await this.saveCheckpoint())! });
        }
      }
    } finally {
      releaseDeferred?.();
    }
    await onEvent({ kind: 'done', step: this.step, reason: this.step >= this.totalSteps ? 'completed' : 'stopped' });
    return this.log;
  }

  destroy(): void {
    for (const p of this.params) {
      p.m.buffer.destroy();
      p.v.buffer.destroy();
    }
    this.norms.buffer.destroy();
    this.pool.destroy();
  }
}
