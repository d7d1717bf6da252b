/**
 * Token embedding (wte) plus the optional learned position embedding (GPT-2's wpe) — embedding.wgsl.
 * The tables are frozen, so there is no backward kernel: the gradient stops at the embedding output.
 */
import { UniformWriter } from '../gpu/buffers';
import { ShapeError } from '../gpu/errors';
import { CommandRecorder, grid1d, placeholderBuffer } from './dispatch';
import { checkIndicesBelow, expectDistinctBuffers, expectIndexLength, type GpuIndexTensor } from './index-tensor';
import { expectShape, formatShape, type GpuTensor } from './tensor';
import embeddingWgsl from './embedding.wgsl?raw';

export interface EmbeddingArgs {
  /** Token embedding table [V, d]. */
  table: GpuTensor;
  /** Token ids [M] (u32). Validate them with `checkTokenIds` before upload. */
  ids: GpuIndexTensor;
  /** Learned position table [P, d] (GPT-2 wpe); give it together with `positions`. */
  positionTable?: GpuTensor;
  /** Positions [M] (u32), each < P. */
  positions?: GpuIndexTensor;
  /** Output [M, d]. */
  out: GpuTensor;
}

/**
 * Throws a RangeError naming the position and value of the first id that is not an integer in [0, V).
 * The kernel clamps such ids to V − 1 instead of reading out of bounds, which would silently train on the
 * wrong token, so call this on the host before uploading ids.
 */
export function checkTokenIds(ids: ArrayLike<number>, V: number, name: string): void {
  checkIndicesBelow(ids, V, name, 'token id', 'vocabulary size');
}

/** out[m] = table[ids[m]] (+ positionTable[positions[m]]). */
export function encodeEmbedding(rec: CommandRecorder, args: EmbeddingArgs): void {
  const kernel = 'embedding';
  const { table, ids, out } = args;
  if (table.shape.length !== 2) throw new ShapeError(`${kernel}: tensor "${table.name}" (table) must be 2-D [V, d], got ${formatShape(table.shape)}`);
  const [V, d] = table.shape;
  const M = ids.length;
  if (M < 1 || V < 1 || d < 1) throw new ShapeError(`${kernel}: empty ids or table (M = ${M}, V = ${V}, d = ${d})`);
  expectShape(kernel, 'table', table, [V, d], '[V, d]');
  expectShape(kernel, 'out', out, [M, d], '[M, d]');
  const hasPos = Boolean(args.positionTable) || Boolean(args.positions);
  if (hasPos && !(args.positionTable && args.positions)) {
    throw new ShapeError(`${kernel}: positionTable and positions must be given together`);
  }
  let P = 1;
  if (args.positionTable && args.positions) {
    P = args.positionTable.shape[0] ?? 0;
    if (P < 1) throw new ShapeError(`${kernel}: tensor "${args.positionTable.name}" (positionTable) is empty`);
    expectShape(kernel, 'positionTable', args.positionTable, [P, d], '[P, d]');
    expectIndexLength(kernel, 'positions', args.positions, M, 'M');
  }
  expectDistinctBuffers(kernel, { out }, { table, ids, positionTable: args.positionTable, positions: args.positions });
  const absent = placeholderBuffer(rec.gpu.device);
  rec.dispatch({
    label: `${kernel}(${out.name})`,
    pipeline: { name: kernel, code: embeddingWgsl, storage: ['read', 'read', 'read', 'read', 'write'] },
    uniform: new UniformWriter(8).u32(M).u32(d).u32(V).u32(P).bool(hasPos).buffer,
    buffers: [table.buffer, ids.buffer, args.positionTable?.buffer ?? absent, args.positions?.buffer ?? absent, out.buffer],
    workgroups: grid1d(M * d, 64, rec.limits.maxComputeWorkgroupsPerDimension),
  });
}
