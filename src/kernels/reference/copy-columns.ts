/** Float64 reference of copy_columns: dst[:, dOff + j] = (acc ? dst : 0) + src[:, sOff + j]. */
export function copyColumnsRef(
  src: ArrayLike<number>,
  srcCols: number,
  srcOffset: number,
  dst: ArrayLike<number>,
  dstCols: number,
  dstOffset: number,
  rows: number,
  width: number,
  accumulate: boolean,
): Float64Array {
  const out = Float64Array.from(dst);
  for (let m = 0; m < rows; m++) {
    for (let j = 0; j < width; j++) {
      const o = m * dstCols + dstOffset + j;
      out[o] = (accumulate ? out[o] : 0) + src[m * srcCols + srcOffset + j];
    }
  }
  return out;
}
