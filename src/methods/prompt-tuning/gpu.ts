/**
 * Prompt tuning on the GPU (PEFT's PROMPT_TUNING): n trainable virtual-token embeddings [n, d] in front of every
 * sequence, attached at the engine's virtual-token hook. The embeddings are the only trainable tensor; PEFT saves
 * them as `prompt_embeddings`.
 */
import type { GpuContext } from '../../gpu/device';
import { ShapeError } from '../../gpu/errors';
import type { VirtualTokensHook } from '../../engine/method-hooks';
import type { ModelConfig } from '../../model/config';
import { OneTensorMethod, storeGradient, trainableTensor } from '../shared/trainable';

/** PEFT's module path of the prompt embedding (PromptEmbedding.embedding), used as the checkpoint name. */
export const PROMPT_EMBEDDING_PARAM = 'prompt_encoder.embedding.weight';

export class GpuPromptTuning extends OneTensorMethod {
  readonly virtualTokens: VirtualTokensHook;

  /** `embeddings` [n, d]: the initial virtual-token embeddings (see the prompt-tuning init). */
  constructor(gpu: GpuContext, model: ModelConfig, embeddings: Float32Array) {
    const d = model.hiddenSize;
    if (embeddings.length === 0 || embeddings.length % d !== 0) {
      throw new ShapeError(`prompt tuning: the prompt embeddings have ${embeddings.length} values, expected num_virtual_tokens × ${d} (the hidden size)`);
    }
    const n = embeddings.length / d;
    super(gpu, trainableTensor(gpu.device, embeddings, [n, d], PROMPT_EMBEDDING_PARAM));
    const w = this.weight;
    this.virtualTokens = { count: n, forward: () => w.value, backward: (ctx, g) => storeGradient(ctx, g, w.grad) };
  }
}
