/**
 * The PyTorch peer of `bench:train --peer torch`: the same LoRA training step (shapes, rank, targets, AdamW,
 * clipping) run by bench/peers/torch_lora_step.py in PyTorch on the CPU, once per model and thread count.
 *
 * The peer is optional. torchPeerAvailable() says whether an interpreter with torch is there (and how to get one
 * when it is not), so the benchmark can skip the peer rather than fail; runTorchPeer() writes a model's files into
 * a temporary folder, runs the script on it and returns its timing and losses.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import * as os from 'node:os';
import { basename, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** What the benchmark prints when the peer is skipped: how to get it. */
export const TORCH_PEER_HINT = 'python3 with torch not found: on Debian/Ubuntu `apt-get install python3-torch`, or `pip install torch`';

const SCRIPT = fileURLToPath(new URL('./peers/torch_lora_step.py', import.meta.url));

export type TorchPeerAvailability = { ok: true; version: string; python: string } | { ok: false; reason: string };

export interface TorchPeerOptions {
  batch: number;
  seq: number;
  /** Timed steps, after one warm-up step. */
  steps: number;
  /** torch.set_num_threads (and the BLAS and OpenMP thread variables); allThreads() for every core. */
  threads: number;
  /** LoRA rank and alpha; 8 and 16 by default, as bench/train.ts's LoRA. */
  rank?: number;
  alpha?: number;
  /** Seed of the token ids (drawn as bench/train.ts's examples() draws them) and of LoRA's A; 7 by default. */
  seed?: number;
  /** Peak learning rate of the linear schedule; 1e-3 by default, as bench/train.ts sets it. */
  lr?: number;
  /** The interpreter; by default the one torchPeerAvailable() found. */
  python?: string;
  /** Wall-clock limit of the script; 10 minutes by default. */
  timeoutMs?: number;
}

export interface TorchPeerResult {
  /** Median of the timed steps (the upper median for an even count, as bench/train.ts takes it). */
  msPerStep: number;
  threads: number;
  /** torch.__version__. */
  version: string;
  /** The BLAS library torch's matrix products ran on (a path), or "unknown". */
  blas: string;
  /** OMP_WAIT_POLICY the run had: PASSIVE unless the environment set it (torch_lora_step.py says why). */
  ompWaitPolicy: string;
  /** Trainable (LoRA) parameters. */
  params: number;
  /** The warm-up step's loss (with B = 0, the base model's loss on the first batch) and the last step's. */
  lossFirst: number;
  lossLast: number;
  timesMs: number[];
}

/** Every hardware thread of this machine: what "all threads" means for the peer. */
export function allThreads(): number {
  // availableParallelism honours CPU affinity where cpus() lists every core; Node 18.14 added it.
  return os.availableParallelism?.() ?? os.cpus().length;
}

/**
 * A warning when torch runs its matrix products on Debian's reference BLAS (libblas3), which python3-torch pulls
 * in when its recommended OpenBLAS is not installed: that BLAS is unoptimized and single-threaded, so the peer
 * would be measured far below what PyTorch on this CPU does. Null for any other library.
 */
export function blasWarning(blas: string): string | null {
  if (!/\/blas\/libblas\.so/.test(blas)) return null;
  return (
    `torch uses the reference BLAS (${blas}), unoptimized and single-threaded, so its numbers understate PyTorch: ` +
    'on Debian/Ubuntu `apt-get install libopenblas0` gives it OpenBLAS'
  );
}

interface Run {
  stdout: string;
  stderr: string;
}

function run(file: string, args: string[], timeoutMs: number): Promise<Run> {
  return new Promise((resolve, reject) => {
    execFile(file, args, { timeout: timeoutMs, maxBuffer: 16 * 1024 * 1024 }, (error, stdout, stderr) => {
      if (error) reject(Object.assign(error, { stdout, stderr }));
      else resolve({ stdout, stderr });
    });
  });
}

/** The last lines of a process's stderr, for an error message that stays readable. */
function tail(text: string, chars = 2000): string {
  const t = text.trim();
  return t.length > chars ? `…${t.slice(-chars)}` : t;
}

let availability: Promise<TorchPeerAvailability> | undefined;

