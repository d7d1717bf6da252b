/**
 * The prompt-learning methods' adapters as the studio holds them (TrainedAdapter): the GPU method (prompt tuning,
 * P-tuning, prefix tuning with or without projection) with its PEFT config, the initialisation PEFT gives a new one,
 * and PEFT's files — whose single tensor, prompt_embeddings, is the encoder's output taken in eval mode.
 *
 * An adapter read from PEFT's files holds only that output (PEFT saves no encoder weights): it runs, and trains on,
 * as the plain embeddings (prompt tuning's virtual tokens, or the prefix itself), and is saved again under its own
 * config, as PEFT in inference mode loads it.
 */
import type { GpuContext } from '../../gpu/device';
import { ActivationPool } from '../../engine/activation-pool';
import type { GpuModel } from '../../engine/gpu-model';
import type { AttentionPrefixHook, GpuAdapter, MethodHooks, PassContext, TrainableTensor, VirtualTokensHook } from '../../engine/method-hooks';
import { Pass } from '../../engine/pass';
import { readTensor, type GpuTensor } from '../../kernels/tensor';
import { architectureOf } from '../../model/architectures/index';
import type { PromptLearningConfig, PromptLearningPeftType } from '../../peft/prompt-learning-config';
import { exportPromptLearningAdapter, importPromptLearningAdapter } from '../../peft/prompt-learning-files';
import { promptTuningInit } from '../../peft/prompt-tuning-init';
import { randomNormal, randomUniform } from '../../util/random';
import type { MethodBase, MethodId, MethodPlan, MethodRuntime, TrainedAdapter } from '../method';
import { methodById } from '../registry';
import { GpuPTuning, type PTuningInit } from '../p-tuning/gpu';
import { GpuPrefixTuning } from '../prefix-tuning/gpu';
import { GpuPrefixProjection } from '../prefix-tuning/projection';
import { GpuPromptTuning } from '../prompt-tuning/gpu';
import { torchLinearInit } from './gpu-mlp';
import { promptLearningConfigOf, promptLearningOptions, promptLearningPlan } from './prompt-learning-method';

/** A GPU method whose saved tensor comes out of an encoder run in a pass. */
interface EncoderMethod extends GpuAdapter {
  output(ctx: PassContext): GpuTensor;
}

/** A GPU method whose saved tensor is its parameter. */
interface PlainMethod extends GpuAdapter {
  promptEmbeddings(): Promise<Float32Array>;
}

type InnerMethod = EncoderMethod | PlainMethod;

/** The encoder's output in eval mode (no dropout), from a pass of its own. */
async function encoderOutput(gpu: GpuContext, model: GpuModel, inner: EncoderMethod): Promise<Float32Array> {
  const pool = new ActivationPool(gpu.device);
  try {
    const pass = new Pass(gpu, model, inner, 1, pool, {}, 'prompt encoder');
    pass.begin();
    const out = inner.output(pass);
    pass.rec.submit();
    return await readTensor(gpu.device, out);
  } finally {
    pool.destroy();
  }
}

export class PromptLearningAdapter implements TrainedAdapter {
  readonly options: Readonly<Record<string, unknown>>;
  readonly plan: MethodPlan;
  readonly virtualTokens?: VirtualTokensHook;
  readonly attentionPrefix?: AttentionPrefixHook;
  readonly beginPass?: MethodHooks['beginPass'];
  readonly endBackward?: MethodHooks['endBackward'];

  constructor(
    readonly method: MethodId,
    readonly config: PromptLearningConfig,
    private readonly inner: InnerMethod,
    private readonly base: MethodBase,
    readonly warnings: readonly string[] = [],
  ) {
    const m = methodById(method);
    this.options = promptLearningOptions(config, m.fields);
    this.plan = promptLearningPlan(m.label, config, base.config);
    this.virtualTokens = inner.virtualTokens;
    this.attentionPrefix = inner.attentionPrefix;
    this.beginPass = inner.beginPass?.bind(inner);
    this.endBackward = inner.endBackward?.bind(inner);
  }

  parameters(): TrainableTensor[] {
    return this.inner.parameters();
  }

  async exportFiles(): Promise<Map<string, Uint8Array>> {
    const { gpu, model, config } = this.base;
    const embeddings = 'output' in this.inner ? await encoderOutput(gpu, model, this.inner) : await this.inner.promptEmbeddings();
    const rows = this.config.num_virtual_tokens * this.config.num_transformer_submodules;
    return exportPromptLearningAdapter({ config: this.config, embeddings, shape: [rows, embeddings.length / rows], model: config });
  }

  destroy(): void {
    this.inner.destroy();
  }
}

