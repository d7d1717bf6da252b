/** An IA³ adapter on the GPU (gpu.ts) with its config and targets, and PEFT's files (src/peft/ia3-files.ts). */
import type { AdaptedLinear, TrainableTensor } from '../../engine/method-hooks';
import type { ModelConfig } from '../../model/config';
import type { LinearModuleSpec } from '../../model/weight-names';
import { ia3VectorShape, resolveIA3Targets, type IA3Config, type IA3Target } from '../../peft/ia3-config';
import { exportIa3Adapter, importIa3Adapter } from '../../peft/ia3-files';
import { randomNormal } from '../../util/random';
import type { MethodBase, MethodPlan, MethodRuntime, TrainedAdapter } from '../method';
import { GpuIa3Set, type Ia3ModuleInit } from './gpu';
import { ia3ConfigOf, ia3Options, ia3Plan } from './method';

export class Ia3Adapter implements TrainedAdapter {
  readonly method = 'ia3';
  readonly options: Readonly<Record<string, unknown>>;
  readonly plan: MethodPlan;

  constructor(
    readonly set: GpuIa3Set,
    readonly config: IA3Config,
    readonly targets: IA3Target[],
    private readonly model: ModelConfig,
    readonly warnings: readonly string[] = [],
  ) {
    this.options = ia3Options(config);
    this.plan = ia3Plan(config, targets, model);
  }

  linear(spec: LinearModuleSpec): AdaptedLinear | null {
    return this.set.linear(spec);
  }

  parameters(): TrainableTensor[] {
    return this.set.parameters();
  }

  async exportFiles(): Promise<Map<string, Uint8Array>> {
    return exportIa3Adapter({ config: this.config, vectors: await this.set.readVectors(), model: this.model });
  }

  destroy(): void {
    this.set.destroy();
  }
}

/**
 * The initial vectors as PEFT's IA3Layer.reset_ia3_parameters makes them: ones with init_ia3_weights (the adapter
 * starts as the identity); otherwise PEFT leaves torch.randn's values, N(0, 1) here (seeded).
 */
export function initIa3Vectors(targets: IA3Target[], init: boolean, seed: number): Map<string, Float32Array> {
  return new Map(
    targets.map((t, i) => {
      const [rows, cols] = ia3VectorShape(t);
      return [t.path, init ? new Float32Array(rows * cols).fill(1) : randomNormal(rows * cols, (seed + Math.imul(i + 1, 0x9e3779b1)) >>> 0, 1)];
    }),
  );
}

function inits(targets: IA3Target[], vectors: Map<string, Float32Array>): Ia3ModuleInit[] {
  return targets.map((t) => ({ path: t.path, feedforward: t.feedforward, l: vectors.get(t.path)! }));
}

export const IA3_RUNTIME: MethodRuntime = {
  create(base: MethodBase, options, seed) {
    const c = ia3ConfigOf(options, base.config, base);
    const targets = resolveIA3Targets(c, base.config);
    const set = GpuIa3Set.create(base.gpu, base.model, inits(targets, initIa3Vectors(targets, c.init_ia3_weights, seed)));
    return new Ia3Adapter(set, c, targets, base.config);
  },
  load(base: MethodBase, files) {
    const imported = importIa3Adapter(new Map(files), base.config);
    const set = GpuIa3Set.create(base.gpu, base.model, inits(imported.targets, imported.vectors));
    return new Ia3Adapter(set, imported.config, imported.targets, base.config, imported.warnings);
  },
};
