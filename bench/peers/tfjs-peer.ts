/**
 * The TensorFlow.js peer: the same LoRA train step with the webgpu backend,
 *   y = x·W0ᵀ + s·(x·Aᵀ)·Bᵀ, loss = ½·mean((y − t)²), tf.train.adam on the variables A and B.
 *
 * TF.js's own backend registration asks `navigator.gpu.requestAdapter()` for the default adapter; to run on the
 * adapter the benchmark chose (the GL compatibility one with `--adapter compat`), the 'webgpu' backend is
 * registered again over a device created here: `new WebGPUBackend(device, adapter.info)`. Kernels are
 * registered by backend name, so the name stays 'webgpu'.
 *
 * Synchronisation: `trainStep()` is `optimizer.minimize(loss, true, [A, B])` followed by `await loss.data()`.
 * The backend records the Adam updates into its command encoder after the loss, and `data()` submits that
 * encoder, copies the loss to a staging buffer and awaits its mapAsync, so the update has finished when the
 * read resolves — the same one 4-byte read-back of the loss that our side does.
 */
import * as tf from '@tensorflow/tfjs-core';
// tfjs-core alone has no gradient functions; the full tfjs package registers them with this import.
import '@tensorflow/tfjs-core/dist/register_all_gradients';
import { WebGPUBackend } from '@tensorflow/tfjs-backend-webgpu';
import { ADAM, type LoraProblem, type TrainStepState } from './ours';

let initialised: GPUDevice | null = null;

/** Makes TF.js's 'webgpu' backend run on `device` (created from `adapter`) and selects it. Once per page. */
export async function useTfjsDevice(adapter: GPUAdapter, device: GPUDevice): Promise<void> {
  if (initialised === device) return;
  if (initialised) throw new Error('TF.js was already set up on another GPU device in this page');
  try {
    tf.removeBackend('webgpu');
  } catch {
    // Not registered (navigator.gpu missing when the package loaded): nothing to remove.
  }
  tf.registerBackend('webgpu', () => new WebGPUBackend(device, adapter.info), 10);
  const ok = await tf.setBackend('webgpu');
  if (!ok) throw new Error('TF.js: the webgpu backend failed to initialise');
  await tf.ready();
  initialised = device;
}

export function tfjsVersion(): string {
  return tf.version_core;
}

let instance = 0;

export class TfjsLoraPeer {
  private readonly x: tf.Tensor2D;
  private readonly w0: tf.Tensor2D;
  private readonly target: tf.Tensor2D;
  private readonly scale: tf.Scalar;
  private readonly half: tf.Scalar;
  private readonly a: tf.Variable;
  private readonly b: tf.Variable;
  private readonly optimizer: tf.AdamOptimizer;

  constructor(p: LoraProblem, perturb = false) {
    if (tf.getBackend() !== 'webgpu') throw new Error(`TF.js backend is "${tf.getBackend()}", expected webgpu`);
    const { T, d, r } = p;
    const id = ++instance;
    this.x = tf.tensor2d(p.x, [T, d]);
    this.w0 = tf.tensor2d(p.w0, [d, d]);
    this.target = tf.tensor2d(p.target, [T, d]);
    // `perturb` (tests only) gives the peer a wrong scaling, which its pre-check must catch.
    this.scale = tf.scalar(perturb ? p.scale * 1.25 : p.scale);
    this.half = tf.scalar(0.5);
    this.a = tf.variable(tf.tensor2d(p.a, [r, d]), true, `peer_bench_A_${id}`);
    this.b = tf.variable(tf.tensor2d(p.b, [d, r]), true, `peer_bench_B_${id}`);
    this.optimizer = tf.train.adam(ADAM.lr, ADAM.beta1, ADAM.beta2, ADAM.eps);
  }

  /** ½·mean((x·W0ᵀ + s·(x·Aᵀ)·Bᵀ − t)²), a scalar. */
  private readonly loss = (): tf.Scalar => {
    const base = tf.matMul(this.x, this.w0, false, true);
    const lora = tf.matMul(tf.matMul(this.x, this.a, false, true), this.b, false, true);
    const y = tf.add(base, tf.mul(lora, this.scale));
    return tf.mul(this.half, tf.mean(tf.square(tf.sub(y, this.target)))) as tf.Scalar;
  };

  /** One train step, finished; returns the loss before the update. */
  async trainStep(): Promise<number> {
    const loss = this.optimizer.minimize(this.loss, true, [this.a, this.b]);
    if (!loss) throw new Error('TF.js: minimize returned no loss');
    const value = (await loss.data())[0];
    loss.dispose();
    return value;
  }

  /** The first train step (variableGrads + applyGradients, what minimize does), with its gradients kept. */
  async checkedTrainStep(): Promise<TrainStepState> {
    const { value, grads } = tf.variableGrads(this.loss, [this.a, this.b]);
    const gA = grads[this.a.name];
    const gB = grads[this.b.name];
    const [loss, dA, dB] = await Promise.all([value.data(), gA.data(), gB.data()]);
    this.optimizer.applyGradients([{ name: this.a.name, tensor: gA }, { name: this.b.name, tensor: gB }]);
    const [a, b] = await Promise.all([this.a.data(), this.b.data()]);
    tf.dispose([value, gA, gB]);
    return { loss: loss[0], dA: Float32Array.from(dA), dB: Float32Array.from(dB), a: Float32Array.from(a), b: Float32Array.from(b) };
  }

  dispose(): void {
    this.optimizer.dispose();
    tf.dispose([this.x, this.w0, this.target, this.scale, this.half, this.a, this.b]);
  }
}
