/**
 * The typed message protocol between the page and the kernel Web Worker.
 *
 * Every request carries a numeric `id`; the worker answers each request exactly once, with a response of
 * kind `${request.kind}-result` or with an `error` response carrying the same id. Payloads are plain
 * structured-clone data (numbers, strings, plain arrays, typed arrays, Files), so they can be logged, stored
 * and compared in tests.
 *
 * A streaming request (`train-start`) is also answered exactly once, but before that final answer the worker
 * sends any number of stream messages with the same id (`train-progress`, `train-log`). Training is steered
 * with `train-pause`, `train-resume` and `train-stop`, each naming the run by its `train-start` id (`runId`)
 * and each answered with its own `-result`. A worker trains one run at a time.
 */
import { MERGED_DTYPES, type MergedDtype } from '../deploy/merged-dtype';
import { ONNX_QUANTS, type OnnxQuant } from '../deploy/onnx/onnx-quant';
import type { AdapterReport } from '../gpu/device';
import type { WeightFormat, WeightLayout } from '../kernels/weight-format';
import { SUPPORTED_MODEL_TYPES, type ModelConfig, type ModelType } from '../model/config';
import type { GenerationDefaults, SamplingOptions } from '../model/sampling';
import type { MethodComparisonRow } from '../trainer/method-comparison';
import type { StepLog, TrainerEvent, TrainingSettings } from '../trainer/trainer';
import type { TrainLogPhase } from '../trainer/training-run';
import { accepts, expectation, firstProblem, problemText, type FieldSet } from '../options/field';
import type { LoraOptions } from '../options/lora-fields';
import type { MethodId } from '../methods/method';
import { availableMethods } from '../methods/registry';
import { RUN_FIELDS, type RunOptions } from '../options/run-fields';
import { TRAINING_FIELDS } from '../options/training-fields';

// ---------------------------------------------------------------------------------------------- requests

/** Asks the worker which adapter WebGPU gives it (acquiring the worker's device on first use). */
export interface ProbeRequest {
  id: number;
  kind: 'probe';
}

/** Runs one fused LoRA-linear forward on the GPU on seeded random data and returns inputs and outputs. */
export interface LoraForwardSelfTestRequest {
  id: number;
  kind: 'lora-forward-selftest';
  /** Seeds the random inputs and the dropout mask. */
  seed: number;
  /** Format of the frozen weight W0; 'nf4' when left out. */
  format?: WeightFormat;
}

/** Where the base model comes from. */
export type TrainModelSpec =
  /** The embedded default model the page serves from public/models (see model-io/embedded.ts). */
  | { kind: 'default' }
  /**
   * The model the worker holds from `model-load` (train-start only). The run trains on it without reloading, and
   * its adapter stays in the worker afterwards for `generate` and `adapter-export`.
   */
  | { kind: 'loaded' }
  /** A deterministic tiny test model built in the worker (tests/fixtures/tiny-models.ts); test build only (src/test-build.d.ts). */
  | { kind: 'tiny'; arch: ModelType }
  /** A Hugging Face Hub repo (or a mirror with the same URL layout); downloads are kept in Cache Storage. */
  | { kind: 'hub'; repo: string; revision?: string; endpoint?: string }
  /** Files the user picked (config.json, safetensors, tokenizer files). */
  | { kind: 'files'; files: File[] };

export interface TrainDataSpec {
  /** The dataset's text. */
  text: string;
  /** The file's name, whose extension picks the format (.jsonl, .json, .csv, .txt); absent = pasted text. */
  fileName?: string;
}

/** The LoRA fields the studio sets (src/options/lora-fields.ts); PEFT's defaults for the rest (target_modules per model type). */
export type TrainLoraOptions = Partial<LoraOptions>;

/** A run's PEFT method (src/methods/registry.ts) and its options (the method's fields; each left out takes PEFT's default). */
export interface TrainMethodSpec {
  id: MethodId;
  options: Record<string, unknown>;
}

/**
 * Loads a base model into the worker (replacing the one it held, and any adapter on it) with W0 in `quant`.
 * Streams `model-progress` messages, then answers with `model-load-result` (the model's summary) or `error`;
 * a failed load leaves the worker with no model, never half of one.
 */
