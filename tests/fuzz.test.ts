/**
 * The short fuzz suite (the long one is `npm run fuzz`): 300 seeded cases per surface — safetensors checkpoints,
 * config.json, datasets, adapter folders, tokenizer files — with no crash, no case past the 5 s hang budget, no
 * input that breaks a rule accepted, and no valid input refused. A failure lists the cases, which `npm run fuzz --
 * --surface NAME --seed 7` reproduces.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { runCase, Tally } from '../fuzz/fuzz-case';
import { prepareSurfaces, SURFACES } from '../fuzz/surfaces/index';

const CASES = 300;
const SEED = 7;

beforeAll(async () => {
  await prepareSurfaces();
});

describe.each(SURFACES.map((s) => [s.name, s] as const))('fuzz: %s', (_name, surface) => {
  it(`${CASES} seeded cases: no crash, no hang, no silent accept, no valid input refused`, async () => {
    const tally = new Tally(surface.name);
    for (let i = 0; i < CASES; i++) {
      const c = surface.caseAt(SEED, i);
      tally.add(i, c.label, await runCase(c));
    }
    console.log(tally.line());
    expect(tally.failures, tally.line(20)).toEqual([]);
    // The mutations that must be refused were made and refused: the suite exercises what it claims.
    expect(tally.counts.refused).toBeGreaterThan(CASES / 4);
  }, 240_000);
});
