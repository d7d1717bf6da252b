/**
 * The GPU engine end to end on tiny Hugging Face models of each architecture, against the float64
 * reference model, with both kernel profiles: logits for every weight format (the reference runs on the same
 * dequantized weights), LoRA gradients on every targeted module, the activation-memory formula, and KV-cache
 * generation.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { adapterTensors, GpuLoraSet, type LoraModuleInit } from '../src/methods/lora/gpu';
import { checkFitsDevice, GpuModel } from '../src/engine/gpu-model';
import { plannedWeightMemory } from '../src/engine/weight-memory';
import type { GpuContext } from '../src/gpu/device';
import { evalLoss, forwardLogits, lossAndGrads } from '../src/engine/training-pass';
import { readTensor } from '../src/kernels/tensor';
import { passActivations } from '../src/engine/memory-plan';
import { generate } from '../src/engine/generate';
import { dequantizeWeight, packWeight } from '../src/kernels/quantize';
import { WEIGHT_FORMATS, type WeightFormat } from '../src/kernels/weight-format';
import { loadModel, type LoadedModel } from '../src/model-io/load-model';
import { BrowserFilesSource } from '../src/model-io/model-source';
import { makeTinyModel } from './fixtures/tiny-models';
import type { ModelConfig } from '../src/model/config';
import { referenceForward, referenceLossAndGrads } from '../src/model/reference/reference-model';
import { loraReference, type ReferenceLora } from '../src/methods/lora/reference';
import { linearModules, type HostWeights } from '../src/model/weight-names';
import { randomNormal } from '../src/util/random';
import { expectClose } from './helpers/compare';
import { useGpu } from './helpers/gpu';

const ctx = useGpu();
const KINDS = ['gpt2', 'llama', 'qwen2'] as const;
const LOGIT_TOL = { atol: 1e-4, rtol: 1e-3 };
const GRAD_TOL = { atol: 1e-5, rtol: 1e-3 };

const models = new Map<string, LoadedModel>();
let defaultKernels: GpuContext['kernels'];
beforeAll(async () => {
  defaultKernels = ctx.gpu.kernels;
  for (const kind of KINDS) {
    const files = [...makeTinyModel(kind)].map(([name, bytes]) => new File([bytes as Uint8Array<ArrayBuffer>], name));
    models.set(kind, await loadModel(new BrowserFilesSource(files)));
  }
});

/** The host weights with every linear W0 replaced by its quantize → dequantize round trip. */
function dequantized(c: ModelConfig, weights: HostWeights, format: WeightFormat): HostWeights {
  if (format === 'f32') return weights;
  const out: HostWeights = new Map(weights);
  const mods = linearModules(c).map((m) => ({ name: `${m.path}.weight`, out: m.outFeatures, in: m.inFeatures, layout: m.layout }));
  if (!c.tieWordEmbeddings) mods.push({ name: 'lm_head.weight', out: c.vocabSize, in: c.hiddenSize, layout: 'linear' });
  for (const m of mods) {
    const t = weights.get(m.name)!;
    const logical = dequantizeWeight(packWeight(t.data, m.out, m.in, format, m.layout)); // [out, in]
    const data = new Float32Array(m.out * m.in);
    for (let n = 0; n < m.out; n++) {
      for (let k = 0; k < m.in; k++) data[m.layout === 'linear' ? n * m.in + k : k * m.out + n] = logical[n * m.in + k];
    }
    out.set(m.name, { shape: t.shape, data });
  }
  return out;
}

/** Random adapters (non-zero B) on the given module short names, as GPU inits and as the reference's map. */
function adapters(c: ModelConfig, shortNames: string[], r: number, dropoutP: number, seed: number): LoraModuleInit[] {
  return linearModules(c)
    .filter((m) => shortNames.includes(m.shortName))
    .map((m, i) => ({
      path: m.path,
      r,
      scale: 16 / r,
      dropoutP,
      a: randomNormal(r * m.inFeatures, seed + 2 * i, 0.2),
      b: randomNormal(m.outFeatures * r, seed + 2 * i + 1, 0.2),
    }));
}

