/**
 * The ONNX export for transformers.js (src/deploy/onnx-export.ts), run by the product's onnxruntime-web (wasm EP,
 * under Node): on the tiny GPT-2, Llama (grouped-query attention), Qwen2 (qkv biases, tied embeddings) and the
 * embedded austen-2m, with a random LoRA merged in, the exported model's logits equal the float64 reference of
 * the base model with the adapter (within 1e-3, on a right-padded batch), and its KV-cache greedy generation
 * equals the reference's token for token. Quantized variants compute with exactly their dequantized weights; a
 * model over the protobuf limit goes to external data or is refused; methods that cannot be merged are refused.
 */
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { MergeRefusedError } from '../src/deploy/merged-model';
import { buildDecoderGraph } from '../src/deploy/onnx/decoder-graph';
import { OnnxCausalLM } from '../src/deploy/onnx/onnx-causal-lm';
import { exportOnnx, OnnxTooLargeError } from '../src/deploy/onnx-export';
import { transformersJsGenerate } from '../src/deploy/transformers-js';
import { loadTokenizer } from '../src/model-io/tokenizer';
import { generationDefaults } from '../src/model/sampling';
import { loadModel, type LoadedModel } from '../src/model-io/load-model';
import { BrowserFilesSource, type ModelSource } from '../src/model-io/model-source';
import { NodeFolderSource } from '../src/model-io/node-folder-source';
import { architectureOf } from '../src/model/architectures';
import { referenceForward, referenceGreedyGenerate } from '../src/model/reference/reference-model';
import { linearModules, type HostWeights } from '../src/model/weight-names';
import { makeTinyModel } from './fixtures/tiny-models';
import { expectClose } from './helpers/compare';
import { randomLoraFiles } from './helpers/random-lora-files';

function filesSource(files: ReadonlyMap<string, Uint8Array>): ModelSource {
  return new BrowserFilesSource([...files].map(([n, b]) => new File([b as Uint8Array<ArrayBuffer>], n)));
}

const AUSTEN = join(__dirname, '..', 'public', 'models', 'austen-2m');
const CASES = [
  { name: 'gpt2', source: () => filesSource(makeTinyModel('gpt2')) },
  { name: 'llama', source: () => filesSource(makeTinyModel('llama')) },
  { name: 'qwen2', source: () => filesSource(makeTinyModel('qwen2')) },
  { name: 'austen-2m', source: () => new NodeFolderSource(AUSTEN) },
];

function batchFor(V: number) {
  const inputIds = [[1, 5, 9, 2, 17, 4, 11], [3, 8, 6, 12, 0, 0, 0]].map((row) => row.map((id) => id % V));
  const attentionMask = [[1, 1, 1, 1, 1, 1, 1], [1, 1, 1, 1, 0, 0, 0]];
  return { inputIds, attentionMask };
}

/** Logits of the positions the mask keeps (padded positions' logits are not defined the same way everywhere). */
function kept(logits: ArrayLike<number>, mask: number[][], V: number): number[] {
  const out: number[] = [];
  const T = mask[0].length;
  mask.forEach((row, b) => row.forEach((m, t) => m && out.push(...Array.from({ length: V }, (_, v) => logits[(b * T + t) * V + v]))));
  return out;
}

