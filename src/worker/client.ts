/**
 * The page's side of the kernel worker: assigns request ids, matches responses to requests, turns `error`
 * responses into rejected promises, and rejects everything pending if the worker itself fails. Streaming
 * requests (`train-start`) pass each stream message to a callback before their result settles the promise.
 */
import {
  isStreamMessage,
  type RequestBody,
  type ResponseFor,
  type StreamMessageFor,
  type StreamingRequestKind,
  type WorkerMessage,
  type WorkerRequest,
  type WorkerRequestKind,
  type WorkerResponse,
  type WorkerStreamMessage,
} from './protocol';

/** An error raised inside the worker; `name` is the worker-side error class (e.g. 'DeviceLostError'). */
export class KernelWorkerError extends Error {
  constructor(message: string, name: string) {
    super(message);
    this.name = name;
  }
}

interface Pending {
  kind: WorkerRequestKind;
  resolve: (response: WorkerResponse) => void;
  reject: (error: Error) => void;
  timer: ReturnType<typeof setTimeout> | undefined;
  /** Streaming requests only. */
  onMessage?: (message: WorkerStreamMessage) => void;
  /** Streaming requests: restarts the timeout (it limits the silence between messages). */
  rearm?: () => void;
}

/** The result of a streaming request, with the request's id (e.g. the runId for train-pause/resume/stop). */
export type StreamHandle<T> = Promise<T> & { readonly id: number };

export interface StreamOptions {
  /** Fails the request when the worker sends nothing for this long (each stream message restarts it). */
  idleTimeoutMs?: number;
}

export class KernelWorkerClient {
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();
  private failure: Error | null = null;

  constructor(private readonly worker: Worker) {
    worker.addEventListener('message', (event: MessageEvent<WorkerMessage>) => this.onMessage(event.data));
    worker.addEventListener('error', (event: ErrorEvent) => {
      event.preventDefault();
      this.failAll(new KernelWorkerError(`The kernel worker failed: ${event.message || 'it could not be loaded'}`, 'WorkerError'));
    });
    worker.addEventListener('messageerror', () => {
      this.failAll(new KernelWorkerError('A message from the kernel worker could not be deserialized', 'WorkerError'));
    });
  }

  /** Sends a request and resolves with its result; rejects with a KernelWorkerError on failure or timeout. */
  request<K extends WorkerRequestKind>(body: RequestBody<K> & { kind: K }, timeoutMs?: number): Promise<ResponseFor<K>> {
    if (this.failure) return Promise.reject(this.failure);
    const id = this.nextId++;
    const message = { ...body, id } as WorkerRequest;
    return new Promise<ResponseFor<K>>((resolve, reject) => {
      const timer =
        timeoutMs === undefined
          ? undefined
          : setTimeout(() => {
              this.pending.delete(id);
              reject(new KernelWorkerError(`Worker request '${body.kind}' timed out after ${timeoutMs} ms`, 'TimeoutError'));
            }, timeoutMs);
      this.pending.set(id, {
        kind: body.kind,
        resolve: resolve as (response: WorkerResponse) => void,
        reject,
        timer,
      });
      this.worker.postMessage(message);
    });
  }

  /**
   * Sends a streaming request: `onMessage` gets each stream message (e.g. train-progress, train-log) in order,
   * and the returned promise settles with the final result or a KernelWorkerError. The promise carries the
   * request's `id`.
   */
  stream<K extends StreamingRequestKind>(
    body: RequestBody<K> & { kind: K },
    onMessage: (message: StreamMessageFor<K>) => void,
    options: StreamOptions = {},
  ): StreamHandle<ResponseFor<K>> {
    const id = this.nextId++;
    const promise = (
      this.failure
        ? Promise.reject(this.failure)
        : new Promise<ResponseFor<K>>((resolve, reject) => {
            const { idleTimeoutMs } = options;
            const entry: Pending = {
              kind: body.kind,
              resolve: resolve as (response: WorkerResponse) => void,
              reject,
              timer: undefined,
              onMessage: onMessage as (message: WorkerStreamMessage) => void,
            };
            if (idleTimeoutMs !== undefined) {
              entry.rearm = () => {
                if (entry.timer !== undefined) clearTimeout(entry.timer);
                entry.timer = setTimeout(() => {
                  this.pending.delete(id);
                  reject(new KernelWorkerError(`Worker request '${body.kind}' sent nothing for ${idleTimeoutMs} ms`, 'TimeoutError'));
                }, idleTimeoutMs);
              };
              entry.rearm();
            }
            this.pending.set(id, entry);
            this.worker.postMessage({ ...body, id } as unknown as WorkerRequest);
          })
    ) as StreamHandle<ResponseFor<K>>;
    Object.defineProperty(promise, 'id', { value: id, enumerable: true });
    return promise;
  }

  terminate(): void {
    this.worker.terminate();
    this.failAll(new KernelWorkerError('The kernel worker was terminated', 'WorkerError'));
  }

  private onMessage(message: WorkerMessage): void {
    const entry = this.pending.get(message.id);
    if (isStreamMessage(message)) {
      // A plain `request` for a streaming kind just waits for the result.
      if (!entry?.onMessage) return;
      entry.rearm?.();
      try {
        entry.onMessage(message);
      } catch (error) {
        console.error('kernel worker: a stream message handler threw', error);
      }
      return;
    }
    const response = message;
    if (!entry) {
      if (response.kind === 'error') console.error(`kernel worker: ${response.name}: ${response.message}`);
      return;
    }
    this.pending.delete(response.id);
    if (entry.timer !== undefined) clearTimeout(entry.timer);
    if (response.kind === 'error') entry.reject(new KernelWorkerError(response.message, response.name));
    else if (response.kind !== `${entry.kind}-result`) {
      entry.reject(new KernelWorkerError(`Expected ${entry.kind}-result, got ${response.kind}`, 'ProtocolError'));
    } else entry.resolve(response);
  }

  private failAll(error: Error): void {
    this.failure = error;
    for (const [id, entry] of this.pending) {
      if (entry.timer !== undefined) clearTimeout(entry.timer);
      entry.reject(error);
      this.pending.delete(id);
    }
  }
}

/** Starts the kernel worker as a module worker (Vite bundles it from this URL). */
export function createKernelWorker(): KernelWorkerClient {
  const worker = new Worker(new URL('../worker/kernel-worker.ts', import.meta.url), { type: 'module', name: 'peft-kernels' });
  return new KernelWorkerClient(worker);
}
