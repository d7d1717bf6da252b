/**
 * `--kernels tiled|direct` through the command line on the tiny model of each architecture: a training run with
 * the tiled kernels (what real GPUs run) learns, and scoring with its adapter gives the same log-probabilities
 * with either kernel profile.
 */
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { makeTinyModel } from './fixtures/tiny-models';
import { cliAsync as cli } from './helpers/cli';

describe.each(['gpt2', 'llama', 'qwen2'] as const)('%s: --kernels', (arch) => {
  it('a tiled training run learns, and tiled and direct scoring agree', async () => {
    const dir = mkdtempSync(join(tmpdir(), `peft-studio-kernels-${arch}-`));
    mkdirSync(join(dir, 'model'));
    for (const [name, bytes] of makeTinyModel(arch)) writeFileSync(join(dir, 'model', name), bytes);
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

    const score = async (kernels: string) => {
      const r = await cli(['score', '--model', 'model', '--adapter', 'adapter', '--quant', 'q4', '--text', 'cat says meow, dog says woof', '--json', '--kernels', kernels], dir);
      expect(r.code, r.stderr).toBe(0);
      return JSON.parse(r.stdout) as { ids: number[]; logprobs: number[] };
    };
    const tiled = await score('tiled');
    const direct = await score('direct');
    expect(tiled.ids).toEqual(direct.ids);
    expect(tiled.logprobs.length).toBeGreaterThan(5);
    tiled.logprobs.forEach((lp, i) => expect(Math.abs(lp - direct.logprobs[i]), `log-prob ${i}: tiled ${lp}, direct ${direct.logprobs[i]}`).toBeLessThan(1e-4 + 1e-4 * Math.abs(lp)));
  }, 400_000);
});