describe.each(CASES)('$name: ONNX export', (c) => {
  let loaded: LoadedModel;
  beforeAll(async () => {
    loaded = await loadModel(c.source());
  });

  it('runs in onnxruntime-web with the adapted model\'s logits and greedy tokens', async () => {
    const { config } = loaded;
    const targets = [...new Set(linearModules(config).map((m) => m.shortName))];
    const lora = randomLoraFiles(config, loaded.weights, { targets, r: 4, alpha: 8, bias: c.name === 'gpt2' ? 'lora_only' : 'none', seed: 11 });
    const out = await exportOnnx(c.source(), lora.files);
    expect(out.method).toBe('LoRA');
    expect(out.main).toEqual({ model: 'onnx/model.onnx', externalData: null });
    expect([...out.files.keys()]).toEqual(expect.arrayContaining(['config.json', 'generation_config.json', 'tokenizer.json', 'onnx/model.onnx', 'onnx/decoder_model_merged.onnx']));
    // Both layouts hold the same model.
    expect(Buffer.from(out.files.get('onnx/decoder_model_merged.onnx')!).equals(out.files.get('onnx/model.onnx')!)).toBe(true);

    const lm = await OnnxCausalLM.create({ model: out.files.get('onnx/model.onnx')! }, config);
    try {
      const batch = batchFor(config.vocabSize);
      const logits = await lm.logits(batch.inputIds, batch.attentionMask);
      const want = referenceForward(config, lora.weightsWithBiases, batch, lora.reference);
      const V = config.vocabSize;
      expectClose(`${c.name} ONNX vs adapted logits`, kept(logits, batch.attentionMask, V), kept(want, batch.attentionMask, V), { atol: 1e-3, rtol: 1e-3 });

      const n = 8;
      const prompt = batch.inputIds[0].slice(0, 4);
      const greedy = await lm.generate(prompt, { maxNewTokens: n, eosTokenIds: [] });
      expect(greedy.tokens).toEqual(referenceGreedyGenerate(config, lora.weightsWithBiases, prompt, n, [], lora.reference));

      // @xenova/transformers' own text-generation pipeline, on the exported folder, writes what our greedy
      // generation on the ONNX model writes, with the model's generation_config.json (its repetition penalty, its
      // stop ids) and sampling off on both sides. Its pipeline adds no special tokens to the prompt (no BOS).
      const tokenizer = loadTokenizer(loaded.tokenizerJson, loaded.tokenizerConfig);
      const text = 'the cat sat';
      const ids = tokenizer.encode(text, { addSpecialTokens: false });
      const ours = await lm.generate(ids, { ...generationDefaults(loaded.generationConfig), doSample: false, maxNewTokens: 6 });
      expect(await transformersJsGenerate(out.files, text, { maxNewTokens: 6 })).toBe(tokenizer.decode([...ids, ...ours.tokens], { skipSpecialTokens: true }));
    } finally {
      await lm.release();
    }
  });
});

/** The weights with each quantized linear layer replaced by its dequantized values (stored per the layout). */
function withDequantized(loaded: LoadedModel, deq: Map<string, Float32Array>): HostWeights {
  const layout = architectureOf(loaded.config).layout;
  const out: HostWeights = new Map(loaded.weights);
  for (const [name, w] of deq) {
    const t = loaded.weights.get(name)!;
    const [rows, cols] = layout === 'conv1d' && name !== 'lm_head.weight' ? [t.shape[1], t.shape[0]] : [t.shape[0], t.shape[1]];
    let data = w;
    if (layout === 'conv1d' && name !== 'lm_head.weight') {
      data = new Float32Array(w.length);
      for (let r = 0; r < rows; r++) for (let k = 0; k < cols; k++) data[k * rows + r] = w[r * cols + k];
    }
    out.set(name, { shape: t.shape, data });
  }
  return out;
}

describe.each([
  { kind: 'gpt2' as const, quant: 'q8' as const },
  { kind: 'llama' as const, quant: 'q4' as const },
  { kind: 'qwen2' as const, quant: 'q8' as const },
])('$kind: $quant variant', ({ kind, quant }) => {
  it('computes with exactly its dequantized weights, and stays near the float32 model', async () => {
    const loaded = await loadModel(filesSource(makeTinyModel(kind)));
    const deq = new Map<string, Float32Array>();
    const graph = buildDecoderGraph(loaded.config, loaded.weights, { quant, onDequantized: (n, w) => deq.set(n, w) });
    expect(deq.size).toBe(linearModules(loaded.config).length + (loaded.config.tieWordEmbeddings ? 0 : 1));
    const f32Bytes = buildDecoderGraph(loaded.config, loaded.weights).weightBytes();
    expect(graph.weightBytes()).toBeLessThan(f32Bytes);
    const lm = await OnnxCausalLM.create({ model: graph.encode().model }, loaded.config);
    try {
      const batch = batchFor(loaded.config.vocabSize);
      const V = loaded.config.vocabSize;
      const ours = kept(await lm.logits(batch.inputIds, batch.attentionMask), batch.attentionMask, V);
      const want = kept(referenceForward(loaded.config, withDequantized(loaded, deq), batch), batch.attentionMask, V);
      expectClose(`${kind} ${quant} vs reference on dequantized weights`, ours, want, { atol: 1e-3, rtol: 1e-3 });
      const full = kept(referenceForward(loaded.config, loaded.weights, batch), batch.attentionMask, V);
      const moved = ours.reduce((m, v, i) => Math.max(m, Math.abs(v - full[i])), 0);
      const range = Math.max(...full) - Math.min(...full);
      // Quantization moves the logits (so the comparison above is not with the float model), but not far.
      expect(moved).toBeGreaterThan(1e-5);
      expect(moved / range).toBeLessThan(quant === 'q8' ? 0.02 : 0.2);
    } finally {
      await lm.release();
    }
  });
});

