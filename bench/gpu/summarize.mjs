#!/usr/bin/env node
/**
 * `node bench/summarize.mjs RESULTS_DIR` (in a pack; run.sh calls it) → Markdown on stdout, for the README's
 * Performance section: the machine (GPU, driver, adapter), bench:train's rows, the per-kernel GPU times of the
 * --profile run (the largest kernels of each model's f32 run) and bench:kernels' rows.
 * Plain JavaScript with no imports beyond Node's, so it runs in the pack as it is.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

const dir = process.argv[2];
if (!dir) {
  process.stderr.write('usage: node summarize.mjs RESULTS_DIR\n');
  process.exit(64);
}

const read = (name) => (existsSync(join(dir, name)) ? readFileSync(join(dir, name), 'utf8') : '');
const jsonl = (name) =>
  read(name)
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l));

/** env.txt: `key: value` lines written by run.sh (a key may repeat, e.g. one nvidia_smi line per GPU). */
const env = {};
for (const line of read('env.txt').split('\n')) {
  const m = /^(\w+): (.*)$/.exec(line);
  if (m) (env[m[1]] ??= []).push(m[2]);
}
const one = (k) => env[k]?.[0] ?? '?';
let manifest = {};
const manifestFile = join(import.meta.dirname, '..', 'MANIFEST.json');
if (existsSync(manifestFile)) manifest = JSON.parse(readFileSync(manifestFile, 'utf8'));

const train = jsonl('train.jsonl');
const profiled = jsonl('train-profile.jsonl');
const kernels = jsonl('kernels.jsonl');

const out = [];
const p = (s = '') => out.push(s);
const fmt = (x, d = 1) => (typeof x === 'number' ? x.toFixed(d) : '?');
const table = (header, rows, align) => {
  p(`| ${header.join(' | ')} |`);
  p(`|${header.map((_, i) => (align?.[i] === 'r' ? '---:' : '---')).join('|')}|`);
  for (const r of rows) p(`| ${r.join(' | ')} |`);
};

p(`#### ${one('gpu')}: Node + Dawn + Vulkan, tiled kernels`);
p();
p(
  `Measured ${one('date').slice(0, 10)}${manifest.commit ? ` at commit ${manifest.commit.slice(0, 10)}${manifest.dirty ? ' (with uncommitted changes)' : ''}` : ''}` +
    ` on ${(env.nvidia_smi ?? [one('gpu')]).join('; ')}, driver ${one('driver')}, ${one('gpu_memory')}. WebGPU adapter: ${one('adapter')}.` +
    ` Node ${one('node').split(' ')[0]}, webgpu ${manifest.webgpu ?? '?'} (Dawn), Vulkan loader: ${one('vulkan_loader').split(' ')[0]}.`,
);
p();

if (train.length) {
  const t0 = train[0];
  p(`\`bench:train ${one('train_args')}\`: LoRA r=8 on all linear layers, median of ${t0.steps} steps after a warm-up step (the real-shape rows: ${one('real_shape_args') || 'none'}):`);
  p();
  const mib = (b) => (b === undefined ? '' : fmt(b / 2 ** 20, 1));
  table(
    ['model', 'W0', 'batch × seq', 'ms/step', 'tokens/s', 'first step', 'compiles', 'step GFLOP/s', 'matmul GFLOP/s', 'step/matmul', 'dispatches/step', 'new bind groups/step', 'activations MiB', 'planned MiB'],
    train.map((r) => [
      r.model, r.format, `${r.batch} × ${r.seq}`, fmt(r.ms_per_step), fmt(r.tokens_per_s, 0), `${fmt(r.first_step_ms / 1000)} s`, `${r.pipelines_compiled} in ${fmt(r.compile_ms / 1000)} s`,
      fmt(r.step_gflops, 2), fmt(r.matmul_gflops, 2), `${Math.round((100 * r.step_gflops) / r.matmul_gflops)} %`, String(r.dispatches_per_step), String(r.bind_groups_per_step),
      mib(r.activation_bytes), mib(r.planned_activation_bytes),
    ]),
    ['l', 'l', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'r'],
  );
  p();
}

const withProfile = profiled.filter((r) => r.profile?.length);
if (withProfile.length) {
  p('GPU time per kernel (timestamp queries, the `--profile` run), the largest five of each model in f32:');
  p();
  const rows = [];
  for (const r of withProfile.filter((x) => x.format === 'f32')) {
    const total = r.profile.reduce((a, k) => a + k.ms, 0);
    const top = [...r.profile].sort((a, b) => b.ms - a.ms).slice(0, 5);
    rows.push([r.model, `${fmt(total, 2)} of ${fmt(r.ms_per_step)}`, top.map((k) => `${k.kernel} ${fmt(k.ms, 2)} (${Math.round((100 * k.ms) / total)} %)`).join('; ')]);
  }
  table(['model', 'GPU ms of the step ms', 'largest kernels, GPU ms/step'], rows, ['l', 'r', 'l']);
  p();
}

if (kernels.length) {
  p(`\`bench:kernels ${one('kernels_args')}\` (medians; ratio = baseline ms / ms):`);
  p();
  table(
    ['kernel', 'shape', 'ms', 'GFLOP/s', 'baseline', 'baseline ms', 'ratio'],
    kernels.map((r) => [r.name, r.shape, fmt(r.ms, 3), fmt(r.gflops, 1), r.baseline, fmt(r.baseline_ms, 3), `${fmt(r.ratio, 2)}×`]),
    ['l', 'l', 'r', 'r', 'l', 'r', 'r'],
  );
  p();
}
if (!train.length && !kernels.length) p('(no benchmark rows in this folder)');
process.stdout.write(`${out.join('\n')}\n`);
