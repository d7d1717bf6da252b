/**
 * Model folders (config.json + model.safetensors + tokenizer files), loaded as the studio and the CLI load them
 * (loadModel over a file source): the `safetensors` surface mutates the checkpoint's bytes, the `config` surface
 * the config's fields.
 */
import { loadModel } from '../../src/model-io/load-model';
import { BrowserFilesSource } from '../../src/model-io/model-source';
import { makeTinyModel, TINY_MODEL_KINDS, type TinyModelKind } from '../../tests/fixtures/tiny-models';
import { caseRng, type FuzzCase, type FuzzSurface, type Rng } from '../fuzz-case';
import { elementAtByte, joinSafetensors, splitSafetensors, tensorNames, writeElement, type RawEntry } from '../safetensors-bytes';

const DTYPES = ['F32', 'F16', 'BF16'] as const;
const CHECKPOINT = 'model.safetensors';

const bases = new Map<string, Map<string, Uint8Array>>();
function baseFiles(kind: TinyModelKind, dtype: (typeof DTYPES)[number]): Map<string, Uint8Array> {
  const key = `${kind}/${dtype}`;
  if (!bases.has(key)) bases.set(key, makeTinyModel(kind, { dtype }));
  return new Map(bases.get(key)!);
}

function load(files: Map<string, Uint8Array>): Promise<unknown> {
  return loadModel(new BrowserFilesSource([...files].map(([name, bytes]) => new File([bytes as Uint8Array<ArrayBuffer>], name))));
}

function pickBase(r: Rng): { kind: TinyModelKind; dtype: (typeof DTYPES)[number]; files: Map<string, Uint8Array> } {
  const kind = r.pick(TINY_MODEL_KINDS);
  const dtype = r.pick(DTYPES);
  return { kind, dtype, files: baseFiles(kind, dtype) };
}

type Mutator = (r: Rng, files: Map<string, Uint8Array>) => Pick<FuzzCase, 'label' | 'expect'>;

