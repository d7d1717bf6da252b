/**
 * Softmax cross-entropy over the vocabulary with its gradient, fused — cross_entropy.wgsl. Matches HF's
 * causal-LM loss (CrossEntropyLoss, ignore_index −100, mean over counted targets) when invCount is
 * 1 / (number of targets ≠ −100); the mean loss is Σ rowLoss · invCount. One workgroup per row under the
 * 'tiled' kernel profile, one thread per row under 'direct'.
 */
import { UniformWriter } from '../gpu/buffers';
import { ShapeError } from '../gpu/errors';
import { CommandRecorder, grid1d, placeholderBuffer } from './dispatch';
import { expectDistinctBuffers, expectIndexLength, type GpuIndexTensor } from './index-tensor';
import { expectShape, formatShape, type GpuTensor } from './tensor';
import crossEntropyWgsl from './cross_entropy.wgsl?raw';

/** Rows per workgroup of the per-row entry point (ROWS in cross_entropy.wgsl). */
const ROWS = 64;

/** The target value of a token that takes no part in the loss (PyTorch's default ignore_index). */
export const IGNORE_INDEX = -100;

export interface CrossEntropyArgs {
  /** [M, V] */
  logits: GpuTensor;
  /** [M] (i32): the next token's id, or −100 to ignore the row. Validate with `checkTargets`. */
  targets: GpuIndexTensor;
  /** 1 / number of counted targets (over every micro-batch of the step, with gradient accumulation). */
  invCount: number;
  /** [M]: −log softmax(logits[m])[t], 0 for an ignored row. */
  rowLoss: GpuTensor;
  /**
   * [M, V]: (softmax − onehot)·invCount, zero rows where ignored. May be the logits tensor itself (same
   * buffer): the gradient then overwrites the logits, which saves an [M, V] buffer.
   */
  dLogits: GpuTensor;
}

/**
 * Throws a RangeError naming the index and value of the first target that is neither −100 nor an integer
 * in [0, V). (The kernel treats such a target as ignored; it never reads outside the row.)
 */
export function checkTargets(targets: ArrayLike<number>, V: number, name: string): void {
  for (let i = 0; i < targets.length; i++) {
    const t = targets[i];
    if (t === IGNORE_INDEX) continue;
    if (!Number.isInteger(t) || t < 0 || t >= V) {
      throw new RangeError(`${name}: target ${t} at index ${i} (of ${targets.length}) is neither ${IGNORE_INDEX} nor in [0, ${V}) (vocabulary size)`);
    }
  }
}

/** Number of targets that count towards the loss (those ≠ −100). */
export function countTargets(targets: ArrayLike<number>): number {
  let n = 0;
  for (let i = 0; i < targets.length; i++) if (targets[i] !== IGNORE_INDEX) n++;
  return n;
}

/** rowLoss[m] = logsumexp(logits[m]) − logits[m, t]; dLogits[m] = (softmax(logits[m]) − e_t)·invCount. */
export function encodeCrossEntropy(rec: CommandRecorder, args: CrossEntropyArgs): void {
  const kernel = 'cross_entropy';
  const { logits, targets, rowLoss, dLogits } = args;
  if (logits.shape.length !== 2 || logits.shape[0] < 1 || logits.shape[1] < 1) {
    throw new ShapeError(`${kernel}: tensor "${logits.name}" (logits) must be a non-empty 2-D [M, V], got ${formatShape(logits.shape)}`);
  }
  const [M, V] = logits.shape;
  if (V > 0x7fffffff) throw new ShapeError(`${kernel}: V = ${V} does not fit an i32 target`);
  expectShape(kernel, 'logits', logits, [M, V], '[M, V]');
  expectIndexLength(kernel, 'targets', targets, M, 'M');
  expectShape(kernel, 'rowLoss', rowLoss, [M], '[M]');
  expectShape(kernel, 'dLogits', dLogits, [M, V], '[M, V]');
  if (!Number.isFinite(args.invCount) || args.invCount < 0) {
    throw new RangeError(`${kernel}: invCount must be a finite number ≥ 0 (1 / counted targets), got ${args.invCount}`);
  }
  const inPlace = dLogits.buffer === logits.buffer;
  expectDistinctBuffers(kernel, inPlace ? { logits, rowLoss } : { logits, rowLoss, dLogits }, { targets });
  // 'tiled': one workgroup per row. 'direct' (CPU drivers): one thread per row, ROWS rows to a workgroup, since
  // there a workgroup and its barriers cost more than the row's arithmetic. The pipeline keeps the kernel's
  // name under either entry point, so that the profiler reports one line for it.
  const perRow = rec.gpu.kernels === 'direct';
  rec.dispatch({
    label: `${kernel}(${rowLoss.name}, ${dLogits.name}${inPlace ? ' in place' : ''})`,
    pipeline: { name: kernel, code: crossEntropyWgsl, entryPoint: perRow ? 'main_rows' : 'main', storage: ['write', 'read', 'write', 'write'] },
    uniform: new UniformWriter(8).u32(M).u32(V).bool(inPlace).u32(0).f32(args.invCount).buffer,
    buffers: [logits.buffer, targets.buffer, rowLoss.buffer, inPlace ? placeholderBuffer(rec.gpu.device) : dLogits.buffer],
    workgroups: grid1d(M, perRow ? ROWS : 1, rec.limits.maxComputeWorkgroupsPerDimension),
  });
}