describe('ONNX export: sizes, variants and refusals', () => {
  const llama = () => filesSource(makeTinyModel('llama'));
  let lora: Map<string, Uint8Array>;
  /** A protobuf limit that the tiny Llama's weights exceed (by about half of them). */
  let limit: number;
  beforeAll(async () => {
    const loaded = await loadModel(llama());
    lora = randomLoraFiles(loaded.config, loaded.weights, { targets: ['q_proj', 'v_proj'], r: 2, alpha: 4, seed: 5 }).files;
    limit = 1_000_000 + buildDecoderGraph(loaded.config, loaded.weights).weightBytes() / 2;
  });

  it('writes the quantized variants under transformers.js file names', async () => {
    const out = await exportOnnx(llama(), lora, { quants: ['q8', 'q4'] });
    const onnxFiles = [...out.files.keys()].filter((n) => n.startsWith('onnx/')).sort();
    expect(onnxFiles).toEqual(['onnx/decoder_model_merged.onnx', 'onnx/decoder_model_merged_quantized.onnx', 'onnx/model.onnx', 'onnx/model_q4.onnx', 'onnx/model_quantized.onnx']);
    expect(out.files.get('onnx/model_q4.onnx')!.length).toBeLessThan(out.files.get('onnx/model_quantized.onnx')!.length);
  });

  it('puts the weights in external data over the protobuf limit, and the model still runs', async () => {
    const out = await exportOnnx(llama(), lora, { limitBytes: limit, layout: 'both' });
    expect(out.main).toEqual({ model: 'onnx/model.onnx', externalData: 'onnx/model.onnx_data' });
    expect(out.files.has('onnx/decoder_model_merged.onnx')).toBe(false);
    expect(out.warnings.join('\n')).toMatch(/decoder_model_merged\.onnx is not written: @xenova\/transformers 2 cannot load .* external data/);
    expect(JSON.parse(new TextDecoder().decode(out.files.get('config.json')!))['transformers.js_config']).toEqual({ use_external_data_format: true });
    expect(out.files.get('onnx/model.onnx')!.length).toBeLessThan(out.files.get('onnx/model.onnx_data')!.length / 4);

    const inline = await exportOnnx(llama(), lora, { layout: 'v3' });
    const loaded = await loadModel(llama());
    const a = await OnnxCausalLM.create({ model: inline.files.get('onnx/model.onnx')! }, loaded.config);
    const b = await OnnxCausalLM.create({ model: out.files.get('onnx/model.onnx')!, externalData: { path: 'model.onnx_data', data: out.files.get('onnx/model.onnx_data')! } }, loaded.config);
    const batch = batchFor(loaded.config.vocabSize);
    expect(Buffer.from((await b.logits(batch.inputIds, batch.attentionMask)).buffer).equals(Buffer.from((await a.logits(batch.inputIds, batch.attentionMask)).buffer))).toBe(true);
    await Promise.all([a.release(), b.release()]);
  });

  it('refuses a model over the limit when external data is off, naming the file', async () => {
    await expect(exportOnnx(llama(), lora, { limitBytes: limit, externalData: 'never' })).rejects.toThrow(OnnxTooLargeError);
    await expect(exportOnnx(llama(), lora, { limitBytes: limit, externalData: 'never' })).rejects.toThrow(/^onnx\/model\.onnx: the weights take .* over protobuf's .* limit for one ONNX file; export with external data/);
  });

  it('refuses q4 in the xenova 2 layout, and a method that cannot be merged', async () => {
    await expect(exportOnnx(llama(), lora, { layout: 'v2', quants: ['q4'] })).rejects.toThrow('@xenova/transformers 2 (layout v2) has no q4 file');
    const prompt = new Map([['adapter_config.json', new TextEncoder().encode(JSON.stringify({ peft_type: 'PROMPT_TUNING', num_virtual_tokens: 4 }))]]);
    await expect(exportOnnx(llama(), prompt)).rejects.toThrow(MergeRefusedError);
  });
});
