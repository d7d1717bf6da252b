/**
 * The typed message protocol between the page and the kernel Web Worker.
 *
 * Every request carries a numeric `id`; the worker answers each request exactly once, with a response of
 * kind `${request.kind}-result` or with an `error` response carrying the same id. Payloads are plain
 * structured-clone data (numbers, strings, plain arrays), so they can be logged, stored and compared in tests.
 */
import type { AdapterReport } from '../gpu/device';
import type { WeightFormat, WeightLayout } from '../kernels/weight-format';

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

export type WorkerRequest = ProbeRequest | LoraForwardSelfTestRequest;
export type WorkerRequestKind = WorkerRequest['kind'];
export const WORKER_REQUEST_KINDS: readonly WorkerRequestKind[] = ['probe', 'lora-forward-selftest'];

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

/** Any failure. `id` is -1 when the request itself could not be read. */
export interface ErrorResponse {
  id: number;
  kind: 'error';
  message: string;
  /** The error's class name, e.g. 'WebGpuUnavailableError', 'DeviceLostError', 'ShapeError'. */
  name: string;
}

export type WorkerResponse = ProbeResponse | LoraForwardSelfTestResponse | ErrorResponse;

/** The successful response that answers a request of kind K. */
export type ResponseFor<K extends WorkerRequestKind> = Extract<WorkerResponse, { kind: `${K}-result` }>;

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
  return data as WorkerRequest;
}
