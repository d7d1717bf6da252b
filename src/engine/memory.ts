/**
 * The activation memory of a training pass that keeps every tensor until the pass ends, saves the attention
 * probabilities and builds the whole [tokens × vocabulary] logits: what an autograd engine without
 * memory-efficient attention or a chunked loss keeps, and what the studio's own pass took before it freed tensors
 * as it goes (the recipe's estimate for PyTorch uses it; the studio plans its own pass with memory-plan.ts). In
 * bytes, as a function of the batch B, the sequence length T and the model's size. All activations are f32 (4 bytes). With M = B·T tokens, hidden size d,
 * q width qD = heads·head_dim, k/v width kvD = kv_heads·head_dim, MLP width I, vocabulary V, L layers and
 * R = the sum of the LoRA ranks of all adapted modules:
 *
 * saved for the backward (kept from the forward until the backward has used them):
 *   embeddings                      M·d
 *   per layer                       M·(4d + 2s + 2qD + 2kvD + 2I + e) + B·heads·T²
 *                                   (s = 2 statistics per row for LayerNorm, 1 for RMSNorm;
 *                                    e = qD + 2kvD for a fused q|k|v projection's output, I for SwiGLU's up
 *                                    projection; B·heads·T² are the attention probabilities)
 *   LoRA inputs x·Aᵀ                M·R
 *   final norm and logits           M·(d + s + V)
 * gradients in the backward:
 *   per-token loss                  M (the logits' gradient overwrites the logits)
 *   residual-stream gradients       2·M·d
 *   per layer                       M·(d + 2qD + 2kvD + I + e') (+ M·d except in the first layer)
 *                                   (e' = I for GELU's input gradient or 2I for SwiGLU's gate and up, plus
 *                                    qD + 2kvD for a fused q|k|v gradient)
 *   LoRA dy·B                       M·R
 *   (with trainable biases, bias="lora_only", one more column of M ones)
 *
 * The T² term (attention probabilities) and the V term (logits) dominate at long sequences and large
 * vocabularies. Weights are counted separately (weight-memory.ts, plannedWeightMemory).
 */
import { architectureOf } from '../model/architectures/index';
import type { ModelConfig } from '../model/config';

export interface ActivationMemory {
  /** Activations the forward saves for the backward. */
  saved: number;
  /** Gradient buffers the backward allocates. */
  gradients: number;
  total: number;
}

export function trainingActivationMemory(c: ModelConfig, B: number, T: number, loraRanks: readonly number[]): ActivationMemory {
  const M = B * T;
  const d = c.hiddenSize;
  const qD = c.numHeads * c.headDim;
  const kvD = c.numKvHeads * c.headDim;
  const I = c.intermediateSize;
  const V = c.vocabSize;
  const L = c.numLayers;
  const arch = architectureOf(c);
  const s = arch.norm === 'layernorm' ? 2 : 1;
  const fusedQkv = arch.qkv === 'fused' ? qD + 2 * kvD : 0;
  const R = loraRanks.reduce((a, b) => a + b, 0);
  const perLayerSaved = M * (4 * d + 2 * s + 2 * qD + 2 * kvD + 2 * I + fusedQkv + (arch.mlp === 'swiglu' ? I : 0)) + B * c.numHeads * T * T;
  const saved = M * d + L * perLayerSaved + M * R + M * (d + s + V);
  const perLayerGrad = M * (d + 2 * qD + 2 * kvD + I + fusedQkv + (arch.mlp === 'swiglu' ? 2 * I : I));
  const gradients = M + 2 * M * d + L * perLayerGrad + (L - 1) * M * d + M * R;
  return { saved: 4 * saved, gradients: 4 * gradients, total: 4 * (saved + gradients) };
}

/** Total bytes of trainingActivationMemory. */
export function trainingActivationBytes(c: ModelConfig, B: number, T: number, loraRanks: readonly number[]): number {
  return trainingActivationMemory(c, B, T, loraRanks).total;
}
