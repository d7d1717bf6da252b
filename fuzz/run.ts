/**
 * `npm run fuzz`: the seeded fuzz campaign over the loaders — safetensors checkpoints, config.json, datasets, adapter
 * folders, tokenizer files — and a few hostile command lines. Each surface runs in a child process
 * (fuzz/surface-worker.ts) that reports every case; a case that runs past the hang budget is killed, counted as a
 * hang, and the surface goes on from the next case. Prints one JSON line per surface with counts per outcome.
 *
 *   npm run fuzz -- [--cases N (per surface, default 2000)] [--seed S] [--surface NAME] [--no-cli]
 *
 * Exit status 1 when any case crashed, hung, was silently accepted, was refused although valid, or was refused
 * without naming the file at fault.
 */
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import { cliCases, runCliCase } from './cli-runs';
import { HANG_MS, Tally, type Outcome } from './fuzz-case';
import { SURFACES } from './surfaces/index';

const { values } = parseArgs({
  args: process.argv.slice(2).filter((a) => a !== '--'),
  options: { cases: { type: 'string' }, seed: { type: 'string' }, surface: { type: 'string' }, 'no-cli': { type: 'boolean' } },
});
const cases = Number(values.cases ?? 2000);
const seed = Number(values.seed ?? 1);
const VITE_NODE = new URL('../node_modules/vite-node/dist/cli.mjs', import.meta.url).pathname;
const ROOT = new URL('..', import.meta.url).pathname;
const WORKER = new URL('./surface-worker.ts', import.meta.url).pathname;
/** Wall time without a report before a case is declared hung (its own measure is HANG_MS; this allows for start-up). */
const WATCHDOG_MS = 3 * HANG_MS;

interface Report {
  i: number;
  start?: boolean;
  label?: string;
  outcome?: Outcome;
  ms?: number;
  detail?: string;
}

/** Runs cases [from, cases) in a child; resolves with the index to resume from (cases when done). */
function runChunk(surface: string, from: number, tally: Tally): Promise<number> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [VITE_NODE, '--root', ROOT, WORKER, '--', '--surface', surface, '--seed', String(seed), '--from', String(from), '--to', String(cases)], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let current = from;
    let started = false;
    let timer: NodeJS.Timeout | null = null;
    const arm = () => {
      if (timer) clearTimeout(timer);
      timer = setTimeout(() => {
        tally.add(current, `case ${current} (no report within ${WATCHDOG_MS / 1000} s)`, { outcome: 'hang', ms: WATCHDOG_MS });
        child.kill('SIGKILL');
      }, WATCHDOG_MS);
    };
    arm();
    createInterface({ input: child.stdout }).on('line', (line) => {
      let r: Report;
      try {
        r = JSON.parse(line);
      } catch {
        return; // a stray line from the code under test
      }
      if (r.start) {
        current = r.i;
        started = true;
      } else if (r.outcome) {
        tally.add(r.i, r.label ?? '', { outcome: r.outcome, ms: r.ms ?? 0, detail: r.detail });
        current = r.i + 1;
        started = false;
      }
      arm();
    });
    child.on('close', () => {
      if (timer) clearTimeout(timer);
      // Killed mid-case: that case is counted; go on after it. Ended early otherwise: count the case it was in.
      if (current < cases && started) {
        if (!tally.failures.some((f) => f.index === current)) tally.add(current, `case ${current} (the worker died)`, { outcome: 'crash', ms: 0 });
        resolve(current + 1);
      } else if (current === from && from < cases) {
        // The worker died before its first case (it could not start): stop this surface rather than loop.
        tally.add(current, 'the surface worker did not start', { outcome: 'crash', ms: 0 });
        resolve(cases);
      } else resolve(current);
    });
  });
}

let failed = false;
for (const s of SURFACES) {
  if (values.surface && values.surface !== s.name) continue;
  const tally = new Tally(s.name);
  for (let next = 0; next < cases; ) next = await runChunk(s.name, next, tally);
  console.log(tally.line());
  failed ||= tally.failed;
}

if (!values['no-cli'] && (!values.surface || values.surface === 'cli')) {
  const tally = new Tally('cli');
  const { cases: runs } = cliCases();
  for (const [i, c] of runs.entries()) tally.add(i, c.label, await runCliCase(c));
  console.log(tally.line(runs.length));
  failed ||= tally.failed;
}
process.exit(failed ? 1 : 0);