export interface ModelLoadRequest {
  id: number;
  kind: 'model-load';
  model: TrainModelSpec;
  quant: WeightFormat;
}

/**
 * Tokenizes a dataset with the loaded model's tokenizer, as training would, and answers with statistics and a
 * preview of the first examples (which tokens the loss counts). Needs a model loaded by `model-load`.
 */
export interface DataPreviewRequest {
  id: number;
  kind: 'data-preview';
  data: TrainDataSpec;
  maxLength: number;
  /** How many examples to show token by token. */
  previewCount: number;
}

/**
 * Loads the model and the data, then trains an adapter of a PEFT method. Streams `train-log` and `train-progress`
 * messages, then answers once with `train-start-result` (also after a stop) or `error`.
 */
export interface TrainStartRequest extends RunOptions {
  id: number;
  kind: 'train-start';
  model: TrainModelSpec;
  data: TrainDataSpec;
  method: TrainMethodSpec;
  /** Overrides of DEFAULT_TRAINING. */
  settings: Partial<TrainingSettings>;
  // RunOptions (src/options/run-fields.ts): quant (W0's format on the GPU), maxLength, valSplit, skipBadRecords.
  /** Name of the run's checkpoint folder in OPFS (peft-studio/checkpoints/<runName>): letters, digits, ".", "_", "-". */
  runName: string;
  /**
   * true: continue from the run's latest checkpoint (from step 0 when it has none). false: a new run, which
   * deletes the checkpoints kept under runName.
   */
  resume: boolean;
  /**
   * Start from the adapter the worker holds (imported with `adapter-import`, or trained earlier) instead of a
   * fresh initialisation; its method and configuration replace `method`. Needs model kind 'loaded'.
   */
  fromCurrentAdapter?: boolean;
}

/** The model a `generate` runs: the base model, the adapted one, or the adapted one deployed as ONNX. */
export const GENERATE_SIDES = ['base', 'adapted', 'deployed'] as const;
export type GenerateSide = (typeof GENERATE_SIDES)[number];

/**
 * Generates a continuation of `prompt` with the loaded model: the base model, the model with the worker's current
 * adapter, or that adapter merged and exported as ONNX, run by onnxruntime-web (built on first use, streaming
 * `model-progress` meanwhile). Streams `generate-token` messages, then answers with `generate-result`.
 */
export interface GenerateRequest {
  id: number;
  kind: 'generate';
  prompt: string;
  side: GenerateSide;
  maxNewTokens: number;
  sampling: SamplingOptions;
  seed: number;
}

/** The worker's current adapter in PEFT's format (adapter_config.json, adapter_model.safetensors, README.md). */
export interface AdapterExportRequest {
  id: number;
  kind: 'adapter-export';
}

/**
 * The loaded model with the worker's current adapter merged into its weights (src/deploy/merged-model.ts), read
 * again from the model's source, in Hugging Face's layout. Streams `model-progress` while the source is read.
 */
export interface MergedExportRequest {
  id: number;
  kind: 'merged-export';
  dtype: MergedDtype;
}

/**
 * The current adapter merged and exported as ONNX for transformers.js (src/deploy/onnx-export.ts), with the
 * quantized variants asked for. Streams `model-progress` while the source is read and the files are built.
 */
export interface OnnxExportRequest {
  id: number;
  kind: 'onnx-export';
  quants: OnnxQuant[];
}

/** Makes a PEFT LoRA adapter (adapter_config.json and adapter_model.safetensors) the worker's current adapter. */
export interface AdapterImportRequest {
  id: number;
  kind: 'adapter-import';
  files: File[];
}

/** Pauses a run after the step in progress; answered once the run is paused (or has ended). */
export interface TrainPauseRequest {
  id: number;
  kind: 'train-pause';
  /** The id of the run's train-start request. */
  runId: number;
}

export interface TrainResumeRequest {
  id: number;
  kind: 'train-resume';
  runId: number;
}

