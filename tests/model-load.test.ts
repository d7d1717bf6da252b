import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ConfigError } from '../src/model/config';
import { expectedTensors } from '../src/model/weight-names';
import { loadModel, ModelLoadError, type LoadProgress } from '../src/model-io/load-model';
import { BrowserFilesSource, ModelSourceError } from '../src/model-io/model-source';
import { NodeFolderSource } from '../src/model-io/node-folder-source';
import {
  bf16BitsToF32,
  f16BitsToF32,
  f32ToBf16Bits,
  f32ToF16Bits,
  parseSafetensors,
  SafetensorsError,
  tensorToFloat32,
  writeSafetensors,
  type SafetensorsDtype,
} from '../src/model-io/safetensors';
import { makeTinyModel, shardCheckpoint, TINY_MODEL_KINDS } from './fixtures/tiny-models';

type Files = Map<string, Uint8Array<ArrayBuffer>>;

const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

function toFolder(files: Files): NodeFolderSource {
  const dir = mkdtempSync(join(tmpdir(), 'peft-studio-model-'));
  dirs.push(dir);
  for (const [name, bytes] of files) writeFileSync(join(dir, name), bytes);
  return new NodeFolderSource(dir);
}

function toBrowserFiles(files: Files, prefix = 'my-model/'): BrowserFilesSource {
  return new BrowserFilesSource([...files].map(([name, bytes]) => new File([bytes], prefix + name)));
}

/** The model with its checkpoint's tensors rewritten by `edit` (return null to drop a tensor). */
function editCheckpoint(
  files: Files,
  edit: (name: string, t: { dtype: SafetensorsDtype; shape: number[]; data: Float32Array }) => { name?: string; shape?: number[]; data?: Float32Array } | null,
  extra: { name: string; dtype: SafetensorsDtype; shape: number[]; data: Float32Array }[] = [],
): Files {
  const st = parseSafetensors(files.get('model.safetensors')!, 'model.safetensors');
  const tensors = [];
  for (const [name, info] of st.tensors) {
    const t = { dtype: info.dtype as SafetensorsDtype, shape: info.shape, data: tensorToFloat32(st, name) };
    const e = edit(name, t);
    if (e) tensors.push({ name: e.name ?? name, dtype: t.dtype, shape: e.shape ?? t.shape, data: e.data ?? t.data });
  }
  const out = new Map(files);
  out.set('model.safetensors', writeSafetensors([...tensors, ...extra], { format: 'pt' }));
  return out;
}

function editJson(files: Files, file: string, edit: (j: Record<string, unknown>) => void): Files {
  const j = JSON.parse(new TextDecoder().decode(files.get(file)!));
  edit(j);
  const out = new Map(files);
  out.set(file, new TextEncoder().encode(JSON.stringify(j)));
  return out;
}

async function loadError(p: Promise<unknown>): Promise<Error> {
  try {
    await p;
  } catch (e) {
    return e as Error;
  }
  throw new Error('expected the load to fail');
}