/**
 * Whether an interpreter that imports torch is there. `python3` on the PATH comes first; Debian's python3-torch
 * installs into the system interpreter, which a pyenv or virtualenv `python3` earlier on the PATH does not see,
 * so /usr/bin/python3 is tried next. PEFT_TORCH_PYTHON names another one to try first. The answer is cached.
 */
export function torchPeerAvailable(): Promise<TorchPeerAvailability> {
  availability ??= (async () => {
    const candidates = [...new Set([process.env.PEFT_TORCH_PYTHON, 'python3', '/usr/bin/python3'].filter((p): p is string => !!p))];
    const tried: string[] = [];
    for (const python of candidates) {
      try {
        const { stdout } = await run(python, ['-c', 'import torch; print(torch.__version__)'], 60_000);
        const version = stdout.trim().split('\n').pop() ?? '';
        if (version) return { ok: true, version, python };
        tried.push(`${python}: printed no version`);
      } catch (e) {
        const err = e as Error & { code?: unknown; stderr?: string };
        const why = err.code === 'ENOENT' ? 'not found' : tail(err.stderr || err.message, 200).split('\n').pop();
        tried.push(`${python}: ${why}`);
      }
    }
    return { ok: false, reason: `${TORCH_PEER_HINT} (tried ${tried.join('; ')})` };
  })();
  return availability;
}

/**
 * Runs the peer's step on a model given as its files (config.json, model.safetensors or shards, anything else is
 * written too and ignored): `steps` timed steps after one warm-up step, with `threads` threads.
 */
export async function runTorchPeer(files: Map<string, Uint8Array>, opts: TorchPeerOptions): Promise<TorchPeerResult> {
  for (const [name, v] of [['batch', opts.batch], ['seq', opts.seq], ['steps', opts.steps], ['threads', opts.threads]] as const) {
    if (!Number.isInteger(v) || v < 1) throw new RangeError(`runTorchPeer: ${name} must be a positive integer, got ${v}`);
  }
  if (!files.has('config.json')) throw new Error('runTorchPeer: the model has no config.json');
  let python = opts.python;
  if (python === undefined) {
    const found = await torchPeerAvailable();
    if (!found.ok) throw new Error(`runTorchPeer: ${found.reason}`);
    python = found.python;
  }
  const dir = await mkdtemp(join(os.tmpdir(), 'peft-torch-peer-'));
  try {
    for (const [name, bytes] of files) {
      // The files are a checkpoint folder's, flat; a name with a folder in it would write outside the temp folder.
      if (basename(name) !== name || name === '..' || name === '.') throw new Error(`runTorchPeer: "${name}" is not a plain file name`);
      await writeFile(join(dir, name), bytes);
    }
    const args = [
      SCRIPT, '--model', dir, '--batch', String(opts.batch), '--seq', String(opts.seq), '--steps', String(opts.steps),
      '--threads', String(opts.threads), '--rank', String(opts.rank ?? 8), '--alpha', String(opts.alpha ?? 16),
      '--seed', String(opts.seed ?? 7), '--lr', String(opts.lr ?? 1e-3),
    ];
    let out: Run;
    try {
      out = await run(python, args, opts.timeoutMs ?? 600_000);
    } catch (e) {
      const err = e as Error & { killed?: boolean; stderr?: string };
      const what = err.killed ? `was stopped after ${(opts.timeoutMs ?? 600_000) / 1000} s` : 'failed';
      throw new Error(`the torch peer (${python} ${basename(SCRIPT)}, ${opts.threads} threads) ${what}: ${tail(err.stderr || err.message)}`);
    }
    const line = out.stdout.trim().split('\n').reverse().find((l) => l.startsWith('{'));
    if (line === undefined) {
      throw new Error(`the torch peer printed no JSON line; stdout: ${tail(out.stdout, 500) || '(empty)'}; stderr: ${tail(out.stderr) || '(empty)'}`);
    }
    const r = JSON.parse(line) as {
      ms_per_step: number; threads: number; torch: string; blas: string; omp_wait_policy: string; params: number;
      loss_first: number; loss_last: number; times_ms: number[];
    };
    return {
      msPerStep: r.ms_per_step, threads: r.threads, version: r.torch, blas: r.blas, ompWaitPolicy: r.omp_wait_policy, params: r.params,
      lossFirst: r.loss_first, lossLast: r.loss_last, timesMs: r.times_ms,
    };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
