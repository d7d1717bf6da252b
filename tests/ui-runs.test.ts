/**
 * Runs are kept under names of their own: a new run never replaces an old one, a run cut short comes back
 * interrupted, runs are overlaid on one x axis, the settings that differ are listed, and a delete removes only the
 * run it names.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { StepLog } from '../src/trainer/trainer';
import { overlayData } from '../src/ui/runs/overlay';
import {
  afterReload,
  defaultRunName,
  finalLoss,
  newRunId,
  RUN_RECORD_VERSION,
  settingsDiff,
  stepsToCheckpoint,
  xOf,
  type RunRecord,
} from '../src/ui/runs/run-record';
import { MemoryRunStorage, parseRecord } from '../src/ui/runs/run-storage';

const model = { kind: 'default' as const, nameOrPath: 'peft-studio/austen-2m', format: 'nf4' as const };

function steps(n: number, loss0: number, val: number[] = []): StepLog[] {
  return Array.from({ length: n }, (_, i) => ({
    step: i + 1,
    loss: loss0 - i * 0.1,
    val_loss: val.includes(i + 1) ? loss0 - i * 0.1 + 0.05 : null,
    lr: 1e-3,
    tokens_per_s: 100,
    grad_norm: 1,
  }));
}

function record(id: string, over: Partial<RunRecord> = {}): RunRecord {
  return {
    version: RUN_RECORD_VERSION,
    id,
    name: id,
    status: 'completed',
    startedAt: '2026-12-04T00:00:00.000Z',
    endedAt: '2026-12-04T00:05:00.000Z',
    trainSeconds: 300,
    model,
    method: {} as RunRecord['method'],
    peftMethod: { id: 'lora', options: { r: 8, lora_alpha: 16 } },
    settings: { lr: 2e-4, batchSize: 4, maxSteps: 10 },
    maxLength: 64,
    valSplit: 0,
    skipBadRecords: false,
    data: { spec: null, sourceKind: 'sample', sampleName: 'pirate', bytes: 100 },
    fromCurrentAdapter: false,
    totalSteps: 10,
    stepsPerEpoch: 5,
    steps: steps(10, 3),
    checkpointStep: 10,
    log: [],
    error: null,
    hasAdapter: false,
    ...over,
  };
}

describe('run names', () => {
  it('gives every run an id of its own, usable as an OPFS folder name', () => {
    const at = new Date('2026-12-04T00:06:07.123Z');
    const method = { id: 'lora' as const, options: {} };
    const a = newRunId(model, method, at);
    const b = newRunId(model, method, at);
    expect(a).not.toBe(b);
    for (const id of [a, b]) expect(id).toMatch(/^austen-2m-lora-20261204T000607Z-[a-z0-9]{4}$/);
    expect(newRunId({ ...model, nameOrPath: 'my model/with spaces!' }, method, at, () => 0)).toBe('with-spaces-lora-20261204T000607Z-0000');
  });

  it('names a run after its model, method and local start time', () => {
    const at = new Date(2026, 11, 4, 9, 5, 7);
    expect(defaultRunName({ ...model, kind: 'hub', repo: 'HuggingFaceTB/SmolLM2-135M' }, { id: 'prompt_tuning' as never, options: {} }, at)).toBe(
      'SmolLM2-135M · prompt_tuning · 2026-12-04 09:05:07',
    );
  });
});

describe('a run read back', () => {
  it('comes back interrupted when it was running, and otherwise as it was', () => {
    expect(afterReload(record('a', { status: 'running' })).status).toBe('interrupted');
    expect(afterReload(record('a', { status: 'stopped' })).status).toBe('stopped');
    expect(parseRecord(JSON.stringify(record('a', { status: 'running' })))?.status).toBe('interrupted');
  });

  it('refuses what is not a run record', () => {
    expect(parseRecord('{')).toBeNull();
    expect(parseRecord(JSON.stringify({ ...record('a'), version: 2 }))).toBeNull();
    expect(parseRecord(JSON.stringify({ ...record('a'), steps: 'x' }))).toBeNull();
  });

  it('shows its curve up to the checkpoint a resume continues from', () => {
    const r = record('a', { checkpointStep: 4 });
    expect(stepsToCheckpoint(r).map((s) => s.step)).toEqual([1, 2, 3, 4]);
    expect(stepsToCheckpoint({ ...r, checkpointStep: null })).toEqual([]);
    expect(finalLoss(r)).toBeCloseTo(2.1, 10);
  });
});

describe('runs side by side', () => {
  it('lists only the settings that differ, a missing one included', () => {
    const a = record('a');
    const b = record('b', { peftMethod: { id: 'lora', options: { r: 16, lora_alpha: 16 } }, settings: { lr: 1e-3, batchSize: 4, maxSteps: 10 } });
    const c = record('c', { settings: { lr: 2e-4, batchSize: 4, maxSteps: 10, warmupSteps: 2 } });
    expect(settingsDiff([a, b])).toEqual([
      { key: 'r', values: ['8', '16'] },
      { key: 'lr', values: ['0.0002', '0.001'] },
    ]);
    expect(settingsDiff([a, c])).toEqual([{ key: 'warmupSteps', values: [null, '2'] }]);
    expect(settingsDiff([a, record('a2')])).toEqual([]);
  });

  it('puts runs of different lengths on one x axis, by step or by epoch', () => {
    const a = record('a', { steps: steps(4, 3, [2, 4]), stepsPerEpoch: 2 });
    const b = record('b', { steps: steps(6, 2), stepsPerEpoch: 3 });
    const byStep = overlayData([a, b], 'step');
    expect(byStep.x).toEqual([1, 2, 3, 4, 5, 6]);
    expect(byStep.series.map((s) => `${s.runId}:${s.kind}`)).toEqual(['a:train', 'a:validation', 'b:train']);
    const round = (v: (number | null)[]) => v.map((x) => (x === null ? null : Math.round(x * 1e6) / 1e6));
    expect(round(byStep.series[0].values.slice(3))).toEqual([2.7, null, null]);
    expect(round(byStep.series[1].values)).toEqual([null, 2.95, null, 2.75, null, null]);
    const byEpoch = overlayData([a, b], 'epoch');
    // a: steps 1..4 at epochs 0.5, 1, 1.5, 2; b: steps 1..6 at 1/3 … 2.
    expect(byEpoch.x[0]).toBeCloseTo(1 / 3, 12);
    expect(byEpoch.x.at(-1)).toBe(2);
    const at2 = byEpoch.x.indexOf(2);
    expect(byEpoch.series[0].values[at2]).toBeCloseTo(2.7, 12);
    expect(byEpoch.series[2].values[at2]).toBeCloseTo(1.5, 12);
    expect(xOf(3, 'epoch', null)).toBe(3);
  });
});

describe('the runs store', () => {
  let storage: MemoryRunStorage;
  beforeEach(() => {
    vi.resetModules();
    storage = new MemoryRunStorage();
  });
  afterEach(() => vi.useRealTimers());

  async function freshStore() {
    vi.resetModules();
    const m = await import('../src/ui/stores/runs');
    m.setRunStorage(storage);
    return m.useRuns;
  }

  it('keeps every run across a reload, and deletes only the one confirmed', async () => {
    let runs = await freshStore();
    await runs.getState().put(record('older', { startedAt: '2026-12-04T00:00:00.000Z' }));
    await runs.getState().put(record('newer', { startedAt: '2026-12-04T01:00:00.000Z', status: 'running' }));
    await runs.getState().saveAdapter('older', { 'adapter_config.json': new Uint8Array(10), 'adapter_model.safetensors': new Uint8Array(90) });

    // A reload: a new store reads the kept runs.
    runs = await freshStore();
    await runs.getState().load();
    expect(runs.getState().records.map((r) => [r.id, r.status])).toEqual([
      ['newer', 'interrupted'],
      ['older', 'completed'],
    ]);
    expect(runs.getState().records[1].hasAdapter).toBe(true);

    runs.getState().toggleOverlay('older');
    runs.getState().toggleOverlay('newer');
    expect(runs.getState().overlay).toEqual(['older', 'newer']);

    await runs.getState().askDelete('older');
    expect(runs.getState().pendingDelete).toMatchObject({ id: 'older', adapterBytes: 100, steps: 10 });
    runs.getState().cancelDelete();
    expect(storage.records.has('older')).toBe(true);

    await runs.getState().askDelete('older');
    await runs.getState().confirmDelete();
    expect(storage.records.has('older')).toBe(false);
    expect(storage.adapters.has('older')).toBe(false);
    expect(storage.records.has('newer')).toBe(true);
    expect(runs.getState().overlay).toEqual(['newer']);

    runs = await freshStore();
    await runs.getState().load();
    expect(runs.getState().records.map((r) => r.id)).toEqual(['newer']);
  });

  it('renames a run, and batches the writes of a run in progress', async () => {
    vi.useFakeTimers();
    const runs = await freshStore();
    await runs.getState().put(record('a', { status: 'running', steps: [] }));
    await runs.getState().patch('a', { steps: steps(3, 3) });
    expect(parseRecord(storage.records.get('a')!)!.steps).toHaveLength(0);
    await vi.advanceTimersByTimeAsync(2500);
    expect(parseRecord(storage.records.get('a')!)!.steps).toHaveLength(3);
    runs.getState().rename('a', '  pirate, r 8  ');
    await vi.runAllTimersAsync();
    expect(parseRecord(storage.records.get('a')!)!.name).toBe('pirate, r 8');
    runs.getState().rename('a', '   ');
    expect(runs.getState().records[0].name).toBe('pirate, r 8');
  });

  it('does not delete a run that is training', async () => {
    const runs = await freshStore();
    await runs.getState().put(record('live', { status: 'running' }));
    await runs.getState().askDelete('live');
    expect(runs.getState().pendingDelete).toBeNull();
  });
});