/** Checkpoint mutations, each with its oracle. */
const CHECKPOINT_MUTATORS: Record<string, Mutator> = {
  valid: () => ({ label: 'unchanged', expect: 'accept' }),
  nonfinite(r, files) {
    const raw = splitSafetensors(files.get(CHECKPOINT)!);
    const name = r.pick(tensorNames(raw));
    const e = raw.header[name] as RawEntry;
    const n = e.shape.reduce((a, b) => a * b, 1);
    const i = r.int(n);
    const kind = r.pick(['NaN', 'Infinity', '-Infinity', 'sNaN'] as const);
    writeElement(raw, name, i, kind === 'sNaN' ? Number.NaN : Number(kind), kind === 'sNaN');
    files.set(CHECKPOINT, joinSafetensors(raw));
    return { label: `${kind} at ${name}[${i}] (${e.dtype})`, expect: 'refuse' };
  },
  trailing(r, files) {
    const b = files.get(CHECKPOINT)!;
    const extra = 1 + r.int(64);
    const out = new Uint8Array(b.length + extra);
    out.set(b);
    files.set(CHECKPOINT, out);
    return { label: `${extra} trailing bytes`, expect: 'refuse' };
  },
  hole(r, files) {
    const raw = splitSafetensors(files.get(CHECKPOINT)!);
    const names = tensorNames(raw);
    const k = r.int(names.length);
    const gap = 4 * (1 + r.int(4));
    const at = (raw.header[names[k]] as RawEntry).data_offsets[0];
    for (const n of names.slice(k)) {
      const e = raw.header[n] as RawEntry;
      e.data_offsets = [e.data_offsets[0] + gap, e.data_offsets[1] + gap];
    }
    const data = new Uint8Array(raw.data.length + gap);
    data.set(raw.data.subarray(0, at));
    data.set(raw.data.subarray(at), at + gap);
    files.set(CHECKPOINT, joinSafetensors({ header: raw.header, data }));
    return { label: `a hole of ${gap} bytes before ${names[k]}`, expect: 'refuse' };
  },
  overlap(r, files) {
    const raw = splitSafetensors(files.get(CHECKPOINT)!);
    const names = tensorNames(raw);
    const k = 1 + r.int(names.length - 1);
    const prev = raw.header[names[k - 1]] as RawEntry;
    const e = raw.header[names[k]] as RawEntry;
    const shift = Math.min(4, prev.data_offsets[1] - prev.data_offsets[0]);
    e.data_offsets = [e.data_offsets[0] - shift, e.data_offsets[1] - shift];
    files.set(CHECKPOINT, joinSafetensors(raw));
    return { label: `${names[k]} overlaps ${names[k - 1]} by ${shift} bytes`, expect: 'refuse' };
  },
  leadingSpace(r, files) {
    const raw = splitSafetensors(files.get(CHECKPOINT)!);
    const pad = ' '.repeat(1 + r.int(8));
    files.set(CHECKPOINT, joinSafetensors(raw, { prefix: pad }));
    return { label: `${pad.length} spaces before the header's "{"`, expect: 'refuse' };
  },
  shortHeader(r, files) {
    const b = files.get(CHECKPOINT)!.slice();
    const view = new DataView(b.buffer);
    const by = 1 + r.int(7);
    view.setBigUint64(0, view.getBigUint64(0, true) - BigInt(by), true);
    files.set(CHECKPOINT, b);
    return { label: `header length shortened by ${by}`, expect: 'refuse' };
  },
  truncate(r, files) {
    const b = files.get(CHECKPOINT)!;
    const len = r.int(b.length);
    files.set(CHECKPOINT, b.slice(0, len));
    return { label: `cut to ${len} of ${b.length} bytes`, expect: 'refuse' };
  },
  dtype(r, files) {
    const raw = splitSafetensors(files.get(CHECKPOINT)!);
    const name = r.pick(tensorNames(raw));
    const e = raw.header[name] as RawEntry;
    const to = r.pick(['F32', 'F16', 'BF16', 'I8', 'F64', 'U8', 'float32'].filter((d) => d !== e.dtype));
    const sameSize = (e.dtype === 'F16' && to === 'BF16') || (e.dtype === 'BF16' && to === 'F16');
    e.dtype = to;
    files.set(CHECKPOINT, joinSafetensors(raw));
    // F16 ↔ BF16 keeps every byte accounted for: a valid file with other values (refused only if one is not finite).
    return { label: `${name} relabelled ${to}`, expect: sameSize ? 'either' : 'refuse' };
  },
  extraTensor(r, files) {
    const raw = splitSafetensors(files.get(CHECKPOINT)!);
    const names = tensorNames(raw);
    const last = raw.header[names[names.length - 1]] as RawEntry;
    const name = r.pick(['model.layers.7.mlp.up_proj.weight', 'transformer.h.9.mlp.c_fc.weight', 'model.extra_head.weight', 'lm_head.bias']);
    const size = 4 * 8;
    raw.header[name] = { dtype: 'F32', shape: [8], data_offsets: [last.data_offsets[1], last.data_offsets[1] + size] };
    const data = new Uint8Array(raw.data.length + size);
    data.set(raw.data);
    files.set(CHECKPOINT, joinSafetensors({ header: raw.header, data }));
    return { label: `an extra tensor ${name}`, expect: 'refuse' };
  },
  missingTensor(r, files) {
    const raw = splitSafetensors(files.get(CHECKPOINT)!);
    const name = r.pick(tensorNames(raw));
    delete raw.header[name];
    files.set(CHECKPOINT, joinSafetensors(raw)); // its bytes stay: a hole too
    return { label: `${name} removed from the header`, expect: 'refuse' };
  },
  headerByte(r, files) {
    const b = files.get(CHECKPOINT)!.slice();
    const n = Number(new DataView(b.buffer).getBigUint64(0, true));
    const at = 8 + r.int(n);
    b[at] = r.int(256);
    files.set(CHECKPOINT, b);
    return { label: `header byte ${at} set to ${b[at]}`, expect: 'either' };
  },
  dataBit(r, files) {
    const b = files.get(CHECKPOINT)!.slice();
    const n = Number(new DataView(b.buffer).getBigUint64(0, true));
    const byte = r.int(b.length - 8 - n);
    const bit = r.int(8);
    b[8 + n + byte] ^= 1 << bit;
    const hit = elementAtByte(splitSafetensors(b), byte);
    files.set(CHECKPOINT, b);
    const finite = hit === null || Number.isFinite(hit.value);
    return { label: `data bit ${bit} of byte ${byte} flipped${hit ? ` (${hit.name}[${hit.index}] = ${hit.value})` : ''}`, expect: finite ? 'accept' : 'refuse' };
  },
};

