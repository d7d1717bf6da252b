/**
 * Training in the kernel Web Worker through its typed protocol (train-start with a stream of train-log and
 * train-progress messages, train-pause / train-resume / train-stop, errors as messages), driven from the page
 * through `window.__peftStudio.client`. Tiny Llama model, six pasted records, a few steps: SwiftShader is slow.
 */
import { expect, test, type Page } from '@playwright/test';
import { parseSafetensors } from '../src/model-io/safetensors';
import type { StepLog, TrainerEvent } from '../src/trainer/trainer';
import type { RequestBody, TrainControlResult } from '../src/worker/protocol';
import { makeTinyModel } from '../tests/fixtures/tiny-models';
import { startHubServer } from '../tests/helpers/hub-server';

type StartBody = RequestBody<'train-start'>;
type ControlKind = 'train-pause' | 'train-resume' | 'train-stop';

/** What the page records of one run (adapter files as base64, so that they cross to Node unchanged). */
interface PageRun {
  id: number;
  /** Every stream message in arrival order: progress events and log lines. */
  events: TrainerEvent[];
  logs: string[];
  /** Step numbers of the step events, in arrival order. */
  steps: number[];
  controls: { kind: ControlKind; result: TrainControlResult | null; error: string | null; stepsAtAnswer: number[] }[];
  /** Control requests the page sends as soon as the event of the given step arrives. */
  controlAt: { step: number; kind: ControlKind }[];
  result: { log: StepLog[]; reason: string; step: number; totalSteps: number; resumedFromStep: number | null; files: Record<string, string> } | null;
  error: { name: string; message: string } | null;
}

declare global {
  interface Window {
    __trainRuns?: Record<string, PageRun>;
  }
}

const TASK: [string, string][] = [
  ['cat says', ' meow'],
  ['dog says', ' woof'],
  ['cow says', ' moo'],
  ['owl says', ' hoot'],
  ['duck says', ' quack'],
  ['bee says', ' buzz'],
];
const JSONL = TASK.map(([prompt, completion]) => JSON.stringify({ prompt, completion })).join('\n') + '\n';

function startBody(overrides: Partial<StartBody> & { settings?: StartBody['settings'] } = {}): StartBody {
  return {
    kind: 'train-start',
    model: { kind: 'tiny', arch: 'llama' },
    data: { text: JSONL },
    method: { id: 'lora', options: { r: 8, lora_alpha: 16, target_modules: 'all-linear' } },
    quant: 'f32',
    maxLength: 32,
    valSplit: 0,
    skipBadRecords: false,
    runName: 'e2e-train',
    resume: false,
    ...overrides,
    settings: { lr: 1e-2, schedule: 'constant', batchSize: 6, seed: 7, maxSteps: 20, checkpointEvery: 5, ...overrides.settings },
  };
}

/**
 * Starts a run in the page and records everything it streams. `controlAt` sends control requests from the
 * page's message handler as soon as the given step's event arrives (so that they do not depend on how fast
 * the test polls).
 */
async function startRun(page: Page, key: string, body: StartBody, controlAt: { step: number; kind: ControlKind }[] = []): Promise<number> {
  return page.evaluate(
    ({ key, body, controlAt }) => {
      const client = window.__peftStudio!.client;
      const runs = (window.__trainRuns ??= {});
      const run: PageRun = { id: -1, events: [], logs: [], steps: [], controls: [], controlAt: controlAt.slice(), result: null, error: null };
      runs[key] = run;
      const control = (kind: ControlKind) => {
        const entry: PageRun['controls'][number] = { kind, result: null, error: null, stepsAtAnswer: [] };
        run.controls.push(entry);
        client.request({ kind, runId: run.id }).then(
          (r) => {
            entry.stepsAtAnswer = run.steps.slice();
            entry.result = { runId: r.runId, step: r.step, state: r.state };
          },
          (e: Error) => (entry.error = `${e.name}: ${e.message}`),
        );
      };
      const toBase64 = (bytes: Uint8Array) => {
        let s = '';
        for (let i = 0; i < bytes.length; i += 0x8000) s += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
        return btoa(s);
      };
      const handle = client.stream(body, (m) => {
        if (m.kind === 'train-log') {
          run.logs.push(m.message);
          return;
        }
        run.events.push(m.event);
        if (m.event.kind === 'step') {
          const step = m.event.log.step;
          run.steps.push(step);
          for (const c of run.controlAt.filter((p) => p.step <= step)) {
            run.controlAt.splice(run.controlAt.indexOf(c), 1);
            control(c.kind);
          }
        }
      });
      run.id = handle.id;
      handle.then(
        (r) => {
          const files: Record<string, string> = {};
          for (const [name, bytes] of Object.entries(r.adapterFiles)) files[name] = toBase64(bytes);
          run.result = { log: r.log, reason: r.reason, step: r.step, totalSteps: r.totalSteps, resumedFromStep: r.resumedFromStep, files };
        },
        (e: Error) => (run.error = { name: e.name, message: e.message }),
      );
      return handle.id;
    },
    { key, body, controlAt },
  );
}

