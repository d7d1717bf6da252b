/** A LoRA adapter on the GPU (gpu.ts) with its config and targets, and PEFT's files (src/peft/adapter-files.ts). */
import type { AdaptedLinear, TrainableTensor } from '../../engine/method-hooks';
import type { ModelConfig } from '../../model/config';
import type { LinearModuleSpec } from '../../model/weight-names';
import { exportLoraAdapter, importLoraAdapter } from '../../peft/adapter-files';
import type { LoraConfig } from '../../peft/lora-config';
import { initLoraWeights } from '../../peft/lora-init';
import { resolveLoraTargets, type ResolvedTarget } from '../../peft/lora-targets';
import type { MethodBase, MethodPlan, MethodRuntime, TrainedAdapter } from '../method';
import { GpuLoraSet, loraModuleInits } from './gpu';
import { loraConfigOf, loraOptions, loraPlan } from './method';

/** A LoRA adapter on the GPU with its config and targets. */
export class LoraAdapter implements TrainedAdapter {
  readonly method = 'lora';
  readonly options: Readonly<Record<string, unknown>>;
  readonly plan: MethodPlan;

  constructor(
    readonly set: GpuLoraSet,
    readonly config: LoraConfig,
    readonly targets: ResolvedTarget[],
    private readonly model: ModelConfig,
    readonly warnings: readonly string[] = [],
  ) {
    this.options = loraOptions(config);
    this.plan = loraPlan(config, targets, model);
  }

  linear(spec: LinearModuleSpec): AdaptedLinear | null {
    return this.set.linear(spec);
  }

  parameters(): TrainableTensor[] {
    return this.set.parameters();
  }

  async exportFiles(): Promise<Map<string, Uint8Array>> {
    return exportLoraAdapter({
      config: this.config,
      weights: await this.set.readWeights(),
      biases: await this.set.readBiases(),
      magnitudes: await this.set.readMagnitudes(),
      model: this.model,
      targets: this.targets,
    });
  }

  destroy(): void {
    this.set.destroy();
  }
}

export const LORA_RUNTIME: MethodRuntime = {
  create(base: MethodBase, options, seed) {
    const c = loraConfigOf(options, base.config, base);
    const targets = resolveLoraTargets(c, base.config);
    const set = GpuLoraSet.create(base.gpu, base.model, loraModuleInits(c, targets, initLoraWeights(targets, c.init_lora_weights, seed), base.weights));
    return new LoraAdapter(set, c, targets, base.config);
  },
  load(base: MethodBase, files) {
    const imported = importLoraAdapter(new Map(files), base.config);
    const inits = loraModuleInits(imported.config, imported.targets, imported.weights, base.weights, { biases: imported.biases, magnitudes: imported.magnitudes });
    return new LoraAdapter(GpuLoraSet.create(base.gpu, base.model, inits), imported.config, imported.targets, base.config, imported.warnings);
  },
};