describe.each(TINY_MODEL_KINDS)('tiny %s', (kind) => {
  const files = makeTinyModel(kind, { seed: 7 });

  it('loads from a folder and from browser files to the same weights, with every expected tensor', async () => {
    const progress: LoadProgress[] = [];
    const a = await loadModel(toFolder(files), { onProgress: (p) => progress.push(p) });
    const b = await loadModel(toBrowserFiles(files));
    expect(a.config.modelType).toBe(kind);
    expect(a.source).toContain('folder');
    expect(b.source).toContain('my-model');
    const expected = expectedTensors(a.config);
    expect([...a.weights.keys()]).toEqual(expected.map((t) => t.name));
    for (const t of expected) {
      const w = a.weights.get(t.name)!;
      expect(w.shape, t.name).toEqual(t.shape);
      expect(w.data.length).toBe(t.shape.reduce((x, y) => x * y, 1));
      expect(b.weights.get(t.name)!.data).toEqual(w.data);
    }
    // Old GPT-2 checkpoints hold the causal-mask buffers; they are skipped, and listed.
    expect(a.ignoredTensors).toEqual(kind === 'gpt2' ? ['h.0.attn.bias', 'h.1.attn.bias'] : []);
    expect(a.checkpointFiles).toEqual(['model.safetensors']);
    expect(a.tokenizerJson).toMatchObject({ model: { type: 'BPE' } });
    expect(a.tokenizerConfig).toHaveProperty('eos_token', '<|endoftext|>');
    expect(a.generationConfig).toHaveProperty('eos_token_id');
    expect(a.rawConfig.model_type).toBe(kind);

    // Values are the stored ones (GPT-2 keys are stored without "transformer.").
    const st = parseSafetensors(files.get('model.safetensors')!, 'model.safetensors');
    const [canon, stored] = kind === 'gpt2' ? ['transformer.h.1.mlp.c_fc.weight', 'h.1.mlp.c_fc.weight'] : ['model.layers.1.mlp.up_proj.weight', 'model.layers.1.mlp.up_proj.weight'];
    expect(a.weights.get(canon)!.data).toEqual(tensorToFloat32(st, stored));

    // Progress: phases in order, byte counts monotone and ending at the file size.
    const phases = [...new Set(progress.map((p) => p.phase))];
    expect(phases).toEqual(['config', 'checkpoint', 'tokenizer', 'weights', 'validate', 'done']);
    const bytes = progress.filter((p) => p.phase === 'weights' && p.loaded !== undefined).map((p) => p.loaded!);
    for (let i = 1; i < bytes.length; i++) expect(bytes[i]).toBeGreaterThanOrEqual(bytes[i - 1]);
    expect(bytes[bytes.length - 1]).toBe(files.get('model.safetensors')!.byteLength);
  });

  it('loads F16 and BF16 checkpoints as the rounded f32 values', async () => {
    const ref = await loadModel(toBrowserFiles(files));
    for (const dtype of ['F16', 'BF16'] as const) {
      const m = await loadModel(toBrowserFiles(makeTinyModel(kind, { seed: 7, dtype })));
      for (const [name, w] of ref.weights) {
        const round = dtype === 'F16' ? (x: number) => f16BitsToF32(f32ToF16Bits(x)) : (x: number) => bf16BitsToF32(f32ToBf16Bits(x));
        expect(m.weights.get(name)!.data, `${dtype} ${name}`).toEqual(w.data.map(round));
      }
    }
  });

  it('loads a sharded checkpoint to identical weights', async () => {
    const sharded = shardCheckpoint(files, 2);
    expect(sharded.has('model.safetensors')).toBe(false);
    const single = await loadModel(toBrowserFiles(files));
    const fromFolder = await loadModel(toFolder(sharded));
    expect(fromFolder.checkpointFiles).toEqual(['model-00001-of-00002.safetensors', 'model-00002-of-00002.safetensors']);
    expect([...fromFolder.weights.keys()]).toEqual([...single.weights.keys()]);
    for (const [name, w] of single.weights) expect(fromFolder.weights.get(name)!.data, name).toEqual(w.data);
  });
});

