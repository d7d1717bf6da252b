/** A bottleneck adapter on the GPU (gpu.ts) with its config, and AdapterHub's files (src/peft/bottleneck-files.ts). */
import type { SublayerAdapter, TrainableTensor } from '../../engine/method-hooks';
import type { Sublayer } from '../../model/architecture';
import type { ModelConfig } from '../../model/config';
import {
  bottleneckSize,
  bottleneckTargets,
  exportBottleneckAdapter,
  importBottleneckAdapter,
  type BottleneckConfig,
  type BottleneckWeights,
} from '../../peft/bottleneck-files';
import { randomNormal } from '../../util/random';
import type { MethodBase, MethodPlan, MethodRuntime, TrainedAdapter } from '../method';
import { GpuBottleneckSet, type BottleneckInit } from './gpu';
import { bottleneckConfigOf, bottleneckOptions, bottleneckPlan } from './method';

export class BottleneckAdapter implements TrainedAdapter {
  readonly method = 'bottleneck';
  readonly options: Readonly<Record<string, unknown>>;
  readonly plan: MethodPlan;

  constructor(
    readonly set: GpuBottleneckSet,
    readonly config: BottleneckConfig,
    private readonly model: ModelConfig,
  ) {
    this.options = bottleneckOptions(config);
    this.plan = bottleneckPlan(config, model);
  }

  sublayerOutput(layer: number, sublayer: Sublayer): SublayerAdapter | null {
    return this.set.sublayerOutput(layer, sublayer);
  }

  parameters(): TrainableTensor[] {
    return this.set.parameters();
  }

  async exportFiles(): Promise<Map<string, Uint8Array>> {
    return exportBottleneckAdapter({ config: this.config, weights: await this.set.readWeights(), model: this.model });
  }

  destroy(): void {
    this.set.destroy();
  }
}

/** The standard deviation of the down-projection's initial weights (BERT's init, AdapterHub's default "bert"). */
export const BOTTLENECK_DOWN_STD = 0.02;

/**
 * Initial values that make the adapter the identity: the up-projection's weight and bias exactly zero (AdapterHub's
 * "mam_adapter" init zeroes them; its default "bert" init draws them near zero), the down-projection's weight
 * N(0, 0.02²) (seeded) and its bias zero.
 */
export function initBottleneck(config: BottleneckConfig, model: ModelConfig, seed: number): BottleneckInit[] {
  const d = model.hiddenSize;
  const b = bottleneckSize(config, model);
  return bottleneckTargets(config, model).map((target, i) => ({
    target,
    downWeight: randomNormal(b * d, (seed + Math.imul(i + 1, 0x9e3779b1)) >>> 0, BOTTLENECK_DOWN_STD),
    downBias: new Float32Array(b),
    upWeight: new Float32Array(d * b),
    upBias: new Float32Array(d),
  }));
}

/** The inits from the tensors by name (the library's keys). */
export function initsFromWeights(config: BottleneckConfig, model: ModelConfig, weights: BottleneckWeights): BottleneckInit[] {
  return bottleneckTargets(config, model).map((target) => ({
    target,
    downWeight: weights.get(`${target.prefix}.adapter_down.0.weight`)!,
    downBias: weights.get(`${target.prefix}.adapter_down.0.bias`)!,
    upWeight: weights.get(`${target.prefix}.adapter_up.weight`)!,
    upBias: weights.get(`${target.prefix}.adapter_up.bias`)!,
  }));
}

function build(base: MethodBase, config: BottleneckConfig, inits: BottleneckInit[]): BottleneckAdapter {
  const set = GpuBottleneckSet.create(base.gpu, base.config.hiddenSize, bottleneckSize(config, base.config), config.non_linearity, inits);
  return new BottleneckAdapter(set, config, base.config);
}

export const BOTTLENECK_RUNTIME: MethodRuntime = {
  create(base, options, seed) {
    const c = bottleneckConfigOf(options, base.config, base);
    return build(base, c, initBottleneck(c, base.config, seed));
  },
  load(base, files) {
    const imported = importBottleneckAdapter(files, base.config);
    return build(base, imported.config, initsFromWeights(imported.config, base.config, imported.weights));
  },
};
