import { describe, expect, it } from 'vitest';
import { parseModelConfig } from '../src/model/config';
import { canonicalTensorName, expectedTensors } from '../src/model/weight-names';
import { parseSafetensors, tensorToFloat32 } from '../src/model-io/safetensors';
import { bytesToUnicode, makeTinyModel, makeTinyTokenizer, TINY_MODEL_KINDS } from './fixtures/tiny-models';

const FILES = ['config.json', 'generation_config.json', 'model.safetensors', 'tokenizer.json', 'tokenizer_config.json'];

function json(files: Map<string, Uint8Array>, name: string): Record<string, unknown> {
  return JSON.parse(new TextDecoder().decode(files.get(name)!));
}

function stats(x: Float32Array): { mean: number; std: number; min: number; max: number } {
  let s = 0;
  let s2 = 0;
  let min = Infinity;
  let max = -Infinity;
  for (const v of x) {
    s += v;
    s2 += v * v;
    min = Math.min(min, v);
    max = Math.max(max, v);
  }
  const mean = s / x.length;
  return { mean, std: Math.sqrt(s2 / x.length - mean * mean), min, max };
}

describe.each(TINY_MODEL_KINDS)('tiny %s', (kind) => {
  const files = makeTinyModel(kind);

  it('has the Hugging Face files, a config that parses, and the tokenizer size as vocab_size', () => {
    expect([...files.keys()].sort()).toEqual(FILES);
    const raw = json(files, 'config.json');
    const c = parseModelConfig(raw);
    expect(c.modelType).toBe(kind);
    expect(c.vocabSize).toBe(makeTinyTokenizer(kind).vocabSize);
    expect(c.vocabSize).toBeGreaterThan(280);
    expect(c.vocabSize).toBeLessThan(320);
    expect(c.hiddenSize).toBe(32);
    expect(c.numLayers).toBe(2);
    expect(c.numHeads).toBe(4);
    expect(c.maxPositions).toBe(64);
    if (kind === 'gpt2') {
      expect(c.intermediateSize).toBe(128);
      expect(c.tieWordEmbeddings).toBe(true);
    } else {
      expect(c.numKvHeads).toBe(2);
      expect(c.headDim).toBe(8);
      expect(c.intermediateSize).toBe(48);
      expect(c.ropeTheta).toBe(10000);
      expect(c.tieWordEmbeddings).toBe(kind === 'qwen2');
      expect(c.qkvBias).toBe(kind === 'qwen2');
      expect(c.oBias).toBe(false);
    }
    if (kind === 'llama') expect(c.normEps).toBe(1e-5);
    const gen = json(files, 'generation_config.json');
    expect(gen.eos_token_id === raw.eos_token_id || (Array.isArray(gen.eos_token_id) && gen.eos_token_id.includes(raw.eos_token_id))).toBe(true);
    expect(gen).toHaveProperty('do_sample');
    expect(json(files, 'tokenizer_config.json').eos_token).toBe('<|endoftext|>');
  });

  it('stores exactly the expected tensors after canonicalization, under the official key names', () => {
    const c = parseModelConfig(json(files, 'config.json'));
    const st = parseSafetensors(files.get('model.safetensors')!, 'model.safetensors');
    expect(st.metadata).toEqual({ format: 'pt' });
    const canonical = new Map<string, number[]>();
    for (const [key, info] of st.tensors) {
      if (kind === 'gpt2') expect(key.startsWith('transformer.')).toBe(false);
      const name = canonicalTensorName(c, key);
      if (name === null) {
        expect(key).toMatch(/^h\.\d\.attn\.bias$/);
        continue;
      }
      canonical.set(name, info.shape);
      expect(info.dtype).toBe('F32');
    }
    const expected = expectedTensors(c);
    expect([...canonical.keys()].sort()).toEqual(expected.map((t) => t.name).sort());
    for (const t of expected) expect(canonical.get(t.name), t.name).toEqual(t.shape);
  });

  it('draws matrices with std ~0.2, norm scales ~1±0.1 and small biases', () => {
    const c = parseModelConfig(json(files, 'config.json'));
    const st = parseSafetensors(files.get('model.safetensors')!, 'model.safetensors');
    for (const t of expectedTensors(c)) {
      const key = kind === 'gpt2' ? t.name.replace(/^transformer\./, '') : t.name;
      const s = stats(tensorToFloat32(st, key));
      if (t.shape.length === 2) {
        expect(Math.abs(s.std - 0.2), t.name).toBeLessThan(0.05);
        expect(Math.abs(s.mean), t.name).toBeLessThan(0.05);
      } else if (t.name.endsWith('.weight')) {
        expect(s.min, t.name).toBeGreaterThanOrEqual(0.9);
        expect(s.max, t.name).toBeLessThanOrEqual(1.1);
      } else {
        expect(s.std, t.name).toBeLessThan(0.05);
      }
    }
  });

  it('is deterministic in the seed', () => {
    const again = makeTinyModel(kind);
    const same = (a: Uint8Array | undefined, b: Uint8Array | undefined) => Buffer.from(a!).equals(Buffer.from(b!));
    for (const f of FILES) expect(same(again.get(f), files.get(f)), f).toBe(true);
    const other = makeTinyModel(kind, { seed: 1 });
    expect(same(other.get('model.safetensors'), files.get('model.safetensors'))).toBe(false);
    expect(same(other.get('config.json'), files.get('config.json'))).toBe(true);
  });

  it.each(['F16', 'BF16'] as const)('stores %s when asked', (dtype) => {
    const m = makeTinyModel(kind, { dtype });
    const st = parseSafetensors(m.get('model.safetensors')!, 'model.safetensors');
    expect([...st.tensors.values()].every((t) => t.dtype === dtype)).toBe(true);
    expect(json(m, 'config.json').torch_dtype).toBe(dtype === 'F16' ? 'float16' : 'bfloat16');
  });
});

describe('tiny tokenizer', () => {
  it('uses GPT-2 byte tokens as ids 0..255 and <|endoftext|> as a special added token', () => {
    const { chars } = bytesToUnicode();
    expect(chars[0]).toBe('!');
    expect(chars[188]).toBe('Ā'); // byte 0
    const t = makeTinyTokenizer('gpt2');
    const model = t.tokenizerJson.model as { vocab: Record<string, number>; merges: string[] };
    expect(model.vocab['Ġ']).toBe(chars.indexOf('Ġ'));
    expect(new Set(Object.values(model.vocab)).size).toBe(t.vocabSize);
    expect(Math.max(...Object.values(model.vocab))).toBe(t.vocabSize - 1);
    expect(model.merges.length).toBeGreaterThanOrEqual(40);
    const added = t.tokenizerJson.added_tokens as { content: string; id: number; special: boolean }[];
    expect(added).toEqual([expect.objectContaining({ content: '<|endoftext|>', id: t.eosTokenId, special: true })]);
  });
});