/** Stops a run after the step in progress; the run's train-start is then answered with reason 'stopped'. */
export interface TrainStopRequest {
  id: number;
  kind: 'train-stop';
  runId: number;
}

export type TrainControlRequest = TrainPauseRequest | TrainResumeRequest | TrainStopRequest;

export type WorkerRequest =
  | ProbeRequest
  | LoraForwardSelfTestRequest
  | ModelLoadRequest
  | DataPreviewRequest
  | TrainStartRequest
  | TrainControlRequest
  | GenerateRequest
  | AdapterExportRequest
  | MergedExportRequest
  | OnnxExportRequest
  | AdapterImportRequest;
export type WorkerRequestKind = WorkerRequest['kind'];
export const WORKER_REQUEST_KINDS: readonly WorkerRequestKind[] = [
  'probe',
  'lora-forward-selftest',
  'model-load',
  'data-preview',
  'train-start',
  'train-pause',
  'train-resume',
  'train-stop',
  'generate',
  'adapter-export',
  'merged-export',
  'onnx-export',
  'adapter-import',
];

// --------------------------------------------------------------------------------------------- responses

export interface ProbeResponse {
  id: number;
  kind: 'probe-result';
  report: AdapterReport;
}

/** Comparison of the GPU outputs with the CPU reference, computed inside the worker. */
export interface SelfTestCheck {
  atol: number;
  rtol: number;
  maxAbsErrorY: number;
  maxAbsErrorXa: number;
  /** max over elements of |gpu − ref| / (atol + rtol·|ref|); the check passes when it is ≤ 1. */
  worstRatio: number;
  pass: boolean;
}

/** Everything needed to recompute the self-test elsewhere, as plain arrays (row-major). */
export interface LoraSelfTestResult {
  seed: number;
  format: WeightFormat;
  layout: WeightLayout;
  M: number;
  K: number;
  N: number;
  r: number;
  scale: number;
  dropoutP: number;
  /** Input activations, [M, K]. */
  x: number[];
  /** The frozen weight before packing, in the source layout ([N, K] for 'linear'). */
  w0: number[];
  /** [N], or null for no bias. */
  bias: number[] | null;
  /** LoRA A, r·K values. */
  a: number[];
  /** LoRA B, N·r values. */
  b: number[];
  /** GPU output y, [M, N]. */
  y: number[];
  /** GPU intermediate dropout(x)·Aᵀ, [M, r]. */
  xa: number[];
  /** Wall time of runLoraForward in the worker (includes uploads, pipeline compiles and read-back). */
  gpuMs: number;
  check: SelfTestCheck;
  adapter: { vendor: string; architecture: string };
}

export interface LoraForwardSelfTestResponse {
  id: number;
  kind: 'lora-forward-selftest-result';
  result: LoraSelfTestResult;
}

/** What the Model panel shows about a loaded model. */
export interface ModelInfo {
  /** What adapter_config.json's base_model_name_or_path will say. */
  nameOrPath: string;
  /** Where it was read from, e.g. "embedded model austen-2m" or "Hugging Face repo gpt2 (revision main)". */
  source: string;
  modelType: string;
  numLayers: number;
  hiddenSize: number;
  intermediateSize: number;
  numHeads: number;
  numKvHeads: number;
  vocabSize: number;
  contextLength: number;
  parameters: number;
  /** The format W0 is held in now. */
  format: WeightFormat;
  /** GPU bytes of the weights in each format. */
  weightBytes: Record<WeightFormat, number>;
  hasChatTemplate: boolean;
  eosTokenId: number | null;
  /** generation_config.json's sampling settings. */
  generation: GenerationDefaults;
  /** The parsed config (plain data), for LoRA target resolution and parameter counts on the page. */
  config: ModelConfig;
}

/** What the worker's current adapter is. */
export interface AdapterInfo {
  origin: 'trained' | 'imported';
  method: MethodId;
  /** The method's name: "LoRA", "Prompt tuning", … */
  label: string;
  /** What the studio shows of it, [label, value] (r, lora_alpha, target_modules, …). */
  facts: [string, string][];
  trainableParameters: number;
  /** PEFT's "all params" (the base model's and the adapter's), for print_trainable_parameters' trainable%. */
  allParameters: number;
  /** The method's options that rebuild an adapter of its configuration. */
  options: Record<string, unknown>;
  /** Why the adapter cannot be merged into the model (and so not exported merged or as ONNX); null when it can. */
  mergeRefusal: string | null;
}

