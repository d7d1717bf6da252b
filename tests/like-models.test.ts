/**
 * Models with the shapes of real checkpoints (makeLikeModel in tests/fixtures/tiny-models.ts, and
 * `make-tiny-model --like`): the preset's config.json with the layer count asked for, exactly the tensors it
 * implies with the init's scale, a tokenizer as large as the real one with its special tokens at the config's ids,
 * and all of it loadable by the studio's loader and tokenizer.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadModel } from '../src/model-io/load-model';
import { BrowserFilesSource } from '../src/model-io/model-source';
import { NodeFolderSource } from '../src/model-io/node-folder-source';
import { parseSafetensors, tensorToFloat32 } from '../src/model-io/safetensors';
import { loadTokenizer } from '../src/model-io/tokenizer';
import { parseModelConfig } from '../src/model/config';
import { MODEL_PRESETS } from '../src/model/presets';
import { expectedTensors } from '../src/model/weight-names';
import { makeLikeModel, makeLikeTokenizer } from './fixtures/tiny-models';

const FILES = ['config.json', 'generation_config.json', 'model.safetensors', 'tokenizer.json', 'tokenizer_config.json'];
const ROOT = join(__dirname, '..');

function json(files: Map<string, Uint8Array>, name: string): Record<string, unknown> {
  return JSON.parse(new TextDecoder().decode(files.get(name)!));
}

function asFiles(files: Map<string, Uint8Array<ArrayBuffer>>): BrowserFilesSource {
  return new BrowserFilesSource([...files].map(([name, bytes]) => new File([bytes], name)));
}

function std(x: Float32Array): number {
  let s = 0;
  let s2 = 0;
  for (const v of x) {
    s += v;
    s2 += v * v;
  }
  const mean = s / x.length;
  return Math.sqrt(s2 / x.length - mean * mean);
}

describe('like smollm2-135m, 1 layer', () => {
  const files = makeLikeModel('smollm2-135m', { layers: 1, seed: 3 });

  it("writes the tiny models' files, with the real config.json but for the layer count and the stored dtype", () => {
    expect([...files.keys()].sort()).toEqual(FILES);
    expect(json(files, 'config.json')).toEqual({ ...MODEL_PRESETS['smollm2-135m'].config, num_hidden_layers: 1, torch_dtype: 'float32' });
    expect(json(files, 'generation_config.json')).toMatchObject({ bos_token_id: 0, eos_token_id: 0 });
  });

  it('stores exactly the tensors the config implies, at the init scale: std initializer_range, norm scales 1±0.1', () => {
    const c = parseModelConfig(json(files, 'config.json'));
    const st = parseSafetensors(files.get('model.safetensors')!, 'model.safetensors');
    const expected = expectedTensors(c);
    expect([...st.tensors.keys()].sort()).toEqual(expected.map((t) => t.name).sort());
    expect(expected.map((t) => t.name)).not.toContain('lm_head.weight'); // tied
    for (const t of expected) {
      expect(st.tensors.get(t.name)!.shape, t.name).toEqual(t.shape);
      expect(st.tensors.get(t.name)!.dtype, t.name).toBe('F32');
      const x = tensorToFloat32(st, t.name);
      if (t.shape.length === 2) {
        expect(std(x) / 0.041666666666666664, t.name).toBeCloseTo(1, 1);
      } else {
        expect(Math.min(...x), t.name).toBeGreaterThanOrEqual(0.9);
        expect(Math.max(...x), t.name).toBeLessThanOrEqual(1.1);
      }
    }
  });

  it('is deterministic in the seed', () => {
    const same = (a: Uint8Array | undefined, b: Uint8Array | undefined) => Buffer.from(a!).equals(Buffer.from(b!));
    const again = makeLikeModel('smollm2-135m', { layers: 1, seed: 3 });
    for (const f of FILES) expect(same(again.get(f), files.get(f)), f).toBe(true);
    const other = makeLikeModel('smollm2-135m', { layers: 1, seed: 4 });
    expect(same(other.get('model.safetensors'), files.get('model.safetensors'))).toBe(false);
    expect(same(other.get('tokenizer.json'), files.get('tokenizer.json'))).toBe(true);
  });

  it('loads, with a tokenizer of 49152 ids whose <|endoftext|> is config.json eos and bos id 0', async () => {
    const m = await loadModel(asFiles(files));
    expect(m.config.vocabSize).toBe(49152);
    expect(m.weights.size).toBe(expectedTensors(m.config).length);
    const tok = loadTokenizer(m.tokenizerJson, m.tokenizerConfig);
    expect(tok.vocabSize).toBe(m.config.vocabSize);
    expect(tok.eosTokenId).toBe(m.config.eosTokenIds[0]);
    expect(tok.bosTokenId).toBe(m.config.bosTokenId);
    expect(tok.encode('<|im_start|>user')[0]).toBe(1);
    const text = 'The quick brown fox, 42 times: "héllo"!';
    const ids = tok.encode(text);
    expect(ids.every((id) => id >= 17 && id < 17 + 256 + 40)).toBe(true); // byte tokens and merges, after the 17 specials
    expect(tok.decode(ids)).toBe(text);
    expect(tok.decode([49151])).toBe('[unused49151]');
  });
});

describe('like qwen2.5-0.5b, 1 layer in BF16', () => {
  const files = makeLikeModel('qwen2.5-0.5b', { layers: 1, dtype: 'BF16' });

  it('loads; the tokenizer is smaller than vocab_size, as the real one (151665 < 151936), with eos at 151643', async () => {
    expect(json(files, 'config.json')).toEqual({ ...MODEL_PRESETS['qwen2.5-0.5b'].config, num_hidden_layers: 1, torch_dtype: 'bfloat16' });
    const m = await loadModel(asFiles(files));
    expect(m.config.qkvBias).toBe(true);
    expect(m.weights.get('model.layers.0.self_attn.k_proj.bias')!.shape).toEqual([128]);
    const tok = loadTokenizer(m.tokenizerJson, m.tokenizerConfig);
    expect(tok.vocabSize).toBe(151665);
    expect(m.config.vocabSize).toBe(151936);
    expect(tok.eosTokenId).toBe(151643);
    expect(m.config.eosTokenIds).toEqual([151643]);
    expect(tok.padTokenId).toBe(151643);
    expect(tok.bosTokenId).toBeNull();
    expect(tok.encode('<|im_start|>user\nhi<|im_end|>', { addSpecialTokens: false })).toEqual([151644, ...tok.encode('user\nhi'), 151645]);
    expect(tok.applyChatTemplate!([{ role: 'user', content: 'hi' }], { addGenerationPrompt: true })).toBe('<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n');
    // The added tokens of the real file, only in added_tokens.
    const added = (m.tokenizerJson as { added_tokens: { id: number; content: string }[] }).added_tokens;
    expect(added.map((a) => a.id)).toEqual(Array.from({ length: 22 }, (_, i) => 151643 + i));
    expect(added.at(-1)!.content).toBe('<|file_sep|>');
  });
});

describe('like tinyllama-1.1b', () => {
  it('has a 32000-id tokenizer that starts with <unk> <s> </s> and prepends <s>', () => {
    const t = makeLikeTokenizer('tinyllama-1.1b');
    expect(t.vocabSize).toBe(32000);
    expect(t.specialIds).toEqual({ '<unk>': 0, '<s>': 1, '</s>': 2 });
    const tok = loadTokenizer(t.tokenizerJson, t.tokenizerConfig);
    expect([tok.bosTokenId, tok.eosTokenId]).toEqual([1, 2]);
    expect(tok.encode('hi')[0]).toBe(1);
    expect(tok.applyChatTemplate!([{ role: 'user', content: 'hi' }], { addGenerationPrompt: true })).toBe('<|user|>\nhi</s>\n<|assistant|>\n');
  });

  it('defaults to the real layer count, and refuses a checkpoint past 4 GiB before drawing a weight', () => {
    expect(() => makeLikeModel('tinyllama-1.1b')).toThrow(/tinyllama-1\.1b with 22 layers in F32 is 4\.10 GiB, more than one model\.safetensors can hold here/);
    expect(() => makeLikeModel('smollm2-135m', { layers: 0 })).toThrow(/layers must be an integer ≥ 1, got 0/);
    expect(() => makeLikeModel('gpt-5' as never)).toThrow(/unknown preset "gpt-5"/);
  });
});

describe('make-tiny-model --like', () => {
  const script = (args: string[]) => {
    const r = spawnSync('npm', ['run', '--silent', 'make-tiny-model', '--', ...args], { cwd: ROOT, encoding: 'utf8', timeout: 60_000 });
    return { code: r.status, stderr: r.stderr };
  };

  it('writes a folder the loader reads, with --layers in config.json', async () => {
    const dir = join(mkdtempSync(join(tmpdir(), 'like-model-')), 'smol');
    const r = script(['--like', 'smollm2-135m', '--layers', '1', '--dtype', 'BF16', '--out', dir]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/wrote a model like smollm2-135m with 1 layer to /);
    const m = await loadModel(new NodeFolderSource(dir));
    expect([m.config.numLayers, m.config.vocabSize, m.config.numKvHeads]).toEqual([1, 49152, 3]);
    expect(m.rawConfig.torch_dtype).toBe('bfloat16');
  }, 60_000);

  it('refuses --like with --arch, --layers without --like, and an unknown preset, in one line each', () => {
    const both = script(['--like', 'smollm2-135m', '--arch', 'llama', '--out', '/tmp/never']);
    expect(both.code).toBe(1);
    expect(both.stderr.trim()).toBe('make-tiny-model: --arch and --like are alternatives: --arch makes a tiny model, --like one with the shapes of a real checkpoint; give one');
    const layers = script(['--arch', 'llama', '--layers', '3', '--out', '/tmp/never']);
    expect(layers.code).toBe(1);
    expect(layers.stderr.trim()).toBe('make-tiny-model: --layers goes with --like (the tiny models of --arch have 2 layers)');
    const unknown = script(['--like', 'gpt-5', '--out', '/tmp/never']);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr.trim()).toBe('make-tiny-model: --like gpt-5: expected one of smollm2-135m, smollm2-360m, qwen2.5-0.5b, tinyllama-1.1b');
  }, 60_000);
});
