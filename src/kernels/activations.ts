/**
 * Element-wise MLP activations, forward and backward: gelu_new (GPT-2) — gelu.wgsl — and SwiGLU gating
 * (Llama) — swiglu.wgsl. All tensors of one call have the same shape (any rank, usually [M, ffn]); outputs
 * must not share a buffer with inputs (WebGPU forbids aliasing a written binding).
 */
import { UniformWriter } from '../gpu/buffers';
import { ShapeError } from '../gpu/errors';
import { CommandRecorder, grid1d } from './dispatch';
import { expectDistinctBuffers } from './index-tensor';
import { elementCount, expectShape, formatShape, type GpuTensor } from './tensor';
import geluWgsl from './gelu.wgsl?raw';
import swigluWgsl from './swiglu.wgsl?raw';

function dispatchElementwise(
  rec: CommandRecorder,
  label: string,
  name: string,
  code: string,
  entryPoint: 'forward' | 'backward',
  storage: ReadonlyArray<'read' | 'write'>,
  len: number,
  buffers: GPUBuffer[],
): void {
  rec.dispatch({
    label,
    pipeline: { name, code, entryPoint, storage },
    uniform: new UniformWriter(4).u32(len).buffer,
    buffers,
    workgroups: grid1d(len, 64, rec.limits.maxComputeWorkgroupsPerDimension),
  });
}

function lengthOf(kernel: string, t: GpuTensor): number {
  const len = elementCount(t.shape);
  if (len < 1) throw new ShapeError(`${kernel}: tensor "${t.name}" is empty, shape ${formatShape(t.shape)}`);
  return len;
}

/** y = gelu_new(x) = 0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³))). */
export function encodeGelu(rec: CommandRecorder, args: { x: GpuTensor; y: GpuTensor }): void {
  const kernel = 'gelu';
  const len = lengthOf(kernel, args.x);
  const dims = formatShape(args.x.shape);
  expectShape(kernel, 'y', args.y, args.x.shape, dims);
  expectDistinctBuffers(kernel, { y: args.y }, { x: args.x });
  dispatchElementwise(rec, `${kernel}(${args.y.name})`, kernel, geluWgsl, 'forward', ['read', 'write'], len, [args.x.buffer, args.y.buffer]);
}

/** dx = dy·gelu_new′(x). */
export function encodeGeluBackward(rec: CommandRecorder, args: { dy: GpuTensor; x: GpuTensor; dx: GpuTensor }): void {
  const kernel = 'gelu backward';
  const len = lengthOf(kernel, args.x);
  const dims = formatShape(args.x.shape);
  expectShape(kernel, 'dy', args.dy, args.x.shape, dims);
  expectShape(kernel, 'dx', args.dx, args.x.shape, dims);
  expectDistinctBuffers(kernel, { dx: args.dx }, { dy: args.dy, x: args.x });
  dispatchElementwise(rec, `${kernel}(${args.dx.name})`, 'gelu', geluWgsl, 'backward', ['read', 'read', 'write'], len, [
    args.x.buffer, args.dy.buffer, args.dx.buffer,
  ]);
}

/** h = silu(gate)·up. */
export function encodeSwiglu(rec: CommandRecorder, args: { gate: GpuTensor; up: GpuTensor; h: GpuTensor }): void {
  const kernel = 'swiglu';
  const len = lengthOf(kernel, args.gate);
  const dims = formatShape(args.gate.shape);
  expectShape(kernel, 'up', args.up, args.gate.shape, dims);
  expectShape(kernel, 'h', args.h, args.gate.shape, dims);
  expectDistinctBuffers(kernel, { h: args.h }, { gate: args.gate, up: args.up });
  dispatchElementwise(rec, `${kernel}(${args.h.name})`, kernel, swigluWgsl, 'forward', ['read', 'read', 'write'], len, [
    args.gate.buffer, args.up.buffer, args.h.buffer,
  ]);
}

/** dGate = dh·up·silu′(gate), dUp = dh·silu(gate). */
export function encodeSwigluBackward(
  rec: CommandRecorder,
  args: { dh: GpuTensor; gate: GpuTensor; up: GpuTensor; dGate: GpuTensor; dUp: GpuTensor },
): void {
  const kernel = 'swiglu backward';
  const len = lengthOf(kernel, args.gate);
  const dims = formatShape(args.gate.shape);
  for (const [role, t] of [['up', args.up], ['dh', args.dh], ['dGate', args.dGate], ['dUp', args.dUp]] as const) {
    expectShape(kernel, role, t, args.gate.shape, dims);
  }
  expectDistinctBuffers(kernel, { dGate: args.dGate, dUp: args.dUp }, { dh: args.dh, gate: args.gate, up: args.up });
  const label = `${kernel}(${args.dGate.name}, ${args.dUp.name})`;
  dispatchElementwise(rec, label, 'swiglu', swigluWgsl, 'backward', ['read', 'read', 'read', 'write', 'write'], len, [
    args.gate.buffer, args.up.buffer, args.dh.buffer, args.dGate.buffer, args.dUp.buffer,
  ]);
}
