/**
 * Adapter folders as the studio writes them — LoRA, DoRA, IA³, prompt tuning (PEFT) and bottleneck adapters
 * (AdapterHub) — for the tiny models, mutated, then read back on the CPU as an import reads them (the method from
 * adapter_config.json, then that method's reader, which checks the files against the base model).
 */
import { loadModel, type LoadedModel } from '../../src/model-io/load-model';
import { BrowserFilesSource } from '../../src/model-io/model-source';
import { methodOfFiles } from '../../src/methods/registry';
import type { ModelConfig } from '../../src/model/config';
import { exportLoraAdapter, importLoraAdapter } from '../../src/peft/adapter-files';
import { exportBottleneckAdapter, importBottleneckAdapter, makeBottleneckConfig } from '../../src/peft/bottleneck-files';
import { exportIa3Adapter, importIa3Adapter } from '../../src/peft/ia3-files';
import { makeIA3Config, resolveIA3Targets, ia3VectorShape } from '../../src/peft/ia3-config';
import { makeLoraConfig } from '../../src/peft/lora-config';
import { resolveLoraTargets } from '../../src/peft/lora-targets';
import { makePromptLearningConfig } from '../../src/peft/prompt-learning-config';
import { exportPromptLearningAdapter, importPromptLearningAdapter } from '../../src/peft/prompt-learning-files';
import { randomNormal } from '../../src/util/random';
import { makeTinyModel, type TinyModelKind } from '../../tests/fixtures/tiny-models';
import { randomBottleneck } from '../../tests/helpers/random-bottleneck';
import { caseRng, type FuzzSurface, type Rng } from '../fuzz-case';
import { joinSafetensors, splitSafetensors, tensorNames, writeElement, type RawEntry } from '../safetensors-bytes';

const KINDS: TinyModelKind[] = ['gpt2', 'llama'];
const base = { nameOrPath: 'tiny' };

const models = new Map<TinyModelKind, LoadedModel>();
/** The tiny models, loaded once (the surface's cases are synchronous after this). */
export async function prepareAdapterSurface(): Promise<void> {
  for (const kind of KINDS) {
    if (!models.has(kind)) models.set(kind, await loadModel(new BrowserFilesSource([...makeTinyModel(kind)].map(([n, b]) => new File([b as Uint8Array<ArrayBuffer>], n)))));
  }
}

type Written = { method: string; files: Map<string, Uint8Array> };

function writeAdapter(kind: TinyModelKind, which: number, c: ModelConfig): Written {
  const seed = 11 + which;
  switch (which) {
    case 0:
    case 1: {
      const useDora = which === 1;
      const config = makeLoraConfig({ r: 4, lora_alpha: 8, target_modules: 'all-linear', use_dora: useDora }, c, base);
      const targets = resolveLoraTargets(config, c);
      const weights = new Map(targets.map((t, i) => [t.path, { a: randomNormal(4 * t.inFeatures, seed + i, 0.1), b: randomNormal(t.outFeatures * 4, seed + 100 + i, 0.1) }]));
      const magnitudes = useDora ? new Map(targets.map((t, i) => [t.path, Float32Array.from(randomNormal(t.outFeatures, seed + 200 + i, 0.1), (v) => 1 + v)])) : undefined;
      return { method: useDora ? 'dora' : 'lora', files: exportLoraAdapter({ config, weights, magnitudes, model: c, targets }) };
    }
    case 2: {
      const config = makeIA3Config({}, c, base);
      const vectors = new Map(resolveIA3Targets(config, c).map((t, i) => [t.path, Float32Array.from(randomNormal(ia3VectorShape(t)[0] * ia3VectorShape(t)[1], seed + i, 0.1), (v) => 1 + v)]));
      return { method: 'ia3', files: exportIa3Adapter({ config, vectors, model: c }) };
    }
    case 3: {
      const config = makePromptLearningConfig('PROMPT_TUNING', { num_virtual_tokens: 4 }, c, base);
      return { method: 'prompt-tuning', files: exportPromptLearningAdapter({ config, embeddings: randomNormal(4 * c.hiddenSize, seed, 0.5), shape: [4, c.hiddenSize], model: c }) };
    }
    default: {
      const config = makeBottleneckConfig({ config: 'houlsby', reduction_factor: 4 }, c, 'tiny');
      const weights = new Map<string, Float32Array>();
      for (const i of randomBottleneck(config, c, seed)) {
        weights.set(`${i.target.prefix}.adapter_down.0.weight`, i.downWeight);
        weights.set(`${i.target.prefix}.adapter_down.0.bias`, i.downBias);
        weights.set(`${i.target.prefix}.adapter_up.weight`, i.upWeight);
        weights.set(`${i.target.prefix}.adapter_up.bias`, i.upBias);
      }
      return { method: 'bottleneck', files: exportBottleneckAdapter({ config, weights, model: c }) };
    }
  }
}

/** Reads a folder as an import does, on the CPU. */
function readAdapter(files: Map<string, Uint8Array>, c: ModelConfig): unknown {
  const method = methodOfFiles(files);
  switch (method.id) {
    case 'lora':
      return importLoraAdapter(files, c);
    case 'ia3':
      return importIa3Adapter(files, c);
    case 'bottleneck':
      return importBottleneckAdapter(files, c);
    default:
      return importPromptLearningAdapter(files, c);
  }
}

