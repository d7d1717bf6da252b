/**
 * `--kernels tiled|direct` through the command line: on the tiny Llama (grouped-query attention), a training run
 * with the tiled kernels (what real GPUs run) learns, and scoring with its adapter gives the same log-probabilities
 * with either kernel profile; on the tiny GPT-2 (conv1d layout) and Qwen2 (qkv biases) the base model scores alike
 * with either profile. (Tiled training on every architecture: tests/train.gpu.test.ts.)
 */
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { makeTinyModel } from './fixtures/tiny-models';
import { cliAsync as cli } from './helpers/cli';

type Arch = 'gpt2' | 'llama' | 'qwen2';

function workDir(arch: Arch): string {
  const dir = mkdtempSync(join(tmpdir(), `peft-studio-kernels-${arch}-`));
  mkdirSync(join(dir, 'model'));
  for (const [name, bytes] of makeTinyModel(arch)) writeFileSync(join(dir, 'model', name), bytes);
  return dir;
}

/** `score` with each kernel profile (W0 in q4): the same tokens, and log-probabilities within float32 noise. */
async function expectProfilesAgree(dir: string, adapter: string[]): Promise<void> {
  const score = async (kernels: string) => {
    const r = await cli(['score', '--model', 'model', ...adapter, '--quant', 'q4', '--text', 'cat says meow, dog says woof', '--json', '--kernels', kernels], dir);
    expect(r.code, r.stderr).toBe(0);
    return JSON.parse(r.stdout) as { ids: number[]; logprobs: number[] };
  };
  const tiled = await score('tiled');
  const direct = await score('direct');
  expect(tiled.ids).toEqual(direct.ids);
  expect(tiled.logprobs.length).toBeGreaterThan(5);
  tiled.logprobs.forEach((lp, i) => expect(Math.abs(lp - direct.logprobs[i]), `log-prob ${i}: tiled ${lp}, direct ${direct.logprobs[i]}`).toBeLessThan(1e-4 + 1e-4 * Math.abs(lp)));
}

describe('llama: --kernels', () => {
  it('a tiled training run learns, and tiled and direct scoring with its adapter agree', async () => {
    const dir = workDir('llama');
    writeFileSync(
      join(dir, 'data.jsonl'),
      [['cat says', ' meow'], ['dog says', ' woof'], ['cow says', ' moo'], ['owl says', ' hoot']].map(([p, c]) => JSON.stringify({ prompt: p, completion: c })).join('\n'),
    );
    const train = await cli(
      ['train', '--model', 'model', '--data', 'data.jsonl', '--out', 'adapter', '--kernels', 'tiled', '--steps', '6', '--batch', '4', '--lr', '2e-2', '--target', 'all-linear', '--quant', 'q4', '--quiet'],
      dir,
    );
    expect(train.code, train.stderr).toBe(0);
    const log = readFileSync(join(dir, 'adapter', 'train_log.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    expect(log).toHaveLength(6);
    expect(log[5].loss).toBeLessThan(0.8 * log[0].loss);
    await expectProfilesAgree(dir, ['--adapter', 'adapter']);
  }, 400_000);
});

describe.each(['gpt2', 'qwen2'] as const)('%s: --kernels', (arch) => {
  it('tiled and direct scoring of the base model agree', async () => {
    await expectProfilesAgree(workDir(arch), []);
  }, 400_000);
});
