/**
 * Hostile command lines, each run as a user runs `peft-studio` (bin/peft-studio.mjs, a child process): the input is
 * built in a temporary folder, the run must end within its budget with exit status 1 and one clear line on stderr
 * (no stack trace) for a refusal, or exit 0 for a valid run.
 */
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { makeTinyModel } from '../tests/fixtures/tiny-models';
import type { Expectation, Outcome } from './fuzz-case';
import { joinSafetensors, splitSafetensors, writeElement } from './safetensors-bytes';

const BIN = new URL('../bin/peft-studio.mjs', import.meta.url).pathname;
/** A CLI run includes vite-node's start and shader compiles: its hang budget is longer than a loader call's. */
export const CLI_HANG_MS = 120_000;

export interface CliCase {
  label: string;
  expect: Expectation;
  args: string[];
}

function writeModel(dir: string, edit?: (files: Map<string, Uint8Array>) => void): string {
  mkdirSync(dir, { recursive: true });
  const files = makeTinyModel('llama');
  edit?.(files);
  for (const [n, b] of files) writeFileSync(join(dir, n), b);
  return dir;
}

/** Builds the inputs in a new temporary folder and returns the cases that use them. */
export function cliCases(): { dir: string; cases: CliCase[] } {
  const dir = mkdtempSync(join(tmpdir(), 'peft-studio-fuzz-'));
  const model = writeModel(join(dir, 'model'));
  const nanModel = writeModel(join(dir, 'nan-model'), (f) => {
    const raw = splitSafetensors(f.get('model.safetensors')!);
    writeElement(raw, 'model.norm.weight', 3, Number.NaN);
    f.set('model.safetensors', joinSafetensors(raw));
  });
  const hugeLayers = writeModel(join(dir, 'huge-layers'), (f) => {
    const c = JSON.parse(new TextDecoder().decode(f.get('config.json')!));
    c.num_hidden_layers = 2147483648;
    f.set('config.json', new TextEncoder().encode(JSON.stringify(c)));
  });
  const redosTokenizer = writeModel(join(dir, 'redos-tokenizer'), (f) => {
    const t = JSON.parse(new TextDecoder().decode(f.get('tokenizer.json')!));
    t.pre_tokenizer = { type: 'Sequence', pretokenizers: [{ type: 'Split', pattern: { Regex: '(a*)*b' }, behavior: 'Isolated', invert: false }, t.pre_tokenizer] };
    f.set('tokenizer.json', new TextEncoder().encode(JSON.stringify(t)));
  });
  const data = join(dir, 'data.jsonl');
  writeFileSync(data, ['cat says meow', 'dog says woof', 'cow says moo'].map((text) => JSON.stringify({ text })).join('\n'));
  const deep = join(dir, 'deep.json');
  writeFileSync(deep, `${'['.repeat(100_000)}${']'.repeat(100_000)}`);
  const huge = join(dir, 'huge.jsonl');
  writeFileSync(huge, [JSON.stringify({ text: 'meow '.repeat(2_000_000) }), JSON.stringify({ text: 'cat says meow' })].join('\n'));
  const train = (extra: string[]) => ['train', '--model', model, '--data', data, '--out', join(dir, 'out'), '--steps', '1', '--batch', '1', '--seq', '16', ...extra];
  return {
    dir,
    cases: [
      { label: 'score on a model with NaN in model.norm.weight', expect: 'refuse', args: ['score', '--model', nanModel, '--text', 'cat says meow', '--json'] },
      { label: 'score on a config with 2^31 layers', expect: 'refuse', args: ['score', '--model', hugeLayers, '--text', 'cat says meow', '--json'] },
      { label: 'score with a pre-tokenizer pattern that backtracks (a*)*b', expect: 'refuse', args: ['score', '--model', redosTokenizer, '--text', 'cat says meow', '--json'] },
      { label: "train --target '(.*)*Z'", expect: 'refuse', args: train(['--target', '(.*)*Z']) },
      { label: 'train on a JSON file nested 100,000 deep', expect: 'refuse', args: ['train', '--model', model, '--data', deep, '--out', join(dir, 'out2'), '--steps', '1'] },
      { label: 'train on a 10 MB record cut to --seq 16', expect: 'accept', args: ['train', '--model', model, '--data', huge, '--out', join(dir, 'out3'), '--steps', '1', '--batch', '1', '--seq', '16'] },
      { label: 'score on the valid tiny model', expect: 'accept', args: ['score', '--model', model, '--text', 'cat says meow', '--json'] },
    ],
  };
}

/** Runs one case; a refusal must be exit 1 with no stack trace. */
export function runCliCase(c: CliCase): Promise<{ outcome: Outcome; ms: number; detail: string }> {
  return new Promise((resolve) => {
    const t0 = performance.now();
    const child = spawn(process.execPath, [BIN, ...c.args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.stdout.resume();
    const timer = setTimeout(() => child.kill('SIGKILL'), CLI_HANG_MS);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      const ms = performance.now() - t0;
      const last = stderr.trim().split('\n').at(-1) ?? '';
      const stack = /\n\s+at /.test(stderr);
      let outcome: Outcome;
      if (signal === 'SIGKILL') outcome = 'hang';
      else if (code === 0) outcome = c.expect === 'refuse' ? 'silent-accept' : 'accepted';
      else if (code === 1 && !stack) outcome = c.expect === 'accept' ? 'valid-refused' : 'refused';
      else outcome = 'crash';
      resolve({ outcome, ms, detail: `exit ${code ?? signal}: ${last.slice(0, 300)}` });
    });
  });
}