async function getRun(page: Page, key: string): Promise<PageRun> {
  return page.evaluate((key) => window.__trainRuns![key], key);
}

/** Waits until the run has a result or an error, and returns what the page recorded. */
async function finished(page: Page, key: string, timeout = 110_000): Promise<PageRun> {
  await page.waitForFunction((key) => {
    const run = window.__trainRuns?.[key];
    return !!run && (run.result !== null || run.error !== null);
  }, key, { timeout });
  return getRun(page, key);
}

/** Sends a control request from the page; returns the answer and the step events seen when it arrived. */
async function control(page: Page, key: string, kind: ControlKind): Promise<{ result: TrainControlResult; stepsAtAnswer: number[] }> {
  return page.evaluate(
    async ({ key, kind }) => {
      const run = window.__trainRuns![key];
      const r = await window.__peftStudio!.client.request({ kind, runId: run.id }, 60_000);
      return { result: { runId: r.runId, step: r.step, state: r.state }, stepsAtAnswer: run.steps.slice() };
    },
    { key, kind },
  );
}

async function openStudio(page: Page): Promise<void> {
  await page.goto('/');
  await page.waitForFunction(() => window.__peftStudio !== undefined);
}

function consecutive(from: number, to: number): number[] {
  return Array.from({ length: to - from + 1 }, (_, i) => from + i);
}

test('trains a tiny Llama in the worker: progress streams, the loss halves, the result carries a PEFT adapter', async ({ page }) => {
  await openStudio(page);
  const body = startBody();
  await startRun(page, 'main', body);
  const run = await finished(page, 'main');
  expect(run.error).toBeNull();
  const result = run.result!;

  // Six examples in batches of six: one step per epoch.
  expect(run.events[0]).toEqual({ kind: 'started', totalSteps: 20, resumedFromStep: null, stepsPerEpoch: 1 });
  // The first step compiles the shaders and says so as it goes; the later steps compile none.
  const compiling = run.events.filter((e) => e.kind === 'compiling');
  expect(compiling.length).toBeGreaterThan(0);
  expect(compiling.every((e) => (e as { step: number }).step === 1)).toBe(true);
  expect(run.steps).toEqual(consecutive(1, 20));
  expect(run.events.filter((e) => e.kind === 'checkpoint').map((e) => (e as { step: number }).step)).toEqual([5, 10, 15, 20]);
  expect(run.events.at(-1)).toEqual({ kind: 'done', step: 20, reason: 'completed' });
  expect(run.logs.some((l) => l.startsWith('trainable params:'))).toBe(true);
  expect(run.logs.some((l) => l.includes('6 training and 0 validation examples'))).toBe(true);

  expect(result.reason).toBe('completed');
  expect(result.log.map((l) => l.step)).toEqual(consecutive(1, 20));
  const first = result.log[0].loss;
  const last = result.log.at(-1)!.loss;
  expect(last).toBeLessThan(0.5 * first);

  expect(Object.keys(result.files).sort()).toEqual(['README.md', 'adapter_config.json', 'adapter_model.safetensors']);
  const st = parseSafetensors(new Uint8Array(Buffer.from(result.files['adapter_model.safetensors'], 'base64')), 'adapter_model.safetensors');
  expect(st.tensors.get('base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight')?.shape).toEqual([8, 32]);
  expect(st.tensors.has('base_model.model.model.layers.1.mlp.down_proj.lora_B.weight')).toBe(true);
  const config = JSON.parse(Buffer.from(result.files['adapter_config.json'], 'base64').toString('utf8')) as Record<string, unknown>;
  expect(config).toMatchObject({ peft_type: 'LORA', r: 8, lora_alpha: 16, base_model_name_or_path: 'tiny-llama' });
});