/** The same adapters on the float64 reference, with the dropout seeds the GPU pass derives from `dropoutSeed`. */
function referenceLora(c: ModelConfig, set: GpuLoraSet, inits: LoraModuleInit[], dropoutSeed: number | null) {
  const ref: ReferenceLora = new Map();
  for (const init of inits) {
    const t = adapterTensors(set.get(init.path)!, 1, dropoutSeed);
    ref.set(init.path, { a: init.a, b: init.b, r: init.r, scale: init.scale, dropoutP: t.dropout.p, seed: t.dropout.seed });
  }
  return loraReference(c, ref);
}

const ALL_TARGETS: Record<string, string[]> = {
  gpt2: ['c_attn', 'c_proj', 'c_fc'],
  llama: ['q_proj', 'k_proj', 'v_proj', 'o_proj', 'gate_proj', 'up_proj', 'down_proj'],
  qwen2: ['q_proj', 'k_proj', 'v_proj', 'o_proj', 'gate_proj', 'up_proj', 'down_proj'],
};

// Two rows, the second right-padded, with ignored prompt labels.
const batch = {
  inputIds: [
    [5, 17, 99, 42, 7, 250, 3],
    [11, 64, 128, 9, 0, 0, 0],
  ],
  attentionMask: [
    [1, 1, 1, 1, 1, 1, 1],
    [1, 1, 1, 1, 0, 0, 0],
  ],
  labels: [
    [-100, -100, 99, 42, 7, 250, 3],
    [-100, 64, 128, 9, -100, -100, -100],
  ],
};

