/** Random bottleneck adapters for the tests (every tensor non-zero, the up-projection too). */
import type { BottleneckInit } from '../../src/methods/bottleneck/gpu';
import type { ModelConfig } from '../../src/model/config';
import { bottleneckSize, bottleneckTargets, type BottleneckConfig } from '../../src/peft/bottleneck-files';
import { randomNormal } from '../../src/util/random';

/** Every tensor random (the up-projection too, so that every gradient is non-zero). */
export function randomBottleneck(config: BottleneckConfig, c: ModelConfig, seed: number, std = 0.5): BottleneckInit[] {
  const d = c.hiddenSize;
  const b = bottleneckSize(config, c);
  return bottleneckTargets(config, c).map((target, i) => ({
    target,
    downWeight: randomNormal(b * d, seed + 4 * i, std),
    downBias: randomNormal(b, seed + 4 * i + 1, std),
    upWeight: randomNormal(d * b, seed + 4 * i + 2, std),
    upBias: randomNormal(d, seed + 4 * i + 3, std),
  }));
}