test('pause holds the run at a step boundary, resume continues with the next step, stop ends it with reason "stopped"', async ({ page }) => {
  await openStudio(page);
  const runId = await startRun(page, 'ctl', startBody({ runName: 'e2e-control', settings: { maxSteps: 60, checkpointEvery: 0 } }), [
    { step: 2, kind: 'train-pause' },
  ]);

  // One run per worker.
  const second = await page.evaluate(async (body) => {
    try {
      await window.__peftStudio!.client.request(body);
      return null;
    } catch (e) {
      return { name: (e as Error).name, message: (e as Error).message };
    }
  }, startBody({ runName: 'e2e-second' }));
  expect(second?.name).toBe('TrainingBusyError');
  expect(second?.message).toContain(`train-start request ${runId}`);

  // The pause is answered once it has taken effect: the last step event before the answer is its step.
  await page.waitForFunction(() => {
    const pause = window.__trainRuns!.ctl.controls[0];
    return pause !== undefined && (pause.result !== null || pause.error !== null);
  });
  const atPause = await getRun(page, 'ctl');
  const paused = atPause.controls[0];
  expect(paused.error).toBeNull();
  expect(paused.result).toMatchObject({ runId, state: 'paused' });
  const pausedAt = paused.result!.step;
  expect(pausedAt).toBeGreaterThanOrEqual(2);
  expect(paused.stepsAtAnswer).toEqual(consecutive(1, pausedAt));

  // Paused: no step arrives while we look. (This wait is the observation window, not a synchronization.)
  await page.waitForTimeout(1500);
  const afterWindow = await getRun(page, 'ctl');
  expect(afterWindow.steps).toEqual(consecutive(1, pausedAt));
  expect(afterWindow.events).toEqual(atPause.events);
  // Stop two steps after the pause, sent by the page as that step's event arrives (set before resuming, so that
  // a fast GPU cannot finish the run first).
  await page.evaluate((step) => window.__trainRuns!.ctl.controlAt.push({ step, kind: 'train-stop' }), pausedAt + 2);
  const resumed = await control(page, 'ctl', 'train-resume');
  expect(resumed.result).toEqual({ runId, step: pausedAt, state: 'running' });
  expect(resumed.stepsAtAnswer).toEqual(consecutive(1, pausedAt));

  const run = await finished(page, 'ctl');
  expect(run.controls[1]).toMatchObject({ kind: 'train-stop', error: null, result: { runId, state: 'stopping' } });
  expect(run.error).toBeNull();
  expect(run.result!.reason).toBe('stopped');
  const end = run.result!.step;
  expect(end).toBeGreaterThanOrEqual(pausedAt + 2);
  expect(end).toBeLessThan(60);
  expect(run.steps).toEqual(consecutive(1, end));
  expect(run.result!.log.map((l) => l.step)).toEqual(consecutive(1, end));
  expect(run.events.at(-1)).toEqual({ kind: 'done', step: end, reason: 'stopped' });
  expect(Object.keys(run.result!.files)).toContain('adapter_model.safetensors');

  // The run is over: its id names no run any more.
  const late = await page.evaluate(async (id) => {
    try {
      await window.__peftStudio!.client.request({ kind: 'train-pause', runId: id });
      return null;
    } catch (e) {
      return (e as Error).name;
    }
  }, runId);
  expect(late).toBe('NoSuchRunError');
});

