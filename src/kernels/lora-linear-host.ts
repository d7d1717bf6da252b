/**
 * One fused LoRA linear forward (and backward) from host arrays to host arrays: uploads, runs, reads back.
 * For the studio's GPU self-test, tests and the benchmark; training keeps tensors on the GPU instead.
 */
import { withErrorScopes, type GpuContext } from '../gpu/device';
import { CommandRecorder } from './dispatch';
import { destroyWeight, uploadWeight } from './gpu-weight';
import { encodeLoraLinearBackward, encodeLoraLinearForward, type LoraAdapterTensors } from './lora-linear';
import { readTensor, tensorFrom, zerosTensor, type GpuTensor } from './tensor';
import type { PackedWeight } from './weight-format';

export interface LoraForwardHostInput {
  x: Float32Array; // [M, K]
  M: number;
  K: number;
  N: number;
  w0: PackedWeight; // logical [N, K]
  bias: Float32Array | null; // [N]
  a: Float32Array; // [r, K]
  b: Float32Array; // [N, r]
  r: number;
  scale: number;
  dropoutP: number;
  seed: number;
}

export interface LoraBackwardHostInput extends LoraForwardHostInput {
  dy: Float32Array; // [M, N]
}

interface Uploaded {
  x: GpuTensor;
  lora: LoraAdapterTensors;
  bias: GpuTensor | null;
  all: GpuTensor[];
}

function upload(gpu: GpuContext, input: LoraForwardHostInput): Uploaded {
  const d = gpu.device;
  const x = tensorFrom(d, input.x, [input.M, input.K], 'x');
  const a = tensorFrom(d, input.a, [input.r, input.K], 'lora_A');
  const b = tensorFrom(d, input.b, [input.N, input.r], 'lora_B');
  const bias = input.bias ? tensorFrom(d, input.bias, [input.N], 'bias') : null;
  return {
    x,
    bias,
    lora: { a, b, scale: input.scale, dropout: { p: input.dropoutP, seed: input.seed } },
    all: [x, a, b, ...(bias ? [bias] : [])],
  };
}

export async function runLoraForward(gpu: GpuContext, input: LoraForwardHostInput): Promise<{ y: Float32Array; xa: Float32Array }> {
  const d = gpu.device;
  const w0 = uploadWeight(d, input.w0, 'w0');
  const up = upload(gpu, input);
  const y = zerosTensor(d, [input.M, input.N], 'y');
  const xa = zerosTensor(d, [input.M, input.r], 'xa');
  try {
    await withErrorScopes(d, 'fused LoRA forward', () => {
      const rec = new CommandRecorder(gpu, 'lora forward');
      encodeLoraLinearForward(rec, { x: up.x, w0, bias: up.bias, lora: up.lora, y, xa });
      rec.submit();
    });
    const result = { y: await readTensor(d, y), xa: await readTensor(d, xa) };
    gpu.assertHealthy();
    return result;
  } finally {
    destroyWeight(w0);
    for (const t of [...up.all, y, xa]) t.buffer.destroy();
  }
}

export async function runLoraBackward(
  gpu: GpuContext,
  input: LoraBackwardHostInput,
): Promise<{ y: Float32Array; xa: Float32Array; dx: Float32Array; dA: Float32Array; dB: Float32Array }> {
  const d = gpu.device;
  const { M, K, N, r } = input;
  const w0 = uploadWeight(d, input.w0, 'w0');
  const up = upload(gpu, input);
  const dy = tensorFrom(d, input.dy, [M, N], 'dy');
  const y = zerosTensor(d, [M, N], 'y');
  const xa = zerosTensor(d, [M, r], 'xa');
  const g = zerosTensor(d, [M, r], 'g');
  const dx = zerosTensor(d, [M, K], 'dx');
  const dA = zerosTensor(d, [r, K], 'dA');
  const dB = zerosTensor(d, [N, r], 'dB');
  try {
    await withErrorScopes(d, 'fused LoRA forward and backward', () => {
      const rec = new CommandRecorder(gpu, 'lora forward + backward');
      encodeLoraLinearForward(rec, { x: up.x, w0, bias: up.bias, lora: up.lora, y, xa });
      encodeLoraLinearBackward(rec, { dy, x: up.x, xa, w0, lora: up.lora, g, dx, dA, dB });
      rec.submit();
    });
    const out = {
      y: await readTensor(d, y),
      xa: await readTensor(d, xa),
      dx: await readTensor(d, dx),
      dA: await readTensor(d, dA),
      dB: await readTensor(d, dB),
    };
    gpu.assertHealthy();
    return out;
  } finally {
    destroyWeight(w0);
    for (const t of [...up.all, dy, y, xa, g, dx, dA, dB]) t.buffer.destroy();
  }
}
