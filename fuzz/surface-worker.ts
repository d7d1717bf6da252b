/**
 * Runs cases [from, to) of one surface and prints one JSON line per case: {"i", "start": true} before it runs, then
 * {"i", "outcome", "ms", "label", "detail"}. The parent (fuzz/run.ts) reads the lines and kills this process when a
 * case runs past the hang budget, so a case that never returns is counted, not waited for.
 */
import { parseArgs } from 'node:util';
import { runCase } from './fuzz-case';
import { prepareSurfaces, surfaceByName } from './surfaces/index';

const { values } = parseArgs({
  args: process.argv.slice(2).filter((a) => a !== '--'),
  options: { surface: { type: 'string' }, seed: { type: 'string' }, from: { type: 'string' }, to: { type: 'string' } },
});
const surface = surfaceByName(values.surface ?? '');
const seed = Number(values.seed ?? 1);
const from = Number(values.from ?? 0);
const to = Number(values.to ?? 100);

await prepareSurfaces();
for (let i = from; i < to; i++) {
  process.stdout.write(`${JSON.stringify({ i, start: true })}\n`);
  let label = '(case could not be built)';
  let result;
  try {
    const c = surface.caseAt(seed, i);
    label = c.label;
    result = await runCase(c);
  } catch (e) {
    result = { outcome: 'crash' as const, ms: 0, detail: `building the case: ${(e as Error).stack ?? String(e)}` };
  }
  process.stdout.write(`${JSON.stringify({ i, label, ...result })}\n`);
}