/** config.json mutations, each with its oracle. */
const CONFIG_MUTATORS: Record<string, Mutator> = {
  valid: () => ({ label: 'unchanged', expect: 'accept' }),
  boolType(r, files) {
    const c = readConfig(files);
    // The booleans the model's architecture reads (a field transformers does not define for it is not checked).
    const key = r.pick(c.model_type === 'llama' ? ['attention_bias', 'mlp_bias', 'tie_word_embeddings'] : ['tie_word_embeddings']);
    const v = r.pick(['yes', 'true', 7, 1, 0, null, [true]] as const);
    c[key] = v;
    writeConfig(files, c);
    // null for a boolean that has a default is what transformers writes for "unset" only for some fields; treat it as either.
    return { label: `${key} = ${JSON.stringify(v)}`, expect: v === null ? 'either' : 'refuse' };
  },
  tokenId(r, files) {
    const c = readConfig(files);
    const key = r.pick(['bos_token_id', 'eos_token_id', 'pad_token_id']);
    const vocab = Number(c.vocab_size);
    const v = r.pick(['2', [vocab + 5], vocab, -1, 1.5, { id: 2 }] as const);
    c[key] = v;
    writeConfig(files, c);
    // pad_token_id -1 is the old "no pad token" (read as none).
    return { label: `${key} = ${JSON.stringify(v)} (vocab_size ${vocab})`, expect: key === 'pad_token_id' && v === -1 ? 'accept' : 'refuse' };
  },
  ropeTheta(r, files) {
    const c = readConfig(files);
    if (c.model_type === 'gpt2') return CONFIG_MUTATORS.eps(r, files);
    const v = r.pick([0, -1, -10000]);
    c.rope_theta = v;
    writeConfig(files, c);
    return { label: `rope_theta = ${v}`, expect: 'refuse' };
  },
  eps(r, files) {
    const c = readConfig(files);
    const key = c.model_type === 'gpt2' ? 'layer_norm_epsilon' : 'rms_norm_eps';
    const v = r.pick([0, -1e-5, -1]);
    c[key] = v;
    writeConfig(files, c);
    return { label: `${key} = ${v}`, expect: 'refuse' };
  },
  layers(r, files) {
    const c = readConfig(files);
    const key = c.model_type === 'gpt2' ? 'n_layer' : 'num_hidden_layers';
    const n = Number(c[key]);
    const v = r.pick([n - 1, n + 1, 0, 2147483648, 1e12, -2]);
    c[key] = v;
    writeConfig(files, c);
    return { label: `${key} = ${v} (the checkpoint has ${n})`, expect: 'refuse' };
  },
  size(r, files) {
    const c = readConfig(files);
    const key = r.pick(c.model_type === 'gpt2' ? ['n_embd', 'vocab_size', 'n_head'] : ['hidden_size', 'intermediate_size', 'vocab_size', 'num_attention_heads']);
    const v = Number(c[key]) * 2;
    c[key] = v;
    writeConfig(files, c);
    // Twice the heads can fit the same weights (smaller heads): a different model, but a consistent one.
    return { label: `${key} doubled to ${v}`, expect: key === 'n_head' || key === 'num_attention_heads' ? 'either' : 'refuse' };
  },
  randomValue(r, files) {
    const c = readConfig(files);
    const key = r.pick(Object.keys(c));
    const v = r.pick([null, 'x', -1, 0, 3.5, 1e300, true, [], {}, [1, 2]] as const);
    c[key] = v;
    writeConfig(files, c);
    return { label: `${key} = ${JSON.stringify(v)}`, expect: 'either' };
  },
  deleteKey(r, files) {
    const c = readConfig(files);
    const key = r.pick(Object.keys(c));
    delete c[key];
    writeConfig(files, c);
    return { label: `${key} deleted`, expect: 'either' };
  },
  notJson(r, files) {
    const text = new TextDecoder().decode(files.get('config.json')!);
    const cut = r.int(text.length - 1);
    files.set('config.json', new TextEncoder().encode(text.slice(0, cut)));
    return { label: `config.json cut to ${cut} characters`, expect: 'refuse' };
  },
};

function readConfig(files: Map<string, Uint8Array>): Record<string, unknown> {
  return JSON.parse(new TextDecoder().decode(files.get('config.json')!));
}

function writeConfig(files: Map<string, Uint8Array>, c: Record<string, unknown>): void {
  files.set('config.json', new TextEncoder().encode(JSON.stringify(c, null, 2)));
}

/** A model folder's refusal names the file at fault (a broken config can also show in the checkpoint's check). */
const NAMES_MODEL_FILE = /model\.safetensors|config\.json/;

function surfaceOf(name: string, salt: number, mutators: Record<string, Mutator>): FuzzSurface {
  const names = Object.keys(mutators);
  return {
    name,
    caseAt(seed, i) {
      const r = caseRng(seed, i, salt);
      const base = pickBase(r);
      const m = names[i % names.length];
      const c = mutators[m](r, base.files);
      return { label: `${base.kind}/${base.dtype} ${m}: ${c.label}`, expect: c.expect, run: () => load(base.files), names: NAMES_MODEL_FILE };
    },
  };
}

export const SAFETENSORS_SURFACE = surfaceOf('safetensors', 0x51, CHECKPOINT_MUTATORS);
export const CONFIG_SURFACE = surfaceOf('config', 0xc0, CONFIG_MUTATORS);
