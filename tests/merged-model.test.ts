/**
 * The merged export (src/deploy/merged-model.ts): on the tiny GPT-2 (Conv1D, fused qkv, trained biases), Llama
 * (grouped-query attention, rsLoRA), Qwen2 (qkv biases, tied embeddings) and the embedded austen-2m, the merged
 * folder loads in the studio's loader and its logits without an adapter equal those of the base model with the
 * adapter, on the float64 reference; F16 and BF16 write the merged values rounded once; methods that cannot be
 * merged and adapters of another model are refused naming the file.
 */
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { exportMergedModel, MergeRefusedError, TOKENIZER_FILES } from '../src/deploy/merged-model';
import { loadModel, type LoadedModel } from '../src/model-io/load-model';
import { BrowserFilesSource, type ModelSource } from '../src/model-io/model-source';
import { NodeFolderSource } from '../src/model-io/node-folder-source';
import { bf16BitsToF32, f16BitsToF32, f32ToBf16Bits, f32ToF16Bits, parseSafetensors, tensorToFloat32 } from '../src/model-io/safetensors';
import { referenceForward } from '../src/model/reference/reference-model';
import { linearModules } from '../src/model/weight-names';
import { makeTinyModel } from './fixtures/tiny-models';
import { expectClose } from './helpers/compare';
import { randomLoraFiles } from './helpers/random-lora-files';

function filesSource(files: ReadonlyMap<string, Uint8Array>): ModelSource {
  return new BrowserFilesSource([...files].map(([n, b]) => new File([b as Uint8Array<ArrayBuffer>], n)));
}

const AUSTEN = join(__dirname, '..', 'public', 'models', 'austen-2m');

interface Case {
  name: string;
  source: () => ModelSource;
  bias: 'none' | 'lora_only';
  rslora: boolean;
}
const CASES: Case[] = [
  { name: 'gpt2', source: () => filesSource(makeTinyModel('gpt2')), bias: 'lora_only', rslora: false },
  { name: 'llama', source: () => filesSource(makeTinyModel('llama')), bias: 'none', rslora: true },
  { name: 'qwen2', source: () => filesSource(makeTinyModel('qwen2')), bias: 'lora_only', rslora: false },
  { name: 'austen-2m', source: () => new NodeFolderSource(AUSTEN), bias: 'none', rslora: false },
];

describe.each(CASES)('$name: merged export', (c) => {
  let loaded: LoadedModel;
  beforeAll(async () => {
    loaded = await loadModel(c.source());
  });

  it('loads in the studio, and without the adapter gives the logits of the base model with it', async () => {
    const { config } = loaded;
    const targets = [...new Set(linearModules(config).map((m) => m.shortName))];
    const lora = randomLoraFiles(config, loaded.weights, { targets, r: 4, alpha: 8, rslora: c.rslora, bias: c.bias, seed: 7 });
    const merged = await exportMergedModel(c.source(), lora.files);
    expect(merged.method).toBe('LoRA');
    const names = [...merged.files.keys()];
    expect(names).toEqual(expect.arrayContaining(['config.json', 'generation_config.json', 'model.safetensors', 'tokenizer.json']));
    for (const name of names) expect(['config.json', 'generation_config.json', 'model.safetensors', ...TOKENIZER_FILES]).toContain(name);

    const reloaded = await loadModel(filesSource(merged.files));
    expect(reloaded.config).toEqual(config);
    expect(reloaded.rawConfig.torch_dtype).toBe('float32');
    expect(reloaded.tokenizerJson).toEqual(loaded.tokenizerJson);
    expect([...reloaded.weights.keys()].sort()).toEqual([...loaded.weights.keys()].sort());
    const st = parseSafetensors(merged.files.get('model.safetensors')!, 'model.safetensors');
    expect(st.metadata).toEqual({ format: 'pt' });

    const V = config.vocabSize;
    const batch = { inputIds: [[1, 5, 9, 2, 17, 4, 11], [3, 8, 6, 12, 0, 0, 0]], attentionMask: [[1, 1, 1, 1, 1, 1, 1], [1, 1, 1, 1, 0, 0, 0]] };
    batch.inputIds = batch.inputIds.map((row) => row.map((id) => id % V));
    const adapted = referenceForward(config, lora.weightsWithBiases, batch, lora.reference);
    const base = referenceForward(config, loaded.weights, batch);
    const fromMerged = referenceForward(config, reloaded.weights, batch);
    expectClose(`${c.name} merged vs adapted logits`, fromMerged, adapted, { atol: 1e-4, rtol: 1e-4 });
    // The adapter changes the logits far beyond that tolerance, so the comparison above has teeth.
    const moved = adapted.reduce((m, v, i) => Math.max(m, Math.abs(v - base[i])), 0);
    expect(moved).toBeGreaterThan(1e-2);
  });

});

