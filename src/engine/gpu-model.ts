/**
 * A Hugging Face model's frozen weights on the GPU. Every linear layer's W0 is quantized on load to the
 * format the user picks (f32, q8, q4, nf4); embeddings and norm parameters stay f32. A tied lm_head reads the
 * f32 embedding table itself, so no second copy exists.
 *
 * Loading checks every tensor against the device's limits before the first upload, and destroys what was
 * uploaded when anything fails, so a model is never half-loaded.
 */
import type { GpuContext } from '../gpu/device';
import { GpuLimitError } from '../gpu/errors';
import { destroyWeight, uploadWeight, type GpuWeight } from '../kernels/gpu-weight';
import { packWeight } from '../kernels/quantize';
import { tensorFrom, type GpuTensor } from '../kernels/tensor';
import { placeholderBuffer } from '../kernels/dispatch';
import { ropeTable } from '../kernels/rope';
import { weightBytes, type WeightFormat } from '../kernels/weight-format';
import type { ModelConfig } from '../model/config';
import { linearModules, type HostWeights, type LinearModuleSpec } from '../model/weight-names';

export interface GpuLinear {
  spec: LinearModuleSpec;
  weight: GpuWeight;
  bias: GpuTensor | null;
}

export interface GpuNorm {
  weight: GpuTensor;
  /** LayerNorm only. */
  bias: GpuTensor | null;
}

export interface GpuLayer {
  index: number;
  norm1: GpuNorm; // ln_1 / input_layernorm
  norm2: GpuNorm; // ln_2 / post_attention_layernorm
  /** By PEFT short name: c_attn, c_proj (attention), c_fc, mlp_c_proj for GPT-2 (see `moduleKey`); q_proj … down_proj. */
  linears: Map<string, GpuLinear>;
}

export interface WeightMemory {
  /** Bytes of the quantized (or f32) linear weights W0. */
  linear: number;
  /** Embedding tables (token, and position for GPT-2), f32. */
  embeddings: number;
  /** Norm parameters, biases and an untied lm_head. */
  other: number;
  total: number;
}

/** Key of a linear in GpuLayer.linears: the module path after "…h.{i}." / "…layers.{i}.", e.g. "attn.c_proj". */
export function moduleKey(spec: LinearModuleSpec): string {
  return spec.path.split('.').slice(3).join('.');
}

/** Bytes each part of the model will take on the GPU in `format`, computed before uploading. */
export function plannedWeightMemory(c: ModelConfig, format: WeightFormat): WeightMemory {
  let linear = 0;
  let other = 0;
  for (const m of linearModules(c)) {
    linear += weightBytes(format, m.outFeatures, m.inFeatures);
    if (m.hasBias) other += 4 * m.outFeatures;
  }
  const d = c.hiddenSize;
  const embeddings = 4 * c.vocabSize * d + (c.architecture === 'gpt2' ? 4 * c.maxPositions * d : 0);
  const normParams = c.architecture === 'gpt2' ? 2 : 1;
  other += 4 * d * normParams * (2 * c.numLayers + 1);
  if (!c.tieWordEmbeddings) linear += weightBytes(format, c.vocabSize, d);
  return { linear, embeddings, other, total: linear + embeddings + other };
}

/**
 * Refuses a model whose tensors would not fit the device's buffer limits, naming the tensor and the needed and
 * available sizes, before anything is uploaded.
 */
export function checkFitsDevice(gpu: GpuContext, c: ModelConfig, weights: HostWeights, format: WeightFormat): void {
  const limits = gpu.device.limits;
  const maxBinding = Math.min(limits.maxStorageBufferBindingSize, limits.maxBufferSize);
  const packed = new Map<string, number>();
  for (const m of linearModules(c)) packed.set(`${m.path}.weight`, weightBytes(format, m.outFeatures, m.inFeatures));
  if (!c.tieWordEmbeddings) packed.set('lm_head.weight', weightBytes(format, c.vocabSize, c.hiddenSize));
  for (const [name, t] of weights) {
    const bytes = packed.get(name) ?? 4 * t.data.length;
    if (bytes > maxBinding) {
      throw new GpuLimitError(
        'maxStorageBufferBindingSize',
        bytes,
        maxBinding,
        `model tensor "${name}" ${JSON.stringify(t.shape)} (${format === 'f32' || !packed.has(name) ? 'f32' : format})`,
      );
    }
  }
}

function host(weights: HostWeights, name: string): { shape: number[]; data: Float32Array } {
  const t = weights.get(name);
  if (!t) throw new Error(`model weights: tensor "${name}" is missing`);
  return t;
}