export interface GenerateResponse {
  id: number;
  kind: 'generate-result';
  text: string;
  tokens: number[];
  stopReason: 'eos' | 'length' | 'context' | 'aborted';
  /** What ran a deployed model, e.g. "onnxruntime-web 1.30.0 (webgpu)". */
  runtime?: string;
}

export interface AdapterExportResponse {
  id: number;
  kind: 'adapter-export-result';
  files: Record<string, Uint8Array>;
  adapter: AdapterInfo;
}

/** The merged model's folder: config.json, generation_config.json, the tokenizer files, model.safetensors. */
export interface MergedExportResponse {
  id: number;
  kind: 'merged-export-result';
  files: Record<string, Uint8Array>;
  /** What merging let pass with a warning. */
  warnings: string[];
}

/** The ONNX folder for transformers.js: config, tokenizer and onnx/*.onnx files by path. */
export interface OnnxExportResponse {
  id: number;
  kind: 'onnx-export-result';
  files: Record<string, Uint8Array>;
  warnings: string[];
}

export interface AdapterImportResponse {
  id: number;
  kind: 'adapter-import-result';
  adapter: AdapterInfo;
}

export interface ModelLoadResponse {
  id: number;
  kind: 'model-load-result';
  info: ModelInfo;
}

/** A run of consecutive tokens of one example, and whether the loss counts them. */
export interface PreviewPiece {
  text: string;
  trained: boolean;
}

export interface DataPreviewResponse {
  id: number;
  kind: 'data-preview-result';
  source: string;
  format: string;
  shape: string | null;
  /** Records the file holds that parsed. */
  records: number;
  /** Examples after tokenizing (records with something to learn from). */
  examples: number;
  /** Token count of every example, in file order. */
  lengths: number[];
  /** Tokens the loss counts, over all examples. */
  trainedTokens: number;
  truncated: number;
  /** Bad records and records with nothing to learn from, with their line (or .json index). */
  problems: { line: number; message: string }[];
  lineUnit: 'line' | 'index';
  preview: { line: number; pieces: PreviewPiece[] }[];
}

export interface TrainStartResponse {
  id: number;
  kind: 'train-start-result';
  /** Every step of the run, restored steps included. */
  log: StepLog[];
  reason: 'completed' | 'stopped';
  /** Steps completed. */
  step: number;
  totalSteps: number;
  /** The checkpoint step the run continued from; null for a run from step 0. */
  resumedFromStep: number | null;
  /** The adapter as PEFT saves it, by file name: adapter_config.json, adapter_model.safetensors, README.md. */
  adapterFiles: Record<string, Uint8Array>;
  /** The adapter, now the worker's current one when the run trained the loaded model (else null). */
  adapter: AdapterInfo | null;
  /** The run's row of a methods comparison (trainable parameters, adapter size, peak memory, ms per step, losses). */
  comparison: MethodComparisonRow;
}

/** Where a run stands after a control request ('stopping': a stop was asked for, the run's result follows). */
export type TrainRunState = 'running' | 'paused' | 'stopping' | 'finished';

export interface TrainControlResult {
  runId: number;
  /** Steps completed when the answer was sent (for a pause: the last step before the pause). */
  step: number;
  /**
   * A pause answers 'paused' once it took effect, 'running' when a resume took it back first, 'stopping' or
   * 'finished' when the run stops or ended first. A resume answers 'running', a stop 'stopping'; both answer
   * 'finished' for a run that has ended (and a resume 'stopping' for a run being stopped).
   */
  state: TrainRunState;
}

export interface TrainPauseResponse extends TrainControlResult {
  id: number;
  kind: 'train-pause-result';
}

export interface TrainResumeResponse extends TrainControlResult {
  id: number;
  kind: 'train-resume-result';
}

