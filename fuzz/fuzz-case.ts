/**
 * The fuzz suite's vocabulary: a case (a labelled input and what a correct loader does with it), the outcome of
 * running one, and the tally per surface that `npm run fuzz` prints as one JSON line.
 *
 * A case's `expect` is the oracle: 'refuse' for inputs built to break a rule the loaders must enforce (a NaN in a
 * weight, a byte the header does not account for, a boolean that is a string, …), 'accept' for inputs that are
 * valid (including valid variants such as merges stored as pairs), and 'either' for blind mutations (a flipped byte
 * in a header) where only a crash or a hang is wrong.
 */
import { mulberry32 } from '../src/util/random';

export type Expectation = 'refuse' | 'accept' | 'either';

export interface FuzzCase {
  /** What the mutation did, e.g. "nonfinite NaN in model.norm.weight (F16)". */
  label: string;
  expect: Expectation;
  /** Loads the input the way the product does; throws to refuse it. */
  run(): unknown | Promise<unknown>;
  /** A refusal's message must match this (the file it names): an error that names nothing is not a good refusal. */
  names: RegExp;
}

export interface FuzzSurface {
  name: string;
  /** The i-th case of a seeded run (deterministic in seed and i). */
  caseAt(seed: number, i: number): FuzzCase;
}

export type Outcome =
  | 'refused' // a named error of the project, where the input is invalid or may be
  | 'accepted' // loaded, where the input is valid or may be
  | 'silent-accept' // loaded although it breaks a rule
  | 'valid-refused' // refused although it is valid
  | 'unnamed-refusal' // refused without naming the file at fault
  | 'crash' // an engine error (TypeError, RangeError, …) or a wrong result
  | 'hang'; // ran past the time budget

export const OUTCOMES: readonly Outcome[] = ['refused', 'accepted', 'silent-accept', 'valid-refused', 'unnamed-refusal', 'crash', 'hang'];
/** The outcomes that fail the suite. */
export const FAILURES: readonly Outcome[] = ['silent-accept', 'valid-refused', 'unnamed-refusal', 'crash', 'hang'];

/** A case runs past this: a hang (the measure: more than 5 s). */
export const HANG_MS = 5000;

const ENGINE_ERRORS = new Set(['Error', 'TypeError', 'RangeError', 'SyntaxError', 'ReferenceError', 'EvalError', 'URIError', 'AggregateError', 'InternalError']);

/** Whether an error is one of the project's own, with a message: a refusal, not an engine failure. */
export function isRefusal(e: unknown): e is Error {
  return e instanceof Error && /Error$/.test(e.name) && !ENGINE_ERRORS.has(e.name) && e.message.trim().length > 0;
}

export interface CaseResult {
  outcome: Outcome;
  ms: number;
  /** The error's name and message, for refusals and crashes. */
  detail?: string;
}

export async function runCase(c: FuzzCase): Promise<CaseResult> {
  const t0 = performance.now();
  let outcome: Outcome;
  let detail: string | undefined;
  try {
    await c.run();
    outcome = c.expect === 'refuse' ? 'silent-accept' : 'accepted';
  } catch (e) {
    detail = e instanceof Error ? `${e.name}: ${e.message.slice(0, 300)}` : String(e);
    if (!isRefusal(e)) outcome = 'crash';
    else if (c.expect === 'accept') outcome = 'valid-refused';
    else outcome = c.names.test(e.message) ? 'refused' : 'unnamed-refusal';
  }
  const ms = performance.now() - t0;
  if (ms > HANG_MS) outcome = 'hang';
  return { outcome, ms, detail };
}

/** Counts per outcome for one surface, and the labels of the cases that went wrong (for the report). */
export class Tally {
  readonly counts = Object.fromEntries(OUTCOMES.map((o) => [o, 0])) as Record<Outcome, number>;
  readonly failures: { index: number; label: string; outcome: Outcome; detail?: string }[] = [];
  cases = 0;
  slowestMs = 0;

  constructor(readonly surface: string) {}

  add(index: number, label: string, r: CaseResult): void {
    this.cases++;
    this.counts[r.outcome]++;
    this.slowestMs = Math.max(this.slowestMs, r.ms);
    if (FAILURES.includes(r.outcome)) {
      this.failures.push({ index, label, outcome: r.outcome, detail: r.detail });
    }
  }

  get failed(): boolean {
    return this.failures.length > 0;
  }

  /** One JSON line: {surface, cases, <outcome>: count…, slowest_ms, failures: [first few]}. */
  line(maxFailures = 5): string {
    return JSON.stringify({ surface: this.surface, cases: this.cases, ...this.counts, slowest_ms: Math.round(this.slowestMs), failures: this.failures.slice(0, maxFailures) });
  }
}

/** A small seeded random source for the mutators (mulberry32, as everywhere in the project). */
export class Rng {
  readonly next: () => number;
  constructor(seed: number) {
    this.next = mulberry32(seed >>> 0 || 0x9e3779b9);
  }
  int(n: number): number {
    return Math.floor(this.next() * n);
  }
  pick<T>(xs: readonly T[]): T {
    return xs[this.int(xs.length)];
  }
}

/** The rng of case i of a seeded run. */
export function caseRng(seed: number, i: number, salt: number): Rng {
  return new Rng(Math.imul(seed + 1, 0x85ebca6b) ^ Math.imul(i + 1, 0xc2b2ae35) ^ salt);
}
