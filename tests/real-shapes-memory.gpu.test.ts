/**
 * The memory plan at the shapes, against the bytes a training pass allocates: SmolLM2-135M (nf4, no
 * checkpointing) and Qwen2.5-0.5B (nf4, gradient checkpointing), batch 4 × 512, with 2 of their layers (the plan
 * is computed for the same 2-layer config). The passes are recorded in the pipeline cache's collecting mode: every
 * tensor is taken and handed back exactly as in a step that runs, and its buffers are really created, but no kernel
 * is dispatched — running 4 × 512 tokens through a 49,152- or 151,936-token lm_head would take many minutes on
 * SwiftShader. The plan's full-depth peaks stay under 2 GiB (tests/cli-plan.test.ts), and the executed passes of
 * tests/memory-plan.gpu.test.ts show the plan and the pool agree on runs that compute.
 */
import { describe, expect, it } from 'vitest';
import { ActivationPool } from '../src/engine/activation-pool';
import { GpuModel } from '../src/engine/gpu-model';
import { passActivations, planMemory } from '../src/engine/memory-plan';
import { lossAndGrads } from '../src/engine/training-pass';
import { planMethodOf } from '../src/methods/plan-method';
import { createAdapter } from '../src/methods/runtimes';
import { loadModel } from '../src/model-io/load-model';
import { BrowserFilesSource } from '../src/model-io/model-source';
import { loadTokenizer } from '../src/model-io/tokenizer';
import type { ModelPresetName } from '../src/model/presets';
import { makeLikeModel } from './fixtures/tiny-models';
import { useGpu } from './helpers/gpu';

const ctx = useGpu();
const B = 4;
const T = 512;

const CASES: { preset: ModelPresetName; gradientCheckpointing: boolean }[] = [
  { preset: 'smollm2-135m', gradientCheckpointing: false },
  { preset: 'qwen2.5-0.5b', gradientCheckpointing: true },
];

describe.each(CASES)('$preset, 2 layers, nf4, batch 4 × 512, checkpointing $gradientCheckpointing', ({ preset, gradientCheckpointing }) => {
  it('a training pass allocates the activations the plan says, and the model the weights it says', async () => {
    const files = [...makeLikeModel(preset, { layers: 2, seed: 5 })].map(([name, bytes]) => new File([bytes], name));
    const m = await loadModel(new BrowserFilesSource(files));
    const model = GpuModel.upload(ctx.gpu, m.config, m.weights, 'nf4');
    const base = { gpu: ctx.gpu, config: m.config, model, weights: m.weights, tokenizer: loadTokenizer(m.tokenizerJson, m.tokenizerConfig), nameOrPath: preset, revision: null };
    const adapter = createAdapter(base, 'lora', {}, 3);
    const pool = new ActivationPool(ctx.gpu.device);
    try {
      const ids = Array.from({ length: B }, (_, b) => Array.from({ length: T }, (_, t) => (17 + 31 * b + 7 * t) % m.config.vocabSize));
      const batch = { inputIds: ids, labels: ids.map((row) => row.map((id, t) => (t === 0 ? -100 : id))) };
      let activationBytes = 0;
      await ctx.gpu.pipelines.collectPipelines(async () => {
        activationBytes = (await lossAndGrads(ctx.gpu, model, adapter, batch, { dropoutSeed: 1, pool, gradientCheckpointing })).activationBytes;
      });
      const method = planMethodOf('lora', {}, m.config, base);
      const input = { config: m.config, batch: B, seqLen: T, format: 'nf4' as const, gradientCheckpointing, method, limits: ctx.gpu.device.limits };
      const planned = passActivations(input);
      expect(activationBytes).toBe(planned.tensorBytes);
      expect(pool.snapshot().lastPeakBufferBytes).toBe(planned.bufferBytes);
      expect(planMemory(input).weights).toBe(model.allocatedBytes());
      // The loss really ran in chunks: the whole logits would be B·T·V floats.
      expect(planned.chunkRows).toBeLessThan(B * T);
      expect(activationBytes).toBeLessThan(4 * B * T * m.config.vocabSize);
    } finally {
      pool.destroy();
      adapter.destroy();
      model.destroy();
    }
  }, 180_000);
});
