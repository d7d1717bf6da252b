/**
 * The onnxruntime-web peer: the LoRA forward as a five-node ONNX graph (onnx-graph.ts) on the WebGPU EP.
 *
 * Loading: `onnxruntime-web/webgpu` is the bundle with the WebGPU EP (ort.webgpu.bundle.min.mjs), whose
 * Emscripten glue is embedded; the only other file it needs is ort-wasm-simd-threaded.asyncify.wasm, whose URL
 * comes from a Vite `?url` import of node_modules, so nothing is fetched from a CDN. One wasm thread and no
 * proxy worker, so no cross-origin isolation is needed.
 *
 * Device: the EP is handed a device created on the benchmark's adapter through the session's execution
 * provider option `{ name: 'webgpu', device }` (ORT's native WebGPU EP otherwise calls
 * `navigator.gpu.requestAdapter()` itself, which never gives the compatibility adapter).
 *
 * Timing: the weights are initializers (uploaded when the session is created); x is a GPU buffer fed with
 * `Tensor.fromGpuBuffer`, and y is a pre-allocated GPU buffer passed as a fetch, so `session.run` moves no
 * data between CPU and GPU — like our forward. Synchronisation: the EP submits its commands at the end of
 * `run` (OnRunEnd flushes), then `device.queue.onSubmittedWorkDone()` is awaited, as on our side.
 */
import * as ort from 'onnxruntime-web/webgpu';
import ortWasmUrl from 'onnxruntime-web/ort-wasm-simd-threaded.asyncify.wasm?url';
import { readBack } from '../../src/gpu/buffers';
import { LORA_ONNX_INPUT, LORA_ONNX_OUTPUT, loraForwardModel } from './onnx-graph';
import type { LoraProblem } from './ours';

let configured = false;

function configureOrt(): void {
  if (configured) return;
  ort.env.wasm.wasmPaths = { wasm: new URL(ortWasmUrl, location.href).href };
  ort.env.wasm.numThreads = 1;
  ort.env.wasm.proxy = false;
  ort.env.logLevel = 'warning';
  configured = true;
}

export function ortVersion(): string {
  return ort.env.versions.web ?? ort.env.versions.common;
}

/** Ways the peer can be deliberately broken, to prove the pre-check catches it (tests only). */
export type OrtPerturbation = 'none' | 'scale';

export class OrtLoraPeer {
  private constructor(
    private readonly device: GPUDevice,
    private readonly session: ort.InferenceSession,
    private readonly xBuffer: GPUBuffer,
    private readonly yBuffer: GPUBuffer,
    private readonly feeds: Record<string, ort.Tensor>,
    private readonly fetches: Record<string, ort.Tensor>,
  ) {}

  static async create(device: GPUDevice, p: LoraProblem, perturb: OrtPerturbation = 'none'): Promise<OrtLoraPeer> {
    configureOrt();
    const { T, d, r } = p;
    const model = loraForwardModel({ T, d, r, w0: p.w0, a: p.a, b: p.b, scale: perturb === 'scale' ? p.scale * 1.25 : p.scale });
    const session = await ort.InferenceSession.create(model, {
      executionProviders: [{ name: 'webgpu', device }],
      graphOptimizationLevel: 'all',
      logSeverityLevel: 2,
    });
    const usage = GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST;
    const bytes = T * d * 4;
    const xBuffer = device.createBuffer({ size: bytes, usage, label: 'ort x' });
    device.queue.writeBuffer(xBuffer, 0, p.x.buffer, p.x.byteOffset, p.x.byteLength);
    const yBuffer = device.createBuffer({ size: bytes, usage, label: 'ort y' });
    const feeds = { [LORA_ONNX_INPUT]: ort.Tensor.fromGpuBuffer(xBuffer, { dataType: 'float32', dims: [T, d] }) };
    const fetches = { [LORA_ONNX_OUTPUT]: ort.Tensor.fromGpuBuffer(yBuffer, { dataType: 'float32', dims: [T, d] }) };
    return new OrtLoraPeer(device, session, xBuffer, yBuffer, feeds, fetches);
  }

  /** One forward, finished (GPU-resident input and output). */
  async forward(): Promise<void> {
    await this.session.run(this.feeds, this.fetches);
    await this.device.queue.onSubmittedWorkDone();
  }

  /** The forward's output y [T, d], read from the fetch buffer. */
  async readOutput(): Promise<Float32Array> {
    return new Float32Array(await readBack(this.device, this.yBuffer, this.yBuffer.size));
  }

  async release(): Promise<void> {
    await this.session.release();
    this.xBuffer.destroy();
    this.yBuffer.destroy();
  }
}