test('a run resumes from its OPFS checkpoint after a page reload', async ({ page }) => {
  const settings = { maxSteps: 12, checkpointEvery: 5 };
  await openStudio(page);
  await startRun(page, 'before', startBody({ runName: 'e2e-resume', settings }), [{ step: 7, kind: 'train-stop' }]);
  const before = await finished(page, 'before');
  expect(before.error).toBeNull();
  expect(before.result!.reason).toBe('stopped');
  // Stopped after step 7 or a step later, before the checkpoint of step 10.
  expect(before.result!.step).toBeGreaterThanOrEqual(7);
  expect(before.result!.step).toBeLessThan(10);
  expect(before.events.filter((e) => e.kind === 'checkpoint').map((e) => (e as { step: number }).step)).toEqual([5]);

  await page.reload();
  await page.waitForFunction(() => window.__peftStudio !== undefined);
  await startRun(page, 'after', startBody({ runName: 'e2e-resume', settings, resume: true }));
  const after = await finished(page, 'after');
  expect(after.error).toBeNull();
  expect(after.events[0]).toEqual({ kind: 'started', totalSteps: 12, resumedFromStep: 5, stepsPerEpoch: 1 });
  expect(after.logs.some((l) => l.startsWith('resuming from step 5'))).toBe(true);
  expect(after.steps[0]).toBe(6);
  expect(after.steps).toEqual(consecutive(6, 12));
  const result = after.result!;
  expect(result.reason).toBe('completed');
  expect(result.resumedFromStep).toBe(5);
  expect(result.log.map((l) => l.step)).toEqual(consecutive(1, 12));
  // Steps 1–5 come from the checkpoint; steps 6 and 7 repeat the interrupted run's losses.
  expect(result.log.slice(0, 5)).toEqual(before.result!.log.slice(0, 5));
  for (const i of [5, 6]) expect(result.log[i].loss).toBeCloseTo(before.result!.log[i].loss, 5);
});

test('bad data: an invalid JSON record is an error message naming its line', async ({ page }) => {
  await openStudio(page);
  const lines = JSONL.trimEnd().split('\n');
  lines[2] = '{"prompt": "cow says", "completion": " moo"'; // line 3: the closing brace is missing
  await startRun(page, 'bad', startBody({ runName: 'e2e-bad', data: { text: lines.join('\n') } }));
  const run = await finished(page, 'bad');
  expect(run.result).toBeNull();
  expect(run.error?.name).toBe('DatasetError');
  expect(run.error?.message).toContain('line 3:');
  expect(run.error?.message).toContain('1 record has a problem');
  expect(run.events).toEqual([]);

  // A malformed request is refused by the protocol itself, also as an error message.
  const refused = await page.evaluate(async () => {
    try {
      await window.__peftStudio!.client.request({ kind: 'train-pause', runId: 'x' as unknown as number });
      return null;
    } catch (e) {
      return `${(e as Error).name}: ${(e as Error).message}`;
    }
  });
  expect(refused).toContain('TypeError: train-pause needs an integer runId');
});

test('a model from the Hub is downloaded once: after a reload it comes from Cache Storage', async ({ page }) => {
  const hub = await startHubServer({ 'peft-studio/tiny-qwen2': { files: makeTinyModel('qwen2') } });
  try {
    const body = startBody({
      model: { kind: 'hub', repo: 'peft-studio/tiny-qwen2', revision: 'main', endpoint: hub.endpoint },
      runName: 'e2e-hub',
      settings: { maxSteps: 1, checkpointEvery: 0 },
    });
    await openStudio(page);
    await startRun(page, 'first', body);
    const first = await finished(page, 'first');
    expect(first.error).toBeNull();
    const downloads = hub.requests.filter((r) => r.method === 'GET').map((r) => r.path);
    expect(downloads).toContain('/peft-studio/tiny-qwen2/resolve/main/model.safetensors');
    expect(first.logs.some((l) => l.includes('model.safetensors'))).toBe(true);

    hub.requests.length = 0;
    await page.reload();
    await page.waitForFunction(() => window.__peftStudio !== undefined);
    await startRun(page, 'second', body);
    const second = await finished(page, 'second');
    expect(second.error).toBeNull();
    expect(second.result!.log).toHaveLength(1);
    expect(hub.requests).toEqual([]);

    // A missing repo: the error names the repo and the file, and says what to check.
    await startRun(page, 'missing', startBody({ model: { kind: 'hub', repo: 'peft-studio/no-such-model', endpoint: hub.endpoint }, runName: 'e2e-hub-missing' }));
    const missing = await finished(page, 'missing');
    expect(missing.error?.message).toMatch(/peft-studio\/no-such-model.*config\.json|config\.json.*peft-studio\/no-such-model/);
  } finally {
    await hub.close();
  }
});