// Both kernel profiles: 'tiled' is what a real GPU runs, 'direct' what CPU drivers (this machine) run.
describe.each(['tiled', 'direct'] as const)('%s kernels', (kernels) => {
beforeEach(() => {
  ctx.gpu.kernels = kernels;
});
afterAll(() => {
  ctx.gpu.kernels = defaultKernels;
});

describe.each(KINDS)('%s', (kind) => {
  // The tiled profile's f32 and nf4 paths end to end (its q8 and q4 decoding is checked kernel by kernel in
  // matmul.gpu and lora-linear.gpu); the direct profile's every format.
  for (const format of kernels === 'tiled' ? (['f32', 'nf4'] as const) : WEIGHT_FORMATS) {
    it(`logits match the reference with W0 in ${format}, base and with LoRA`, async () => {
      const m = models.get(kind)!;
      const model = GpuModel.upload(ctx.gpu, m.config, m.weights, format);
      const inits = adapters(m.config, ALL_TARGETS[kind], 4, 0, 100);
      const lora = GpuLoraSet.create(ctx.gpu, model, inits);
      try {
        const ref = dequantized(m.config, m.weights, format);
        const base = await forwardLogits(ctx.gpu, model, lora, batch, { adapterScale: 0 });
        expectClose(`${kind} ${format} base logits`, base, referenceForward(m.config, ref, batch), LOGIT_TOL);
        const adapted = await forwardLogits(ctx.gpu, model, lora, batch);
        expectClose(`${kind} ${format} LoRA logits`, adapted, referenceForward(m.config, ref, batch, referenceLora(m.config, lora, inits, null)), LOGIT_TOL);
      } finally {
        lora.destroy();
        model.destroy();
      }
    });
  }

  it('LoRA gradients on every targeted module match the reference (with dropout and padding)', async () => {
    const m = models.get(kind)!;
    const model = GpuModel.upload(ctx.gpu, m.config, m.weights, 'q8');
    const inits = adapters(m.config, ALL_TARGETS[kind], 3, 0.1, 200);
    const lora = GpuLoraSet.create(ctx.gpu, model, inits);
    try {
      const dropoutSeed = 4242;
      const result = await lossAndGrads(ctx.gpu, model, lora, batch, { dropoutSeed });
      const ref = referenceLossAndGrads(m.config, dequantized(m.config, m.weights, 'q8'), batch, referenceLora(m.config, lora, inits, dropoutSeed));
      expect(Math.abs(result.loss - ref.loss)).toBeLessThan(1e-4 * Math.max(1, Math.abs(ref.loss)));
      const grads = await lora.readGrads();
      expect(grads.size).toBe(inits.length);
      for (const [path, g] of grads) {
        expectClose(`${path} dA`, g.dA, ref.grads.get(`${path}.lora_A`)!, GRAD_TOL);
        expectClose(`${path} dB`, g.dB, ref.grads.get(`${path}.lora_B`)!, GRAD_TOL);
      }
      // The memory plan replays this pass's allocations: its peak is the pool's, to the byte.
      const specs = new Map(linearModules(m.config).map((s) => [s.path, s]));
      const targets = inits.map((i) => ({ layer: specs.get(i.path)!.layer, role: specs.get(i.path)!.role, r: i.r, bias: false }));
      const method = { trainableParams: 0, lora: { targets, dora: false, dropout: true }, exact: true };
      const plan = passActivations({ config: m.config, batch: 2, seqLen: 7, format: 'q8', gradientCheckpointing: false, method, limits: ctx.gpu.device.limits });
      expect(result.activationBytes).toBe(plan.tensorBytes);
    } finally {
      lora.destroy();
      model.destroy();
    }
  });

  it('KV-cache generation gives the tokens of uncached greedy decoding, and a seeded sampler repeats', async () => {
    const m = models.get(kind)!;
    const model = GpuModel.upload(ctx.gpu, m.config, m.weights, 'f32');
    const inits = adapters(m.config, ALL_TARGETS[kind].slice(0, 2), 2, 0, 300);
    const lora = GpuLoraSet.create(ctx.gpu, model, inits);
    try {
      const prompt = [5, 17, 99];
      const cached = await generate(ctx.gpu, model, lora, prompt, { maxNewTokens: 6, eosTokenIds: [] });
      // Uncached: the full training-path forward over the whole sequence at every step.
      const seq = [...prompt];
      for (let i = 0; i < 6; i++) {
        const logits = await forwardLogits(ctx.gpu, model, lora, { inputIds: [seq] });
        const last = logits.subarray((seq.length - 1) * m.config.vocabSize, seq.length * m.config.vocabSize);
        let best = 0;
        for (let v = 1; v < last.length; v++) if (last[v] > last[best]) best = v;
        seq.push(best);
      }
      expect(cached.tokens).toEqual(seq.slice(prompt.length));
      expect(cached.stopReason).toBe('length');

      // Stops on an end-of-sequence id, which is the last token it streams.
      const streamed: number[] = [];
      const eosAt = seq[prompt.length + 2];
      const stopped = await generate(ctx.gpu, model, lora, prompt, { maxNewTokens: 6, eosTokenIds: [eosAt], onToken: (id) => streamed.push(id) });
      const firstEos = seq.slice(prompt.length).indexOf(eosAt);
      expect(stopped.stopReason).toBe('eos');
      expect(stopped.tokens).toEqual(seq.slice(prompt.length, prompt.length + firstEos + 1));
      expect(streamed).toEqual(stopped.tokens);

      const opts = { maxNewTokens: 8, doSample: true, temperature: 1.5, topK: 50, topP: 0.95, seed: 7, eosTokenIds: [] };
      const s1 = await generate(ctx.gpu, model, lora, prompt, opts);
      const s2 = await generate(ctx.gpu, model, lora, prompt, opts);
      expect(s2.tokens).toEqual(s1.tokens);
      const s3 = await generate(ctx.gpu, model, lora, prompt, { ...opts, seed: 8 });
      expect(s3.tokens).not.toEqual(s1.tokens);

      // Base and adapted outputs from the same loaded model.
      const baseLogits = await forwardLogits(ctx.gpu, model, lora, { inputIds: [prompt] }, { adapterScale: 0 });
      const adaptedLogits = await forwardLogits(ctx.gpu, model, lora, { inputIds: [prompt] });
      expect(Array.from(baseLogits)).not.toEqual(Array.from(adaptedLogits));
    } finally {
      lora.destroy();
      model.destroy();
    }
  });
});

});

