/**
 * Prefix tuning on the GPU (PEFT's PREFIX_TUNING, the deep prompt of P-tuning v2): n trainable keys and values per
 * layer in front of every sequence's own, attached at the engine's attention-prefix hook.
 *
 * The keys and values live in one tensor [n, L·2·kvDim], PEFT's layout: viewed as [n, 2L, kvHeads, headDim], slice
 * 2l holds layer l's keys and 2l + 1 its values (peft_model.py, get_prompt). With grouped-query attention a prefix
 * has one key and value per KV head (token_dim = kvHeads·headDim). Without a projection that tensor is the trainable
 * parameter itself (PrefixEncoder.embedding.weight) and what PEFT saves as prompt_embeddings; with
 * `prefix_projection` an encoder computes it (prefix-encoder.ts).
 */
import type { GpuContext } from '../../gpu/device';
import { ShapeError } from '../../gpu/errors';
import type { GpuTensor } from '../../kernels/tensor';
import type { AttentionPrefixHook, PassContext } from '../../engine/method-hooks';
import type { ModelConfig } from '../../model/config';
import { columnsOf, OneTensorMethod, storeGradient, trainableTensor } from '../shared/trainable';

/** PEFT's module path of the prefix (PrefixEncoder.embedding), used as the checkpoint name. */
export const PREFIX_EMBEDDING_PARAM = 'prompt_encoder.embedding.weight';

/** The width of one layer's keys (or values) in the prefix tensor: kvHeads·headDim. */
export function prefixTokenDim(c: ModelConfig): number {
  return c.numKvHeads * c.headDim;
}

/**
 * The attention-prefix hook over a [n, L·2·kvDim] prefix tensor: layer l's keys and values are its columns, and
 * their gradients go into the same columns of `grad`: the parameter's gradient (`isParameter`: accumulated over a
 * step's micro-batches), or the gradient of an encoder's output in this pass.
 */
export function prefixHook(
  length: number,
  kvDim: number,
  prefix: (ctx: PassContext) => GpuTensor,
  grad: (ctx: PassContext) => GpuTensor,
  isParameter: boolean,
): AttentionPrefixHook {
  return {
    length,
    forward: (ctx, l) => ({
      k: columnsOf(ctx, prefix(ctx), 2 * l * kvDim, kvDim, `prefix layer ${l} keys`),
      v: columnsOf(ctx, prefix(ctx), (2 * l + 1) * kvDim, kvDim, `prefix layer ${l} values`),
    }),
    backward: (ctx, l, dk, dv) => {
      const accumulate = isParameter && ctx.accumulateGrads;
      storeGradient(ctx, dk, grad(ctx), 2 * l * kvDim, accumulate);
      storeGradient(ctx, dv, grad(ctx), (2 * l + 1) * kvDim, accumulate);
    },
  };
}

export class GpuPrefixTuning extends OneTensorMethod {
  readonly attentionPrefix: AttentionPrefixHook;

  /** `prefix` [n, L·2·kvDim] in PEFT's layout. */
  constructor(gpu: GpuContext, model: ModelConfig, prefix: Float32Array) {
    const kvDim = prefixTokenDim(model);
    const width = model.numLayers * 2 * kvDim;
    if (prefix.length === 0 || prefix.length % width !== 0) {
      throw new ShapeError(
        `prefix tuning: the prefix has ${prefix.length} values, expected num_virtual_tokens × num_layers·2·token_dim = n × ${model.numLayers}·2·${kvDim}`,
      );
    }
    const n = prefix.length / width;
    super(gpu, trainableTensor(gpu.device, prefix, [n, width], PREFIX_EMBEDDING_PARAM));
    const w = this.weight;
    this.attentionPrefix = prefixHook(n, kvDim, () => w.value, () => w.grad, true);
  }
}