describe('loadModel checks', () => {
  const llama = makeTinyModel('llama');
  const gpt2 = makeTinyModel('gpt2');

  it('skips buffers, listing them in ignoredTensors, and refuses a weight the config does not imply', async () => {
    const extra = { name: 'model.layers.0.self_attn.extra.weight', dtype: 'F32' as const, shape: [2], data: new Float32Array(2) };
    const inv = { name: 'model.layers.0.self_attn.rotary_emb.inv_freq', dtype: 'F32' as const, shape: [4], data: new Float32Array(4) };
    const m = await loadModel(toBrowserFiles(editCheckpoint(llama, () => ({}), [inv])));
    expect(m.ignoredTensors).toEqual(['model.layers.0.self_attn.rotary_emb.inv_freq']);
    expect(m.weights.has('model.layers.0.self_attn.rotary_emb.inv_freq')).toBe(false);
    const e = await loadError(loadModel(toBrowserFiles(editCheckpoint(llama, () => ({}), [extra, inv]))));
    expect(e).toBeInstanceOf(ModelLoadError);
    expect(e.message).toContain('model.safetensors: tensor "model.layers.0.self_attn.extra.weight" is not a weight');
    // GPT-2: the attention-mask buffers of the checkpoint are skipped.
    const g = await loadModel(toBrowserFiles(gpt2));
    expect(parseSafetensors(gpt2.get('model.safetensors')!, 'x').tensors.has('h.0.attn.bias')).toBe(true);
    expect(g.ignoredTensors).toEqual(['h.0.attn.bias', 'h.1.attn.bias']);
  });

  it('reads the "transformer."-prefixed GPT-2 layout and a tied lm_head copy', async () => {
    const prefixed = editCheckpoint(gpt2, (name) => ({ name: `transformer.${name}` }), [
      { name: 'lm_head.weight', dtype: 'F32', shape: [297, 32], data: new Float32Array(297 * 32) },
    ]);
    const a = await loadModel(toBrowserFiles(gpt2));
    const b = await loadModel(toBrowserFiles(prefixed));
    for (const [name, w] of a.weights) expect(b.weights.get(name)!.data).toEqual(w.data);
    expect(b.ignoredTensors.sort()).toEqual(['lm_head.weight', 'transformer.h.0.attn.bias', 'transformer.h.1.attn.bias']);
  });

  it('names a missing tensor and the files searched', async () => {
    const e = await loadError(loadModel(toBrowserFiles(editCheckpoint(llama, (n) => (n === 'model.norm.weight' ? null : {})))));
    expect(e).toBeInstanceOf(ModelLoadError);
    expect(e.message).toContain('"model.norm.weight"');
    expect(e.message).toContain('searched model.safetensors');
    const sharded = shardCheckpoint(editCheckpoint(llama, (n) => (n === 'lm_head.weight' ? null : {})), 2);
    const e2 = await loadError(loadModel(toBrowserFiles(sharded)));
    expect(e2.message).toContain('"lm_head.weight"');
    expect(e2.message).toContain('model-00001-of-00002.safetensors, model-00002-of-00002.safetensors');
  });

  it('names the tensor, file, expected and actual shape when config and checkpoint disagree', async () => {
    const wrong = editJson(llama, 'config.json', (c) => (c.intermediate_size = 64));
    const e = await loadError(loadModel(toFolder(wrong)));
    expect(e).toBeInstanceOf(ModelLoadError);
    expect(e.message).toMatch(/model\.safetensors: tensor "model\.layers\.\d\.mlp\.\w+_proj\.weight" has shape \[(48, 32|32, 48)\], but config\.json implies \[(64, 32|32, 64)\]/);
    const g = editCheckpoint(gpt2, (n, t) => (n === 'h.0.attn.c_attn.weight' ? { shape: [96, 32], data: t.data } : {}));
    const e2 = await loadError(loadModel(toBrowserFiles(g)));
    expect(e2.message).toContain('tensor "h.0.attn.c_attn.weight" (transformer.h.0.attn.c_attn.weight) has shape [96, 32]');
    expect(e2.message).toContain('implies [32, 96]');
  });

  it('refuses an unsupported model_type, listing the supported ones', async () => {
    const e = await loadError(loadModel(toBrowserFiles(editJson(llama, 'config.json', (c) => (c.model_type = 'mistral')))));
    expect(e).toBeInstanceOf(ConfigError);
    expect(e.message).toContain('"mistral"');
    expect(e.message).toContain('gpt2, llama, qwen2');
  });

  it('refuses pickle checkpoints, from a listing source and from one that can only probe', async () => {
    const pickled: Files = new Map([...llama].filter(([n]) => n !== 'model.safetensors'));
    pickled.set('pytorch_model.bin', new Uint8Array([0x80, 0x02]));
    const e = await loadError(loadModel(toFolder(pickled)));
    expect(e).toBeInstanceOf(ModelLoadError);
    expect(e.message).toContain('pytorch_model.bin');
    expect(e.message).toContain('only safetensors checkpoints are read (pickle files can run code)');
    expect(e.message).toContain('convert');
    const folder = toFolder(pickled);
    const probeOnly = { description: 'probe-only source', exists: folder.exists.bind(folder), read: folder.read.bind(folder) };
    const e2 = await loadError(loadModel(probeOnly));
    expect(e2.message).toContain('pickle files can run code');
    const none: Files = new Map([...llama].filter(([n]) => n !== 'model.safetensors'));
    expect((await loadError(loadModel(toBrowserFiles(none)))).message).toContain('no checkpoint');
  });

  it('refuses an index that points at a missing shard, or at a shard without the tensor', async () => {
    const sharded = shardCheckpoint(llama, 2);
    const missing: Files = new Map([...sharded].filter(([n]) => n !== 'model-00002-of-00002.safetensors'));
    const e = await loadError(loadModel(toFolder(missing)));
    expect(e).toBeInstanceOf(ModelLoadError);
    expect(e.message).toContain('model.safetensors.index.json');
    expect(e.message).toContain('"model-00002-of-00002.safetensors", which is missing');

    const moved = editJson(sharded, 'model.safetensors.index.json', (j) => {
      (j.weight_map as Record<string, string>)['model.norm.weight'] = 'model-00001-of-00002.safetensors';
    });
    const where = JSON.parse(new TextDecoder().decode(sharded.get('model.safetensors.index.json')!)).weight_map['model.norm.weight'];
    expect(where).toBe('model-00002-of-00002.safetensors');
    const e2 = await loadError(loadModel(toBrowserFiles(moved)));
    expect(e2.message).toContain('says tensor "model.norm.weight" is in model-00001-of-00002.safetensors, but model-00001-of-00002.safetensors does not contain it');

    const escaping = editJson(sharded, 'model.safetensors.index.json', (j) => {
      (j.weight_map as Record<string, string>)['model.norm.weight'] = '../../etc/model.safetensors';
    });
    expect((await loadError(loadModel(toFolder(escaping)))).message).toContain('not a plain relative file name');
  });

  it('reports a corrupt checkpoint and missing config or tokenizer', async () => {
    const corrupt = new Map(llama);
    corrupt.set('model.safetensors', llama.get('model.safetensors')!.slice(0, 1000));
    const e = await loadError(loadModel(toBrowserFiles(corrupt)));
    expect(e).toBeInstanceOf(SafetensorsError);
    expect(e.message).toContain('model.safetensors');
    const noConfig: Files = new Map([...llama].filter(([n]) => n !== 'config.json'));
    expect((await loadError(loadModel(toBrowserFiles(noConfig)))).message).toContain('config.json not found');
    const noTok: Files = new Map([...llama].filter(([n]) => n !== 'tokenizer.json'));
    expect((await loadError(loadModel(toBrowserFiles(noTok)))).message).toContain('tokenizer.json not found');
    const optional: Files = new Map([...llama].filter(([n]) => n !== 'generation_config.json' && n !== 'tokenizer_config.json'));
    const m = await loadModel(toBrowserFiles(optional));
    expect(m.generationConfig).toBeNull();
    expect(m.tokenizerConfig).toEqual({});
  });
});