describe.each(CASES.filter((c) => c.name !== 'austen-2m'))('$name: merged export in F16 and BF16', (c) => {
  it('writes the merged F32 values rounded once, with torch_dtype to match', async () => {
    const loaded = await loadModel(c.source());
    const targets = [linearModules(loaded.config)[0].shortName];
    const lora = randomLoraFiles(loaded.config, loaded.weights, { targets, r: 2, alpha: 4, seed: 3 });
    const f32 = parseSafetensors((await exportMergedModel(c.source(), lora.files)).files.get('model.safetensors')!, 'f32');
    for (const [dtype, torch, round] of [
      ['F16', 'float16', (x: number) => f16BitsToF32(f32ToF16Bits(x))],
      ['BF16', 'bfloat16', (x: number) => bf16BitsToF32(f32ToBf16Bits(x))],
    ] as const) {
      const out = await exportMergedModel(c.source(), lora.files, { dtype });
      expect(JSON.parse(new TextDecoder().decode(out.files.get('config.json')!)).torch_dtype).toBe(torch);
      const st = parseSafetensors(out.files.get('model.safetensors')!, dtype);
      for (const [name, t] of st.tensors) {
        expect(t.dtype).toBe(dtype);
        const want = tensorToFloat32(f32, name).map(round);
        expect(tensorToFloat32(st, name), `${dtype} ${name}`).toEqual(want);
      }
    }
  });
});

describe('merged export refusals', () => {
  const gpt2 = () => filesSource(makeTinyModel('gpt2'));

  it.each([
    ['PROMPT_TUNING', 'Prompt tuning', 'virtual tokens'],
    ['P_TUNING', 'P-tuning', 'virtual tokens'],
    ['PREFIX_TUNING', 'Prefix tuning', 'keys and values'],
  ])('refuses a %s adapter, saying why', async (peftType, label, what) => {
    const files = new Map([['adapter_config.json', new TextEncoder().encode(JSON.stringify({ peft_type: peftType, num_virtual_tokens: 4 }))]]);
    const error = await exportMergedModel(gpt2(), files).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(MergeRefusedError);
    expect((error as Error).message).toMatch(new RegExp(`^adapter_config\\.json: a ${label} adapter \\(peft_type ${peftType}\\) cannot be merged into the model: .*${what}`));
  });

  it('refuses a LoRA adapter of another model, naming the file and the tensor', async () => {
    const austen = await loadModel(new NodeFolderSource(AUSTEN));
    const lora = randomLoraFiles(austen.config, austen.weights, { targets: ['q_proj'], r: 2, alpha: 4, seed: 1 });
    const error = await exportMergedModel(filesSource(makeTinyModel('llama')), lora.files).catch((e: unknown) => e);
    expect((error as Error).message).toMatch(/^adapter_model\.safetensors: .*model\.layers\.0\.self_attn\.q_proj\.lora_A\.weight/);
  });

  it('refuses an unknown dtype before reading anything', async () => {
    await expect(exportMergedModel(gpt2(), new Map(), { dtype: 'F8' as never })).rejects.toThrow('dtype "F8" is not supported for a merged export; expected one of F32, F16, BF16');
  });
});