/** PyTorch's default inits, seeded: Linear U(±1/√in) (weight and bias), LSTM U(±1/√h), Embedding N(0, 1). */
function initStream(seed: number) {
  let s = seed >>> 0;
  return {
    uniform: (n: number, bound: number) => randomUniform(n, s++, -bound, bound),
    normal: (n: number) => randomNormal(n, s++, 1),
  };
}

function pTuningInit(config: Extract<PromptLearningConfig, { peft_type: 'P_TUNING' }>, seed: number): PTuningInit {
  const r = initStream(seed);
  const d = config.token_dim;
  const h = config.encoder_hidden_size;
  const n = config.num_virtual_tokens * config.num_transformer_submodules;
  const embedding = r.normal(n * d);
  if (config.encoder_reparameterization_type === 'MLP') {
    const head = [torchLinearInit('prompt_encoder.mlp_head.0', d, h, r.uniform), torchLinearInit('prompt_encoder.mlp_head.2', h, h, r.uniform), torchLinearInit('prompt_encoder.mlp_head.4', h, d, r.uniform)];
    return { embedding, head, lstm: null };
  }
  const bound = 1 / Math.sqrt(h);
  const direction = (inF: number) => ({ wIh: r.uniform(4 * h * inF, bound), wHh: r.uniform(4 * h * h, bound), bIh: r.uniform(4 * h, bound), bHh: r.uniform(4 * h, bound) });
  const layers = Array.from({ length: config.encoder_num_layers }, (_, k) => ({ forward: direction(k === 0 ? d : 2 * h), reverse: direction(k === 0 ? d : 2 * h) }));
  const head = [torchLinearInit('prompt_encoder.mlp_head.0', 2 * h, 2 * h, r.uniform), torchLinearInit('prompt_encoder.mlp_head.2', 2 * h, d, r.uniform)];
  return { embedding, head, lstm: { hidden: h, dropout: config.encoder_dropout, layers } };
}

/** A new GPU method for a config, initialised as PEFT does. */
function newInner(base: MethodBase, config: PromptLearningConfig, seed: number): InnerMethod {
  const c = base.config;
  const r = initStream(seed);
  switch (config.peft_type) {
    case 'PROMPT_TUNING': {
      const table = base.weights.get(architectureOf(c).names.tokenEmbedding);
      if (!table) throw new Error('prompt tuning: the base model has no token embedding table on the host');
      return new GpuPromptTuning(base.gpu, c, promptTuningInit(config, table.data, (text) => base.tokenizer.encode(text), seed));
    }
    case 'P_TUNING':
      return new GpuPTuning(base.gpu, c.hiddenSize, pTuningInit(config, seed));
    case 'PREFIX_TUNING': {
      const n = config.num_virtual_tokens;
      const td = config.token_dim;
      const width = config.num_layers * 2 * td;
      const zero = config.init_weights === 'zero';
      if (!config.prefix_projection) return new GpuPrefixTuning(base.gpu, c, zero ? new Float32Array(n * width) : r.normal(n * width));
      const first = torchLinearInit('prompt_encoder.transform.0', td, config.encoder_hidden_size, r.uniform);
      const last = torchLinearInit('prompt_encoder.transform.2', config.encoder_hidden_size, width, r.uniform);
      if (zero) {
        last.weight.fill(0);
        last.bias.fill(0);
      }
      return new GpuPrefixProjection(base.gpu, c, { embedding: r.normal(n * td), transform: [first, last] });
    }
  }
}

/** The GPU method that runs a saved prompt_embeddings tensor: the virtual tokens, or the prefix, as they are. */
function savedInner(base: MethodBase, config: PromptLearningConfig, embeddings: Float32Array): InnerMethod {
  return config.peft_type === 'PREFIX_TUNING' ? new GpuPrefixTuning(base.gpu, base.config, embeddings) : new GpuPromptTuning(base.gpu, base.config, embeddings);
}

export function promptLearningRuntime(method: MethodId, peftType: PromptLearningPeftType): MethodRuntime {
  return {
    create(base, options, seed) {
      const config = promptLearningConfigOf(peftType, options, base.config, base);
      return new PromptLearningAdapter(method, config, newInner(base, config, seed), base);
    },
    load(base, files) {
      const imported = importPromptLearningAdapter(new Map(files), base.config);
      if (imported.config.peft_type !== peftType) throw new Error(`internal: a ${imported.config.peft_type} adapter for the ${peftType} runtime`);
      return new PromptLearningAdapter(method, imported.config, savedInner(base, imported.config, imported.embeddings), base, imported.warnings);
    },
  };
}