describe('sources', () => {
  it('BrowserFilesSource matches by name, preferring the shallowest path', async () => {
    const decoy = new File(['{"model_type": "nope"}'], 'config.json');
    Object.defineProperty(decoy, 'webkitRelativePath', { value: 'tiny/onnx/config.json' });
    const real = new File(['{"ok": true}'], 'config.json');
    Object.defineProperty(real, 'webkitRelativePath', { value: 'tiny/config.json' });
    const src = new BrowserFilesSource([decoy, real]);
    expect(src.description).toBe('selected folder "tiny"');
    expect(await src.list()).toEqual(['config.json']);
    expect(await src.exists('config.json')).toBe(true);
    expect(await src.exists('missing.json')).toBe(false);
    expect(new TextDecoder().decode(await src.read('config.json'))).toBe('{"ok": true}');
    await expect(src.read('missing.json')).rejects.toThrow(ModelSourceError);
  });

  it('NodeFolderSource reads with progress and stays inside its folder', async () => {
    const src = toFolder(new Map([['a.bin', new Uint8Array(100).fill(7)]]));
    const seen: [number, number | null][] = [];
    const bytes = await src.read('a.bin', (l, t) => seen.push([l, t]));
    expect(bytes.length).toBe(100);
    expect(seen[seen.length - 1]).toEqual([100, 100]);
    expect(await src.list()).toEqual(['a.bin']);
    expect(await src.exists('nope')).toBe(false);
    await expect(src.read('nope')).rejects.toThrow(/"nope" does not exist/);
    await expect(src.read('../a.bin')).rejects.toThrow(/not a plain relative file name/);
    await expect(src.exists('/etc/passwd')).rejects.toThrow(/not a plain relative file name/);
  });
});
