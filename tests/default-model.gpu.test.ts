/**
 * The embedded default model (public/models/austen-2m), checked on the studio's GPU engine: its held-out loss
 * matches the value its pretraining tool measured in PyTorch (MODEL_CARD.md), the float64 CPU reference agrees,
 * and a short LoRA run through the real trainer on the pirate sample dataset teaches it to talk like a pirate.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { parseDataset, tokenizeRecords } from '../src/data/index';
import { generate } from '../src/engine/generate';
import { GpuModel } from '../src/engine/gpu-model';
import { GpuLoraSet, loraModuleInits } from '../src/methods/lora/gpu';
import { evalLoss } from '../src/engine/training-pass';
import { generationDefaults } from '../src/model/sampling';
import { referenceLoss } from '../src/model/reference/reference-model';
import { DEFAULT_MODEL, sampleDataset } from '../src/model-io/embedded';
import { loadModel, type LoadedModel } from '../src/model-io/load-model';
import { NodeFolderSource } from '../src/model-io/node-folder-source';
import { loadTokenizer, type TextTokenizer } from '../src/model-io/tokenizer';
import { makeLoraConfig } from '../src/peft/lora-config';
import { initLoraWeights } from '../src/peft/lora-init';
import { resolveLoraTargets } from '../src/peft/lora-targets';
import { DEFAULT_TRAINING, Trainer } from '../src/trainer/trainer';
import { useGpu } from './helpers/gpu';

const ctx = useGpu();
const PUBLIC = join(__dirname, '..', 'public');
const MODEL_DIR = join(PUBLIC, DEFAULT_MODEL.folder);
const CONTEXT = 256;

let loaded: LoadedModel;
let tokenizer: TextTokenizer;
let card: string;

beforeAll(async () => {
  loaded = await loadModel(new NodeFolderSource(MODEL_DIR));
  tokenizer = loadTokenizer(loaded.tokenizerJson, loaded.tokenizerConfig);
  card = readFileSync(join(MODEL_DIR, 'MODEL_CARD.md'), 'utf8');
});

/** The held-out token stream as the pretraining tool builds it: each paragraph's tokens, then <|endoftext|>. */
function heldOutStream(maxTokens = Infinity): number[] {
  const eos = tokenizer.eosTokenId!;
  const stream: number[] = [];
  for (const paragraph of readFileSync(join(MODEL_DIR, 'validation.txt'), 'utf8').split('\n')) {
    if (stream.length >= maxTokens) break;
    if (paragraph) stream.push(...tokenizer.encode(paragraph), eos);
  }
  return stream;
}

/** A number from the card's evaluation table. */
function cardNumber(re: RegExp): number {
  const m = re.exec(card);
  if (!m) throw new Error(`MODEL_CARD.md has no line matching ${re}`);
  return Number(m[1].replace(/,/g, ''));
}

