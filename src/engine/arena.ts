/** The GPU tensors of one pass, allocated together, counted, and destroyed together. */
import { zerosTensor, type GpuTensor } from '../kernels/tensor';

export class TensorArena {
  private readonly tensors: GpuTensor[] = [];
  bytes = 0;

  constructor(private readonly device: GPUDevice) {}

  tensor(shape: number[], name: string): GpuTensor {
    const t = zerosTensor(this.device, shape, name);
    this.tensors.push(t);
    this.bytes += t.buffer.size;
    return t;
  }

  destroy(): void {
    for (const t of this.tensors) t.buffer.destroy();
    this.tensors.length = 0;
  }
}