export class GpuModel {
  private constructor(
    readonly config: ModelConfig,
    readonly format: WeightFormat,
    readonly tokenEmbedding: GpuTensor, // [V, d]
    readonly positionEmbedding: GpuTensor | null, // [P, d], GPT-2
    readonly layers: GpuLayer[],
    readonly finalNorm: GpuNorm,
    readonly lmHead: GpuWeight, // [V, d]; the embedding table itself when tied
    /** RoPE cos/sin table [maxPositions, headDim/2, 2] (Llama family), computed in float64 on the host. */
    readonly ropeTable: GpuTensor | null,
    readonly memory: WeightMemory,
    private readonly owned: { tensors: GpuTensor[]; weights: GpuWeight[] },
  ) {}

  /** Uploads `weights` (canonical names, f32 on the host), quantizing every linear W0 to `format`. */
  static upload(gpu: GpuContext, config: ModelConfig, weights: HostWeights, format: WeightFormat): GpuModel {
    checkFitsDevice(gpu, config, weights, format);
    const d = gpu.device;
    const owned = { tensors: [] as GpuTensor[], weights: [] as GpuWeight[] };
    const f32 = (name: string): GpuTensor => {
      const t = host(weights, name);
      const g = tensorFrom(d, t.data, t.shape, name);
      owned.tensors.push(g);
      return g;
    };
    try {
      const c = config;
      const tokenEmbedding = f32(c.architecture === 'gpt2' ? 'transformer.wte.weight' : 'model.embed_tokens.weight');
      const positionEmbedding = c.architecture === 'gpt2' ? f32('transformer.wpe.weight') : null;
      const norm = (name: string): GpuNorm => ({
        weight: f32(`${name}.weight`),
        bias: c.architecture === 'gpt2' ? f32(`${name}.bias`) : null,
      });
      const layers: GpuLayer[] = [];
      for (let i = 0; i < c.numLayers; i++) {
        const p = c.architecture === 'gpt2' ? `transformer.h.${i}` : `model.layers.${i}`;
        layers.push({
          index: i,
          norm1: norm(c.architecture === 'gpt2' ? `${p}.ln_1` : `${p}.input_layernorm`),
          norm2: norm(c.architecture === 'gpt2' ? `${p}.ln_2` : `${p}.post_attention_layernorm`),
          linears: new Map(),
        });
      }
      for (const spec of linearModules(c)) {
        const t = host(weights, `${spec.path}.weight`);
        const packed = packWeight(t.data, spec.outFeatures, spec.inFeatures, format, spec.layout, `${spec.path}.weight`);
        const weight = uploadWeight(d, packed, spec.path);
        owned.weights.push(weight);
        const bias = spec.hasBias ? f32(`${spec.path}.bias`) : null;
        layers[spec.layer].linears.set(moduleKey(spec), { spec, weight, bias });
      }
      const finalNorm = norm(c.architecture === 'gpt2' ? 'transformer.ln_f' : 'model.norm');
      let lmHead: GpuWeight;
      if (c.tieWordEmbeddings) {
        // The f32 table's bits are exactly the f32 weight format, in nn.Linear layout [V, d].
        lmHead = {
          name: 'lm_head (tied)', format: 'f32', layout: 'linear', outFeatures: c.vocabSize, inFeatures: c.hiddenSize,
          paddedIn: c.hiddenSize, words: tokenEmbedding.buffer, scales: placeholderBuffer(d), bytes: 0,
        };
      } else {
        const t = host(weights, 'lm_head.weight');
        lmHead = uploadWeight(d, packWeight(t.data, c.vocabSize, c.hiddenSize, format, 'linear', 'lm_head.weight'), 'lm_head');
        owned.weights.push(lmHead);
      }
      let rope: GpuTensor | null = null;
      if (c.architecture === 'llama') {
        rope = tensorFrom(d, ropeTable(c.maxPositions, c.headDim, c.ropeTheta), [c.maxPositions, c.headDim / 2, 2], 'rope table');
        owned.tensors.push(rope);
      }
      return new GpuModel(c, format, tokenEmbedding, positionEmbedding, layers, finalNorm, lmHead, rope, plannedWeightMemory(c, format), owned);
    } catch (e) {
      for (const t of owned.tensors) t.buffer.destroy();
      for (const w of owned.weights) destroyWeight(w);
      throw e;
    }
  }

  /**
   * Bytes of the GPU buffers holding the weights, measured from the buffers themselves (the RoPE table and
   * the 4-byte empty scale planes of f32 weights are not counted).
   */
  allocatedBytes(): number {
    let n = 0;
    for (const t of this.owned.tensors) if (t !== this.ropeTable) n += t.buffer.size;
    for (const w of this.owned.weights) n += w.words.size + (w.format === 'f32' ? 0 : w.scales.size);
    return n;
  }

  /** Every linear module, in execution order. */
  *linears(): Iterable<GpuLinear> {
    for (const layer of this.layers) yield* layer.linears.values();
  }

  destroy(): void {
    for (const t of this.owned.tensors) t.buffer.destroy();
    for (const w of this.owned.weights) destroyWeight(w);
  }
}