export interface TrainStopResponse extends TrainControlResult {
  id: number;
  kind: 'train-stop-result';
}

/** Any failure. `id` is -1 when the request itself could not be read. */
export interface ErrorResponse {
  id: number;
  kind: 'error';
  message: string;
  /** The error's class name, e.g. 'WebGpuUnavailableError', 'DeviceLostError', 'ShapeError'. */
  name: string;
}

export type WorkerResponse =
  | ProbeResponse
  | LoraForwardSelfTestResponse
  | ModelLoadResponse
  | DataPreviewResponse
  | TrainStartResponse
  | TrainPauseResponse
  | TrainResumeResponse
  | TrainStopResponse
  | GenerateResponse
  | AdapterExportResponse
  | MergedExportResponse
  | OnnxExportResponse
  | AdapterImportResponse
  | ErrorResponse;

/** The successful response that answers a request of kind K. */
export type ResponseFor<K extends WorkerRequestKind> = Extract<WorkerResponse, { kind: `${K}-result` }>;

// ------------------------------------------------------------------------------------------ stream messages

/** A trainer event of the run started by request `id` (plain data: see TrainerEvent). */
export interface TrainProgressMessage {
  id: number;
  kind: 'train-progress';
  event: TrainerEvent;
}

export type { TrainLogPhase };

/** A line about what the run is doing: loading phases, data counts, the trainable-parameters line, resume. */
export interface TrainLogMessage {
  id: number;
  kind: 'train-log';
  phase: TrainLogPhase;
  message: string;
  /** While a model file is read: bytes so far, and the size when known. */
  loaded?: number;
  total?: number | null;
}

/** Loading progress of a `model-load`: the phase, and bytes while a file is read. */
export interface ModelProgressMessage {
  id: number;
  kind: 'model-progress';
  message: string;
  /** The file being read. */
  file?: string;
  loaded?: number;
  total?: number | null;
}

/** The continuation so far of a `generate` request. */
export interface GenerateTokenMessage {
  id: number;
  kind: 'generate-token';
  /** The whole continuation decoded so far (a partial multi-byte character is held back). */
  text: string;
  tokens: number;
}

export type WorkerStreamMessage = TrainProgressMessage | TrainLogMessage | ModelProgressMessage | GenerateTokenMessage;

/** Everything the worker posts. */
export type WorkerMessage = WorkerResponse | WorkerStreamMessage;

/** Request kinds answered with a stream before their result, and the stream messages each gets. */
export interface StreamMessagesOf {
  'model-load': ModelProgressMessage;
  'merged-export': ModelProgressMessage;
  'onnx-export': ModelProgressMessage;
  'train-start': TrainProgressMessage | TrainLogMessage;
  generate: GenerateTokenMessage | ModelProgressMessage;
}
export type StreamingRequestKind = keyof StreamMessagesOf & WorkerRequestKind;
export type StreamMessageFor<K extends StreamingRequestKind> = StreamMessagesOf[K];

export const WORKER_STREAM_KINDS: readonly WorkerStreamMessage['kind'][] = ['train-progress', 'train-log', 'model-progress', 'generate-token'];

export function isStreamMessage(message: WorkerMessage): message is WorkerStreamMessage {
  return (WORKER_STREAM_KINDS as readonly string[]).includes(message.kind);
}

/** A request of kind K without its id (the client assigns ids). */
export type RequestBody<K extends WorkerRequestKind> = Omit<Extract<WorkerRequest, { kind: K }>, 'id'>;

export function errorResponse(id: number, error: unknown): ErrorResponse {
  if (error instanceof Error) return { id, kind: 'error', message: error.message, name: error.name || 'Error' };
  return { id, kind: 'error', message: String(error), name: 'Error' };
}

