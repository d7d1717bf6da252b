/**
 * A PEFT method as the rest of the studio sees it, in two halves:
 * - `PeftMethod` (registry.ts): its options (one field set of the option schema) and what they make on a model,
 *   checked without a GPU — the page's forms, the protocol's checks and the CLI's flags read it;
 * - `MethodRuntime` (runtimes.ts): how it builds a new adapter on a loaded model and reads PEFT's files — the
 *   training pipeline, the worker and the CLI use it.
 * A built adapter (`TrainedAdapter`) trains through the engine's hooks (`GpuAdapter`), describes itself and writes
 * PEFT's files. Each method is one folder under src/methods, with one entry in each registry.
 */
import type { GpuContext } from '../gpu/device';
import type { GpuModel } from '../engine/gpu-model';
import type { GpuAdapter } from '../engine/method-hooks';
import type { ModelConfig } from '../model/config';
import type { HostWeights } from '../model/weight-names';
import type { TextTokenizer } from '../model-io/tokenizer';
import type { FieldSet } from '../options/field';
import type { AdapterType } from '../peft/peft-type';

export const METHOD_IDS = ['lora', 'prompt-tuning', 'p-tuning', 'prefix-tuning', 'ia3', 'bottleneck'] as const;
export type MethodId = (typeof METHOD_IDS)[number];

/** What adapter_config.json names as the base model. */
export interface BaseModelName {
  nameOrPath: string;
  revision?: string | null;
}

/** The loaded base model a method builds on. */
export interface MethodBase extends BaseModelName {
  gpu: GpuContext;
  config: ModelConfig;
  model: GpuModel;
  /** The host copy of the weights (LoRA's trainable biases start from them; prompt tuning's TEXT init reads the embeddings). */
  weights: HostWeights;
  tokenizer: TextTokenizer;
}

/** A fact about an adapter for the logs and the studio's panels, e.g. ['r', '8']. */
export type AdapterFact = readonly [label: string, value: string];

/** PEFT's print_trainable_parameters counts: the method's trainable parameters and all parameters. */
export interface ParameterCounts {
  trainable: number;
  all: number;
}

/** What a method's options make on a model, known before anything is put on the GPU. */
export interface MethodPlan {
  counts: ParameterCounts;
  facts: AdapterFact[];
}

/** An adapter of some method on the GPU. */
export interface TrainedAdapter extends GpuAdapter {
  readonly method: MethodId;
  /** The method's options that rebuild an adapter of this configuration (to continue training, to show it). */
  readonly options: Readonly<Record<string, unknown>>;
  readonly plan: MethodPlan;
  /** What reading PEFT's files let pass with a warning, as PEFT would (ignored empty config fields, …). */
  readonly warnings?: readonly string[];
  /** The adapter in PEFT's files: adapter_config.json, adapter_model.safetensors, README.md. */
  exportFiles(): Promise<Map<string, Uint8Array>>;
}

/**
 * Whether a method's adapter can be folded into the base weights (PEFT's `merge_and_unload`): `apply` reads the
 * adapter's PEFT files and returns the base model's weights with the adapter merged in (new arrays where they
 * change, the given ones elsewhere), or `refused` says why the method cannot be merged.
 */
export type MethodMerge =
  | { readonly kind: 'merge'; apply(files: ReadonlyMap<string, Uint8Array>, model: ModelConfig, weights: HostWeights): MergeResult }
  | { readonly kind: 'refused'; readonly why: string };

export interface MergeResult {
  weights: HostWeights;
  /** What merging let pass with a warning, as PEFT's loading would. */
  warnings: string[];
}

export interface PeftMethod {
  id: MethodId;
  /** adapter_config.json's peft_type ('BOTTLENECK': AdapterHub's format, which has none). */
  peftType: AdapterType;
  /** "LoRA", "Prompt tuning", … */
  label: string;
  /** One sentence on what the method trains and where it attaches. */
  help: string;
  /** The method's options (the option schema): CLI flags, the Method panel, the protocol's checks. */
  fields: FieldSet;
  /** Checks the options against the model, naming the field at fault, and says what they make, without a GPU. */
  plan(options: Readonly<Record<string, unknown>>, model: ModelConfig, base: BaseModelName): MethodPlan;
  /**
   * The options as the method's config holds them once PEFT's per-architecture defaults are filled in (IA³'s
   * target_modules and feedforward_modules for this model): what the Method panel shows as a field's default.
   * Throws naming a bad field, as plan does.
   */
  effectiveOptions?(options: Readonly<Record<string, unknown>>, model: ModelConfig, base: BaseModelName): Record<string, unknown>;
  /**
   * The adapter_config.json object an adapter made from these options exports (exportFiles writes the same JSON;
   * for bottleneck adapters, AdapterHub's), known without a GPU: the GPU recipe (src/recipe) builds its PEFT config
   * from it. Throws naming a bad field, as plan does.
   */
  adapterConfig(options: Readonly<Record<string, unknown>>, model: ModelConfig, base: BaseModelName): Record<string, unknown>;
  /** Merging into the base weights for a merged export (src/deploy/merged-model.ts). */
  merge: MethodMerge;
}

export interface MethodRuntime {
  /** A new adapter from the options, initialised as PEFT does (seeded). */
  create(base: MethodBase, options: Readonly<Record<string, unknown>>, seed: number): TrainedAdapter;
  /** An adapter from PEFT's files (adapter_config.json's peft_type is this method's), checked against the model. */
  load(base: MethodBase, files: ReadonlyMap<string, Uint8Array>): TrainedAdapter;
}