describe('weights on the GPU', () => {
  it('reports per format the bytes it actually allocates, and quantized formats take less', () => {
    const m = models.get('llama')!;
    const sizes: number[] = [];
    for (const format of WEIGHT_FORMATS) {
      const model = GpuModel.upload(ctx.gpu, m.config, m.weights, format);
      expect(model.memory).toEqual(plannedWeightMemory(m.config, format));
      expect(model.allocatedBytes()).toBe(model.memory.total);
      sizes.push(model.memory.linear);
      model.destroy();
    }
    const [f32, q8, q4, nf4] = sizes;
    expect(q8).toBeLessThan(f32 / 3);
    expect(q4).toBeLessThan(q8);
    expect(nf4).toBeLessThan(q8);
  });

  it('refuses a model that exceeds the buffer limits, naming the tensor and both sizes, before uploading anything', () => {
    const m = models.get('gpt2')!;
    const small = { device: { limits: { maxStorageBufferBindingSize: 4096, maxBufferSize: 1 << 30 } } } as unknown as GpuContext;
    expect(() => checkFitsDevice(small, m.config, m.weights, 'f32')).toThrow(
      /needs maxStorageBufferBindingSize = \d+, but this device allows at most 4096/,
    );
    expect(() => GpuModel.upload(small, m.config, m.weights, 'f32')).toThrow(/model tensor "transformer\.(wte|wpe|h\.\d+\.[a-z_.]+)/);
  });
});

describe('trainable biases (bias="lora_only")', () => {
  for (const kind of ['qwen2', 'gpt2'] as const) {
    it(`${kind}: the bias gradient matches central differences of the GPU loss, and base outputs keep the original bias`, async () => {
      const m = models.get(kind)!;
      const model = GpuModel.upload(ctx.gpu, m.config, m.weights, 'f32');
      const inits = adapters(m.config, ALL_TARGETS[kind].slice(0, 2), 2, 0, 400).map((init) => ({
        ...init,
        bias: Float32Array.from(m.weights.get(`${init.path}.bias`)!.data, (v) => v + 0.05),
      }));
      const lora = GpuLoraSet.create(ctx.gpu, model, inits);
      try {
        // With the adapter off, the model's own bias is used: the same logits as a set without trainable biases.
        const plain = GpuLoraSet.create(ctx.gpu, model, inits.map(({ bias: _bias, ...rest }) => rest));
        expect(Array.from(await forwardLogits(ctx.gpu, model, lora, batch, { adapterScale: 0 }))).toEqual(
          Array.from(await forwardLogits(ctx.gpu, model, plain, batch, { adapterScale: 0 })),
        );
        plain.destroy();

        await lossAndGrads(ctx.gpu, model, lora, batch);
        const mod = lora.get(inits[0].path)!;
        const grad = await readTensor(ctx.gpu.device, mod.dBias!);
        const bias = Float32Array.from(inits[0].bias!);
        const h = 1e-2;
        const lossWith = async (n: number, delta: number) => {
          const b = Float32Array.from(bias);
          b[n] += delta;
          ctx.gpu.device.queue.writeBuffer(mod.bias!.buffer, 0, b);
          return (await evalLoss(ctx.gpu, model, lora, batch)).loss;
        };
        for (const n of [0, 5, mod.bias!.shape[0] - 1]) {
          const fd = ((await lossWith(n, h)) - (await lossWith(n, -h))) / (2 * h);
          expect(Math.abs(fd - grad[n]), `d bias[${n}]: analytic ${grad[n]}, finite difference ${fd}`).toBeLessThan(5e-4 + 2e-2 * Math.abs(fd));
        }
      } finally {
        lora.destroy();
        model.destroy();
      }
    });
  }
});
