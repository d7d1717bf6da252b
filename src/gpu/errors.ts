/** Errors raised by the GPU runtime and the kernel wrappers. Each names what went wrong and what was expected. */

/** A tensor handed to a kernel has the wrong shape, dtype or buffer size. */
export class ShapeError extends Error {
  override name = 'ShapeError';
}

/** A dispatch or a buffer would exceed a limit of the adapter or device. */
export class GpuLimitError extends Error {
  override name = 'GpuLimitError';
  constructor(
    readonly limit: string,
    readonly requested: number,
    readonly allowed: number,
    what: string,
  ) {
    super(`${what} needs ${limit} = ${requested}, but this device allows at most ${allowed}`);
  }
}

/** No WebGPU here, or no adapter or device could be had. */
export class WebGpuUnavailableError extends Error {
  override name = 'WebGpuUnavailableError';
}

/** The GPU device was lost (driver reset, out of memory, tab in background, destroy()). */
export class DeviceLostError extends Error {
  override name = 'DeviceLostError';
  constructor(
    readonly reason: string,
    detail: string,
  ) {
    super(`WebGPU device lost (${reason}): ${detail || 'no message from the driver'}`);
  }
}

/** A validation, out-of-memory or internal error reported by WebGPU, with the operation it came from. */
export class GpuOperationError extends Error {
  override name = 'GpuOperationError';
  constructor(
    readonly kind: 'validation' | 'out-of-memory' | 'internal' | 'uncaptured',
    context: string,
    detail: string,
  ) {
    super(`WebGPU ${kind} error in ${context}: ${detail}`);
  }
}

/** Runs a destroy() that may meet a lost device, where there is nothing left to free (and a second error would hide the first). */
export function destroyQuietly(destroy: () => void): void {
  try {
    destroy();
  } catch {
    // a lost device
  }
}
