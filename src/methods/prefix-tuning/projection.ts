/**
 * Prefix tuning with `prefix_projection` on the GPU (PEFT's PrefixEncoder with a transform): n trainable embeddings
 * [n, token_dim] through Linear(token_dim, h), Tanh, Linear(h, L·2·token_dim) give the prefix [n, L·2·token_dim] in
 * PEFT's layout (gpu.ts), once per pass; the projection's backward runs after the model's. PEFT saves only the
 * projection's output, as prompt_embeddings. Parameter names: prompt_encoder.embedding.weight,
 * prompt_encoder.transform.{0,2}.{weight,bias}.
 */
import type { GpuContext } from '../../gpu/device';
import { ShapeError } from '../../gpu/errors';
import type { GpuTensor } from '../../kernels/tensor';
import type { AttentionPrefixHook, GpuAdapter, PassContext, TrainableTensor } from '../../engine/method-hooks';
import type { ModelConfig } from '../../model/config';
import { GpuMlp, type LinearInit, type MlpSaved } from '../shared/gpu-mlp';
import { PerPass } from '../shared/per-pass';
import { trainableTensor } from '../shared/trainable';
import { PREFIX_EMBEDDING_PARAM, prefixHook, prefixTokenDim } from './gpu';

export interface PrefixProjectionInit {
  /** [n, token_dim] */
  embedding: Float32Array;
  /** Linear(token_dim, h) and Linear(h, L·2·token_dim). */
  transform: [LinearInit, LinearInit];
}

interface PassState {
  out: GpuTensor;
  saved: MlpSaved;
  dOut?: GpuTensor;
}

export class GpuPrefixProjection implements GpuAdapter {
  readonly attentionPrefix: AttentionPrefixHook;
  private readonly embedding: TrainableTensor;
  private readonly transform: GpuMlp;
  private readonly passes = new PerPass<PassState>();

  constructor(
    readonly gpu: GpuContext,
    model: ModelConfig,
    init: PrefixProjectionInit,
  ) {
    const kvDim = prefixTokenDim(model);
    const width = model.numLayers * 2 * kvDim;
    if (init.embedding.length === 0 || init.embedding.length % kvDim !== 0) {
      throw new ShapeError(`prefix tuning: the embedding has ${init.embedding.length} values, expected num_virtual_tokens × token_dim ${kvDim}`);
    }
    const n = init.embedding.length / kvDim;
    this.embedding = trainableTensor(gpu.device, init.embedding, [n, kvDim], PREFIX_EMBEDDING_PARAM);
    this.transform = new GpuMlp(gpu.device, init.transform, 'tanh');
    if (this.transform.outFeatures !== width) {
      throw new ShapeError(`prefix tuning: the projection gives ${this.transform.outFeatures} features, expected num_layers·2·token_dim = ${width}`);
    }
    this.attentionPrefix = prefixHook(
      n,
      kvDim,
      (ctx) => this.passes.get(ctx).out,
      (ctx) => {
        const s = this.passes.get(ctx);
        // Taken in the last layer's backward, used after the first's: it must outlive the layers' tensors.
        s.dOut ??= ctx.tensor(s.out.shape, 'prefix projection d output', { wholePass: true });
        return s.dOut;
      },
      false,
    );
  }

  beginPass(ctx: PassContext): void {
    const { y, saved } = this.transform.forward(ctx, this.embedding.value, 'prefix projection');
    this.passes.set(ctx, { out: y, saved });
  }

  endBackward(ctx: PassContext): void {
    const s = this.passes.get(ctx);
    if (!s.dOut) return;
    const accumulate = ctx.accumulateGrads;
    this.transform.backward(ctx, s.saved, s.dOut, { accumulate, dx: this.embedding.grad, accumulateDx: accumulate, name: 'prefix projection' });
  }

  parameters(): TrainableTensor[] {
    return [this.embedding, ...this.transform.parameters()];
  }

  /** The prefix of this pass (what PEFT saves as prompt_embeddings). */
  output(ctx: PassContext): GpuTensor {
    return this.passes.get(ctx).out;
  }

  destroy(): void {
    this.embedding.value.buffer.destroy();
    this.embedding.grad.buffer.destroy();
    this.transform.destroy();
  }
}