/** Checks the shape of an incoming message; throws a TypeError naming what is wrong. */
export function parseRequest(data: unknown): WorkerRequest {
  if (typeof data !== 'object' || data === null) throw new TypeError('Worker request must be an object');
  const { id, kind } = data as { id?: unknown; kind?: unknown };
  if (typeof id !== 'number' || !Number.isInteger(id)) throw new TypeError('Worker request needs an integer id');
  if (typeof kind !== 'string' || !(WORKER_REQUEST_KINDS as readonly string[]).includes(kind)) {
    throw new TypeError(`Unknown worker request kind ${JSON.stringify(kind)}; expected one of ${WORKER_REQUEST_KINDS.join(', ')}`);
  }
  if (kind === 'lora-forward-selftest') {
    const seed = (data as { seed?: unknown }).seed;
    if (typeof seed !== 'number' || !Number.isInteger(seed)) {
      throw new TypeError('lora-forward-selftest needs an integer seed');
    }
  }
  if (kind === 'train-pause' || kind === 'train-resume' || kind === 'train-stop') {
    const runId = (data as { runId?: unknown }).runId;
    if (typeof runId !== 'number' || !Number.isInteger(runId)) {
      throw new TypeError(`${kind} needs an integer runId (the id of the run's train-start request)`);
    }
  }
  if (kind === 'train-start') checkTrainStart(data as Record<string, unknown>);
  if (kind === 'model-load') checkModelLoad(data as Record<string, unknown>);
  if (kind === 'data-preview') checkDataPreview(data as Record<string, unknown>);
  if (kind === 'generate') checkGenerate(data as Record<string, unknown>);
  if (kind === 'merged-export') {
    const dtype = (data as { dtype?: unknown }).dtype;
    if (!(MERGED_DTYPES as readonly unknown[]).includes(dtype)) {
      throw new TypeError(`merged-export: dtype = ${JSON.stringify(dtype)}: expected one of ${MERGED_DTYPES.join(', ')}`);
    }
  }
  if (kind === 'onnx-export') {
    const quants = (data as { quants?: unknown }).quants;
    if (!Array.isArray(quants) || !quants.every((q) => (ONNX_QUANTS as readonly unknown[]).includes(q) && q !== 'none')) {
      throw new TypeError(`onnx-export: quants = ${JSON.stringify(quants)}: expected a list of ${ONNX_QUANTS.filter((q) => q !== 'none').join(', ')}`);
    }
  }
  if (kind === 'adapter-import') {
    const files = (data as { files?: unknown }).files;
    if (!Array.isArray(files) || files.length === 0 || !files.every((f) => f instanceof File)) {
      throw new TypeError('adapter-import needs files: a non-empty array of File objects (adapter_config.json, adapter_model.safetensors)');
    }
  }
  return data as WorkerRequest;
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

type Bad = (field: string, expected: string, value?: unknown) => never;

function badField(kind: string, r: Record<string, unknown>): Bad {
  return (field, expected, value = r[field]) => {
    throw new TypeError(`${kind}: ${value instanceof File ? `${field} = a File: expected ${expected}` : problemText({ key: field, value, expected })}`);
  };
}

/** Checks r[key] against the run option of that name (src/options/run-fields.ts). */
function checkRunOption(r: Record<string, unknown>, key: keyof typeof RUN_FIELDS, bad: Bad): void {
  if (!accepts(RUN_FIELDS[key], r[key])) bad(key, expectation(RUN_FIELDS[key]));
}

function checkGenerate(r: Record<string, unknown>): void {
  const bad = badField('generate', r);
  if (typeof r.prompt !== 'string') bad('prompt', 'a string');
  if (!(GENERATE_SIDES as readonly unknown[]).includes(r.side)) bad('side', GENERATE_SIDES.map((x) => `'${x}'`).join(', '));
  if (!Number.isInteger(r.maxNewTokens) || (r.maxNewTokens as number) < 0) bad('maxNewTokens', 'an integer ≥ 0');
  if (!Number.isInteger(r.seed) || (r.seed as number) < 0) bad('seed', 'an integer ≥ 0');
  if (!isPlainObject(r.sampling)) bad('sampling', '{ doSample?, temperature?, topK?, topP?, repetitionPenalty? }');
}

function checkModelLoad(r: Record<string, unknown>): void {
  const bad = badField('model-load', r);
  checkModelSpec(r.model, bad);
  checkRunOption(r, 'quant', bad);
}

function checkDataSpec(data: unknown, bad: Bad): void {
  if (!isPlainObject(data) || typeof data.text !== 'string') bad('data', '{ text: string; fileName?: string }', data);
  else if (data.fileName !== undefined && typeof data.fileName !== 'string') bad('data.fileName', 'a file name, or nothing for pasted text', data.fileName);
}

function checkDataPreview(r: Record<string, unknown>): void {
  const bad = badField('data-preview', r);
  checkDataSpec(r.data, bad);
  checkRunOption(r, 'maxLength', bad);
  if (!Number.isInteger(r.previewCount) || (r.previewCount as number) < 0) bad('previewCount', 'an integer ≥ 0');
}

/** The model kinds a request may name, quoted; 'tiny' in the test build only. */
const MODEL_KINDS = ['default', 'loaded', ...(import.meta.env.TEST_BUILD ? ['tiny'] : []), 'hub', 'files'].map((k) => `'${k}'`);

function checkModelSpec(model: unknown, bad: Bad): void {
  if (!isPlainObject(model)) bad('model', `{ kind: ${MODEL_KINDS.join(' | ')}, … }`);
  else if (model.kind === 'default' || model.kind === 'loaded') {
    // nothing more to check
  } else if (import.meta.env.TEST_BUILD && model.kind === 'tiny') {
    if (!(SUPPORTED_MODEL_TYPES as readonly unknown[]).includes(model.arch)) bad('model.arch', `one of ${SUPPORTED_MODEL_TYPES.join(', ')}`, model.arch);
  } else if (model.kind === 'hub') {
    if (typeof model.repo !== 'string' || model.repo === '') bad('model.repo', 'a Hub repo id such as "owner/name"', model.repo);
    for (const f of ['revision', 'endpoint'] as const) {
      if (model[f] !== undefined && typeof model[f] !== 'string') bad(`model.${f}`, 'a string or nothing', model[f]);
    }
  } else if (model.kind === 'files') {
    const files = model.files;
    if (!Array.isArray(files) || files.length === 0 || !files.every((f) => f instanceof File)) bad('model.files', 'a non-empty array of File objects', files);
  } else bad('model.kind', `${MODEL_KINDS.slice(0, -1).join(', ')} or ${MODEL_KINDS.at(-1)}`, model.kind);
}

/** r[key] is an object of the fields' values (each optional): no unknown key, each value of its type and in bounds. */
function checkFieldObject(r: Record<string, unknown>, key: string, fields: FieldSet, bad: Bad): void {
  const values = r[key];
  if (!isPlainObject(values)) bad(key, `an object with the fields ${Object.keys(fields).join(', ')} (each optional)`);
  const problem = firstProblem(fields, values as Record<string, unknown>);
  if (problem) bad(`${key}.${problem.key}`, problem.expected, problem.value);
}

function checkMethodSpec(spec: unknown, bad: Bad): void {
  if (!isPlainObject(spec)) return bad('method', `{ id: ${availableMethods().map((m) => JSON.stringify(m.id)).join(' | ')}, options: { … } }`, spec);
  const method = availableMethods().find((m) => m.id === spec.id);
  if (!method) return bad('method.id', `one of ${availableMethods().map((m) => m.id).join(', ')}`, spec.id);
  checkFieldObject(spec, 'options', method.fields, (field, expected, value) => bad(`method.${field}`, expected, value));
}

function checkTrainStart(r: Record<string, unknown>): void {
  const bad = badField('train-start', r);
  checkModelSpec(r.model, bad);

  checkDataSpec(r.data, bad);

  checkMethodSpec(r.method, bad);
  checkFieldObject(r, 'settings', TRAINING_FIELDS, bad);
  for (const key of Object.keys(RUN_FIELDS) as (keyof typeof RUN_FIELDS)[]) checkRunOption(r, key, bad);
  if (typeof r.resume !== 'boolean') bad('resume', 'true or false');
  if (typeof r.runName !== 'string' || !/^[A-Za-z0-9._-]+$/.test(r.runName)) bad('runName', 'a name of letters, digits, ".", "_" and "-"');
}
