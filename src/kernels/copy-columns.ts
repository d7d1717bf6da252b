/** Column-block copies between row-major matrices (copy_columns.wgsl): splitting and merging fused projections. */
import { UniformWriter } from '../gpu/buffers';
import { ShapeError } from '../gpu/errors';
import { CommandRecorder, grid1d } from './dispatch';
import { expectShape, formatShape, type GpuTensor } from './tensor';
import copyColumnsWgsl from './copy_columns.wgsl?raw';

export interface CopyColumnsArgs {
  src: GpuTensor; // [M, srcCols]
  srcOffset: number;
  dst: GpuTensor; // [M, dstCols]
  dstOffset: number;
  width: number;
  accumulate?: boolean;
}

/** dst[:, dstOffset : dstOffset+width] (+)= src[:, srcOffset : srcOffset+width]. */
export function encodeCopyColumns(rec: CommandRecorder, args: CopyColumnsArgs): void {
  const kernel = 'copy_columns';
  const { src, dst, width } = args;
  if (src.shape.length !== 2 || dst.shape.length !== 2) {
    throw new ShapeError(`${kernel}: "${src.name}" ${formatShape(src.shape)} and "${dst.name}" ${formatShape(dst.shape)} must be 2-D`);
  }
  const [M, srcCols] = src.shape;
  const dstCols = dst.shape[1];
  expectShape(kernel, 'dst', dst, [M, dstCols], '[M, dstCols]');
  if (args.srcOffset + width > srcCols || args.dstOffset + width > dstCols || width <= 0) {
    throw new ShapeError(
      `${kernel}: columns ${args.srcOffset}..${args.srcOffset + width} of "${src.name}" (${srcCols} wide) to ` +
        `${args.dstOffset}..${args.dstOffset + width} of "${dst.name}" (${dstCols} wide) are out of range`,
    );
  }
  rec.dispatch({
    label: `${kernel}(${src.name} → ${dst.name})`,
    pipeline: { name: kernel, code: copyColumnsWgsl, storage: ['read', 'write'] },
    uniform: new UniformWriter(8)
      .u32(M).u32(width).u32(srcCols).u32(args.srcOffset)
      .u32(dstCols).u32(args.dstOffset).bool(Boolean(args.accumulate)).u32(0).buffer,
    buffers: [src.buffer, dst.buffer],
    workgroups: grid1d(M * width, 64, rec.limits.maxComputeWorkgroupsPerDimension),
  });
}