const weightsFile = (files: Map<string, Uint8Array>) => (files.has('adapter.safetensors') ? 'adapter.safetensors' : 'adapter_model.safetensors');

type Mutation = (r: Rng, files: Map<string, Uint8Array>) => { label: string; expect: 'refuse' | 'accept' | 'either' };

function editConfig(files: Map<string, Uint8Array>, edit: (c: Record<string, unknown>) => void): void {
  const c = JSON.parse(new TextDecoder().decode(files.get('adapter_config.json')!));
  edit(c);
  files.set('adapter_config.json', new TextEncoder().encode(JSON.stringify(c, null, 2)));
}

const MUTATIONS: Record<string, Mutation> = {
  valid: () => ({ label: 'unchanged', expect: 'accept' }),
  nonfinite(r, files) {
    const f = weightsFile(files);
    const raw = splitSafetensors(files.get(f)!);
    const name = r.pick(tensorNames(raw));
    const e = raw.header[name] as RawEntry;
    const i = r.int(e.shape.reduce((a, b) => a * b, 1));
    const v = r.pick([Number.NaN, Infinity, -Infinity]);
    writeElement(raw, name, i, v);
    files.set(f, joinSafetensors(raw));
    return { label: `${v} at ${name}[${i}]`, expect: 'refuse' };
  },
  shape(r, files) {
    const f = weightsFile(files);
    const raw = splitSafetensors(files.get(f)!);
    const name = r.pick(tensorNames(raw));
    const e = raw.header[name] as RawEntry;
    const n = e.shape.reduce((a, b) => a * b, 1);
    const next = e.shape.length === 2 && e.shape[0] !== e.shape[1] ? [e.shape[1], e.shape[0]] : [n];
    if (JSON.stringify(next) === JSON.stringify(e.shape)) return { label: 'no shape to change', expect: 'accept' };
    e.shape = next;
    files.set(f, joinSafetensors(raw));
    return { label: `${name} reshaped to [${next}]`, expect: 'refuse' };
  },
  unknownKey(r, files) {
    const f = weightsFile(files);
    const raw = splitSafetensors(files.get(f)!);
    const names = tensorNames(raw);
    const victim = r.pick(names);
    const e = raw.header[victim] as RawEntry;
    delete raw.header[victim];
    const renamed = victim.replace(/\.(\d+)\./, '.9$1.');
    raw.header[renamed === victim ? `${victim}.extra` : renamed] = e;
    files.set(f, joinSafetensors(raw));
    return { label: `${victim} renamed`, expect: 'refuse' };
  },
  configType(r, files) {
    const [key, v] = r.pick([
      ['r', '8'], ['lora_alpha', null], ['target_modules', 5], ['peft_type', 'LORAX'], ['num_virtual_tokens', -3], ['reduction_factor', 0], ['use_dora', 'yes'], ['task_type', 7],
    ] as const);
    let present = true;
    editConfig(files, (c) => {
      const holder = (c.config as Record<string, unknown> | undefined) ?? c;
      present = key in holder;
      holder[key] = v;
    });
    // A field the method does not have: PEFT warns about unknown fields on load; either is fine.
    return { label: `${key} = ${JSON.stringify(v)}`, expect: present ? 'refuse' : 'either' };
  },
  redosTarget(r, files) {
    const p = r.pick(['(.*)*Z', '^(([a-z_.0-9])+)+!$', '(\\w+)+x', '(.|.)*Z']);
    let has = false;
    editConfig(files, (c) => {
      if ('target_modules' in c) {
        c.target_modules = p;
        has = true;
      }
    });
    return { label: `target_modules = ${JSON.stringify(p)}`, expect: has ? 'refuse' : 'accept' };
  },
  missingWeights(_r, files) {
    files.delete(weightsFile(files));
    return { label: 'no weights file', expect: 'refuse' };
  },
  configByte(r, files) {
    const b = files.get('adapter_config.json')!.slice();
    const at = r.int(b.length);
    b[at] = r.int(128);
    files.set('adapter_config.json', b);
    return { label: `adapter_config.json byte ${at} set to ${b[at]}`, expect: 'either' };
  },
  weightsByte(r, files) {
    const f = weightsFile(files);
    const b = files.get(f)!.slice();
    const at = r.int(b.length);
    b[at] ^= 1 << r.int(8);
    files.set(f, b);
    return { label: `${f} byte ${at} flipped`, expect: 'either' };
  },
};

const NAMES = Object.keys(MUTATIONS);

export const ADAPTER_SURFACE: FuzzSurface = {
  name: 'adapters',
  caseAt(seed, i) {
    const r = caseRng(seed, i, 0xad);
    const kind = r.pick(KINDS);
    const m = models.get(kind);
    if (!m) throw new Error('prepareAdapterSurface() first');
    const written = writeAdapter(kind, r.int(5), m.config);
    const name = NAMES[i % NAMES.length];
    const c = MUTATIONS[name](r, written.files);
    return {
      label: `${kind} ${written.method} ${name}: ${c.label}`,
      expect: c.expect,
      run: () => readAdapter(written.files, m.config),
      names: /adapter_config\.json|adapter_model\.safetensors|adapter\.safetensors/,
    };
  },
};
