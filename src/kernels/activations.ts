/**
 * Element-wise activations, forward and backward: SwiGLU gating (Llama) — swiglu.wgsl —, and the pointwise
 * functions under transformers' ACT2FN names — pointwise_activation.wgsl: relu, tanh, swish, gelu (exact erf) and
 * gelu_new (GPT-2's MLP; the prompt encoders and bottleneck adapters take the others). Both share the functions of
 * activation_fns.wgsl. All tensors of one call have the
 * same shape (any rank, usually [M, ffn]); outputs must not share a buffer with inputs (WebGPU forbids aliasing
 * a written binding).
 */
import { UniformWriter } from '../gpu/buffers';
import { ShapeError } from '../gpu/errors';
import { CommandRecorder, grid1d } from './dispatch';
import { expectDistinctBuffers } from './index-tensor';
import { elementCount, expectShape, formatShape, type GpuTensor } from './tensor';
import activationFnsWgsl from './activation_fns.wgsl?raw';
import pointwiseActivationWgsl from './pointwise_activation.wgsl?raw';
import swigluWgsl from './swiglu.wgsl?raw';

const SWIGLU_CODE = activationFnsWgsl + swigluWgsl;
const POINTWISE_CODE = activationFnsWgsl + pointwiseActivationWgsl;

/** The activations of pointwise_activation.wgsl, with their ACT code. */
export const POINTWISE_ACTIVATIONS = { relu: 0, tanh: 1, swish: 2, gelu: 3, gelu_new: 4 } as const;
export type PointwiseActivation = keyof typeof POINTWISE_ACTIVATIONS;

function dispatchElementwise(
  rec: CommandRecorder,
  label: string,
  name: string,
  code: string,
  entryPoint: 'forward' | 'backward',
  storage: ReadonlyArray<'read' | 'write'>,
  len: number,
  buffers: GPUBuffer[],
  opts: { constants?: Record<string, number>; accumulate?: boolean } = {},
): void {
  rec.dispatch({
    label,
    pipeline: { name, code, entryPoint, storage, constants: opts.constants },
    uniform: new UniformWriter(4).u32(len).bool(Boolean(opts.accumulate)).buffer,
    buffers,
    workgroups: grid1d(len, 64, rec.limits.maxComputeWorkgroupsPerDimension),
  });
}

function lengthOf(kernel: string, t: GpuTensor): number {
  const len = elementCount(t.shape);
  if (len < 1) throw new ShapeError(`${kernel}: tensor "${t.name}" is empty, shape ${formatShape(t.shape)}`);
  return len;
}

/** h = silu(gate)·up. */
export function encodeSwiglu(rec: CommandRecorder, args: { gate: GpuTensor; up: GpuTensor; h: GpuTensor }): void {
  const kernel = 'swiglu';
  const len = lengthOf(kernel, args.gate);
  const dims = formatShape(args.gate.shape);
  expectShape(kernel, 'up', args.up, args.gate.shape, dims);
  expectShape(kernel, 'h', args.h, args.gate.shape, dims);
  expectDistinctBuffers(kernel, { h: args.h }, { gate: args.gate, up: args.up });
  dispatchElementwise(rec, `${kernel}(${args.h.name})`, kernel, SWIGLU_CODE, 'forward', ['read', 'read', 'write'], len, [
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
  dispatchElementwise(rec, label, 'swiglu', SWIGLU_CODE, 'backward', ['read', 'read', 'read', 'write', 'write'], len, [
    args.gate.buffer, args.up.buffer, args.dh.buffer, args.dGate.buffer, args.dUp.buffer,
  ]);
}

function checkActivation(kernel: string, fn: string): number {
  const code = (POINTWISE_ACTIVATIONS as Record<string, number>)[fn];
  if (code === undefined) {
    throw new ShapeError(`${kernel}: unknown activation "${fn}", expected one of ${Object.keys(POINTWISE_ACTIVATIONS).join(', ')}`);
  }
  return code;
}

/** y = f(x), f one of POINTWISE_ACTIVATIONS. */
export function encodeActivation(rec: CommandRecorder, args: { fn: PointwiseActivation; x: GpuTensor; y: GpuTensor }): void {
  const kernel = args.fn;
  const act = checkActivation(kernel, args.fn);
  const len = lengthOf(kernel, args.x);
  expectShape(kernel, 'y', args.y, args.x.shape, formatShape(args.x.shape));
  expectDistinctBuffers(kernel, { y: args.y }, { x: args.x });
  dispatchElementwise(rec, `${kernel}(${args.y.name})`, 'pointwise_activation', POINTWISE_CODE, 'forward', ['read', 'write'], len, [
    args.x.buffer, args.y.buffer,
  ], { constants: { ACT: act } });
}

/** dx (+)= dy·f′(x), from the forward's input x. */
export function encodeActivationBackward(
  rec: CommandRecorder,
  args: { fn: PointwiseActivation; x: GpuTensor; dy: GpuTensor; dx: GpuTensor; accumulate?: boolean },
): void {
  const kernel = `${args.fn} backward`;
  const act = checkActivation(kernel, args.fn);
  const len = lengthOf(kernel, args.x);
  const dims = formatShape(args.x.shape);
  expectShape(kernel, 'dy', args.dy, args.x.shape, dims);
  expectShape(kernel, 'dx', args.dx, args.x.shape, dims);
  expectDistinctBuffers(kernel, { dx: args.dx }, { dy: args.dy, x: args.x });
  dispatchElementwise(rec, `${kernel}(${args.dx.name})`, 'pointwise_activation', POINTWISE_CODE, 'backward', ['read', 'read', 'write'], len, [
    args.x.buffer, args.dy.buffer, args.dx.buffer,
  ], { constants: { ACT: act }, accumulate: args.accumulate });
}