describe('the embedded default model', () => {
  it('is the Llama the card describes, with sampling defaults', () => {
    const c = loaded.config;
    expect([c.modelType, c.numLayers, c.hiddenSize, c.numHeads, c.numKvHeads, c.intermediateSize, c.vocabSize]).toEqual(['llama', 4, 192, 6, 2, 512, 2048]);
    expect(c.tieWordEmbeddings).toBe(true);
    const g = generationDefaults(loaded.generationConfig);
    expect(g.doSample).toBe(true);
    expect(g.repetitionPenalty).toBeGreaterThan(1);
  });

  it("tokenizes the held-out text exactly as the pretraining tool's BPE did", () => {
    expect(heldOutStream().length).toBe(cardNumber(/The held-out stream has ([\d,]+) tokens/));
  });

  it("has the held-out loss of the card on the GPU engine, and the float64 reference agrees", async () => {
    const windows = cardNumber(/first (\d+) windows \(checked by/);
    const expected = cardNumber(/first \d+ windows \(checked by[^|]*\|\s*\*\*([\d.]+)\*\*/);
    const stream = heldOutStream(windows * CONTEXT);
    const inputIds = Array.from({ length: windows }, (_, i) => stream.slice(i * CONTEXT, (i + 1) * CONTEXT));
    const model = GpuModel.upload(ctx.gpu, loaded.config, loaded.weights, 'f32');
    try {
      const { loss, tokens } = await evalLoss(ctx.gpu, model, null, { inputIds, labels: inputIds });
      expect(tokens).toBe(windows * (CONTEXT - 1));
      expect(Math.abs(loss - expected)).toBeLessThanOrEqual(0.05);
      // One window through the float64 reference (the whole set takes minutes on the CPU).
      const one = { inputIds: inputIds.slice(0, 1), labels: inputIds.slice(0, 1) };
      const gpuOne = await evalLoss(ctx.gpu, model, null, one);
      const refOne = referenceLoss(loaded.config, loaded.weights, one);
      expect(Math.abs(gpuOne.loss - refOne)).toBeLessThanOrEqual(1e-3 * refOne);
    } finally {
      model.destroy();
    }
    // The float64 reference of one 256-token window of the 4-layer model takes about a minute of one core.
  }, 300_000);
});

const PIRATE_WORDS = /\b(ar+|ahoy|avast|matey|hearties|timbers|plunder|grog|scallywag|landlubber|doubloons|plank|parrot|bilge|scurvy|mainsail|hoist|keelhaul|bucko|yo[- ]ho)\b/i;

describe('LoRA on the pirate sample dataset', () => {
  it('halves the loss, and the adapted model talks like a pirate where the base model does not', async () => {
    const dataset = sampleDataset('pirate')!;
    const parsed = parseDataset(readFileSync(join(PUBLIC, dataset.file), 'utf8'), 'pirate.jsonl');
    expect(parsed.problems).toEqual([]);
    const { examples } = tokenizeRecords(parsed.records, tokenizer, { maxLength: 48 });
    const loraConfig = makeLoraConfig({ r: 8, lora_alpha: 16, target_modules: 'all-linear' }, loaded.config, { nameOrPath: DEFAULT_MODEL.id });
    const targets = resolveLoraTargets(loraConfig, loaded.config);
    const model = GpuModel.upload(ctx.gpu, loaded.config, loaded.weights, 'q8');
    const lora = GpuLoraSet.create(ctx.gpu, model, loraModuleInits(loraConfig, targets, initLoraWeights(targets, true, 11), loaded.weights));
    // Small enough for SwiftShader (about 9 s a step here): 16 steps of 4 lines.
    const settings = { ...DEFAULT_TRAINING, lr: 1.5e-2, schedule: 'constant' as const, maxSteps: 16, batchSize: 4, seed: 3 };
    const trainer = new Trainer(ctx.gpu, model, lora, examples, [], settings, tokenizer.padTokenId ?? 0);
    try {
      const log = await trainer.run();
      // Batches of 4 are noisy: the mean of the last four steps against the first.
      const first = log[0].loss;
      const last = log.slice(-4).reduce((sum, l) => sum + l.loss, 0) / 4;
      expect(last, `loss ${first} → ${last}`).toBeLessThan(0.5 * first);

      const prompt = tokenizer.encode(dataset.comparePrompt);
      expect(parsed.records.some((r) => r.kind === 'text' && r.text.includes('Sir Thomas'))).toBe(false);
      const opts = { ...generationDefaults(loaded.generationConfig), maxNewTokens: 24, seed: 2 };
      const continuation = async (adapterScale: number) =>
        tokenizer.decode((await generate(ctx.gpu, model, lora, prompt, { ...opts, adapterScale })).tokens, { skipSpecialTokens: true });
      const base = await continuation(0);
      const adapted = await continuation(1);
      expect(adapted, `adapted: ${adapted}`).toMatch(PIRATE_WORDS);
      expect(base, `base: ${base}`).not.toMatch(PIRATE_WORDS);
    } finally {
      trainer.destroy();
      lora.destroy();
      model.destroy();
    }
  }, 420_000);
});
