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
import { plannedWeightMemory, type WeightMemory } from './weight-memory';
import type { ArchitectureDescription, LinearRole } from '../model/architecture';
import { architectureOf } from '../model/architectures/index';
import type { ModelConfig } from '../model/config';
import { linearModules, normTensorNames, type HostWeights, type LinearModuleSpec } from '../model/weight-names';

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
  norm1: GpuNorm; // before attention (ln_1 / input_layernorm)
  norm2: GpuNorm; // before the MLP (ln_2 / post_attention_layernorm)
  /** The block's linear layers by role (architecture.ts): the description says which roles a family has. */
  linears: Partial<Record<LinearRole, GpuLinear>>;
}

/** The linear layer of `role` in a block; an internal error when the family has none. */
export function linearOf(layer: GpuLayer, role: LinearRole): GpuLinear {
  const l = layer.linears[role];
  if (!l) throw new Error(`internal: layer ${layer.index} has no ${role} projection`);
  return l;
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
  if (!c.tieWordEmbeddings) packed.set(architectureOf(c).names.lmHead, weightBytes(format, c.vocabSize, c.hiddenSize));
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
    readonly arch: ArchitectureDescription,
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
      const arch = architectureOf(c);
      const { names } = arch;
      const tokenEmbedding = f32(names.tokenEmbedding);
      const positionEmbedding = names.positionEmbedding ? f32(names.positionEmbedding) : null;
      const norm = (module: string): GpuNorm => {
        const n = normTensorNames(c, module);
        return { weight: f32(n.weight), bias: n.bias ? f32(n.bias) : null };
      };
      const layers: GpuLayer[] = [];
      for (let i = 0; i < c.numLayers; i++) {
        const block = names.block(i);
        layers.push({ index: i, norm1: norm(`${block}.${names.norm1}`), norm2: norm(`${block}.${names.norm2}`), linears: {} });
      }
      for (const spec of linearModules(c)) {
        const t = host(weights, `${spec.path}.weight`);
        const packed = packWeight(t.data, spec.outFeatures, spec.inFeatures, format, spec.layout, `${spec.path}.weight`);
        const weight = uploadWeight(d, packed, spec.path);
        owned.weights.push(weight);
        const bias = spec.hasBias ? f32(`${spec.path}.bias`) : null;
        layers[spec.layer].linears[spec.role] = { spec, weight, bias };
      }
      const finalNorm = norm(names.finalNorm);
      let lmHead: GpuWeight;
      if (c.tieWordEmbeddings) {
        // The f32 table's bits are exactly the f32 weight format, in nn.Linear layout [V, d].
        lmHead = {
          name: 'lm_head (tied)', format: 'f32', layout: 'linear', outFeatures: c.vocabSize, inFeatures: c.hiddenSize,
          paddedIn: c.hiddenSize, words: tokenEmbedding.buffer, scales: placeholderBuffer(d), bytes: 0,
        };
      } else {
        const t = host(weights, names.lmHead);
        lmHead = uploadWeight(d, packWeight(t.data, c.vocabSize, c.hiddenSize, format, 'linear', names.lmHead), 'lm_head');
        owned.weights.push(lmHead);
      }
      let rope: GpuTensor | null = null;
      if (arch.positions === 'rope') {
        rope = tensorFrom(d, ropeTable(c.maxPositions, c.headDim, c.ropeTheta), [c.maxPositions, c.headDim / 2, 2], 'rope table');
        owned.tensors.push(rope);
      }
      return new GpuModel(c, arch, format, tokenEmbedding, positionEmbedding, layers, finalNorm, lmHead, rope, plannedWeightMemory(c, format), owned);
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
    for (const layer of this.layers) for (const l of this.arch.linears) yield linearOf(layer, l.role);
  }

  destroy(): void {
    for (const t of this.owned.tensors) t.buffer.destroy();
    for (const w of this.owned.weights) destroyWeight(w);
  }
}
