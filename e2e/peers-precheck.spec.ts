/**
 * The peer benchmark's correctness pre-check (bench/peers/page.ts), without timing, at a small shape: TF.js's
 * train step and ORT's forward must agree with ours, the page's verdicts must match a float64 reference
 * computed here, and a peer given wrong math on purpose must fail the pre-check. Nothing about time is asserted.
 */
import { expect, test, type Page } from '@playwright/test';
import { loraLinearBackwardRef, loraLinearForwardRef } from '../src/kernels/reference/lora-linear';
import { checkTolerance, describeViolation, type Tolerance } from '../src/kernels/reference/tolerance';
import type { PeerBenchOptions, PeerBenchResult, PrecheckData } from '../bench/peers/page';

const SHAPE = { T: 64, d: 64, r: 4 };

test.describe.configure({ mode: 'serial' });

let page: Page;
const foreignRequests: string[] = [];

test.beforeAll(async ({ browser }) => {
  page = await browser.newPage();
  page.on('request', (req) => {
    const url = new URL(req.url());
    if (url.protocol.startsWith('http') && url.hostname !== '127.0.0.1') foreignRequests.push(req.url());
  });
  await page.goto('/bench/peers/index.html');
  await page.waitForFunction(() => window.__peerBench?.ready === true, null, { timeout: 60_000 });
});

test.afterAll(async () => {
  await page?.close();
});

async function precheck(options: Omit<PeerBenchOptions, 'reps' | 'precheckOnly'>): Promise<PeerBenchResult> {
  return page.evaluate((o) => window.__peerBench!.run({ ...o, reps: 1, precheckOnly: true }), options);
}

/** Fails with a readable message when `got` is off `want` beyond `tol`. */
function expectClose(name: string, got: ArrayLike<number>, want: ArrayLike<number>, tol: Tolerance): void {
  const r = checkTolerance(got, want, tol);
  expect(r.pass, describeViolation(name, r, tol)).toBe(true);
}

function maxAbs(v: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < v.length; i++) m = Math.max(m, Math.abs(v[i]));
  return m;
}

/** Float64 reference of the pre-checked step: loss, dA, dB and y, from the inputs the page used. */
function reference(d: PrecheckData) {
  const common = { x: d.x, M: d.T, K: d.d, N: d.d, w: d.w0, a: d.a, b: d.b, r: d.r, scale: d.scale, dropoutP: 0, seed: 0 };
  const { y } = loraLinearForwardRef({ ...common, bias: null });
  const n = y.length;
  let loss = 0;
  const dy = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const e = y[i] - d.target[i];
    loss += e * e;
    dy[i] = e / n;
  }
  const { dA, dB } = loraLinearBackwardRef({ ...common, dy });
  return { y, loss: (0.5 * loss) / n, dA, dB };
}

test('TF.js and onnxruntime-web agree with our LoRA kernels (f32 and nf4)', async () => {
  test.setTimeout(300_000);
  const result = await precheck({ shapes: [{ ...SHAPE, formats: ['f32', 'nf4'] }], returnData: true });
  expect(result.failure).toBeUndefined();
  expect(result.ok).toBe(true);
  expect(result.rows).toEqual([]);
  // 5 train-step checks against TF.js and 1 forward check against ORT, per format.
  expect(result.checks).toHaveLength(12);
  for (const c of result.checks) expect(c.pass, c.message).toBe(true);
  const trainChecks = ['loss', 'dA', 'dB', 'A after step', 'B after step'];
  expect(result.checks.filter((c) => c.peer === 'tfjs').map((c) => c.what)).toEqual([...trainChecks, ...trainChecks]);
  expect(result.data).toHaveLength(2);

  for (const d of result.data!) {
    const label = `W0 ${d.format}`;
    const ref = reference(d);
    // Every side against the float64 reference of the same inputs.
    for (const [side, loss] of [['ours', d.ours.loss], ['tfjs', d.tfjs.loss]] as const) {
      expect(Math.abs(loss - ref.loss), `${label}: ${side} loss ${loss}, reference ${ref.loss}`).toBeLessThanOrEqual(1e-4 * ref.loss);
    }
    const gradTol = (g: ArrayLike<number>): Tolerance => ({ atol: 1e-3 * maxAbs(g), rtol: 1e-2 });
    for (const [side, s] of [['ours', d.ours], ['tfjs', d.tfjs]] as const) {
      expectClose(`${label}: ${side} dA`, s.dA, ref.dA, gradTol(ref.dA));
      expectClose(`${label}: ${side} dB`, s.dB, ref.dB, gradTol(ref.dB));
    }
    expectClose(`${label}: ours y`, d.ours.y, ref.y, { atol: 1e-4, rtol: 1e-4 });
    expectClose(`${label}: ort y`, d.ort.y, ref.y, { atol: 1e-4, rtol: 1e-4 });

    // The page's verdicts, recomputed here from the raw results with the tolerances it reports.
    for (const c of result.checks.filter((k) => k.row.includes(`W0 ${d.format} `))) {
      const peerValues: Record<string, ArrayLike<number>> = { loss: [d.tfjs.loss], dA: d.tfjs.dA, dB: d.tfjs.dB, y: d.ort.y };
      const ourValues: Record<string, ArrayLike<number>> = { loss: [d.ours.loss], dA: d.ours.dA, dB: d.ours.dB, y: d.ours.y };
      if (!(c.what in peerValues)) continue;
      const again = checkTolerance(peerValues[c.what], ourValues[c.what], c.tolerance);
      expect(again.pass, `${c.row} ${c.what}`).toBe(c.pass);
      expect(again.worstRatio).toBeCloseTo(c.worstRatio, 6);
    }

    // B is non-zero (a zero B would make dA vanish and hide a wrong LoRA branch), and the Adam step moved A.
    expect(maxAbs(d.b)).toBeGreaterThan(0.01);
    expect(maxAbs(ref.dA)).toBeGreaterThan(0);
    const moved = d.ours.a.map((v, i) => Math.abs(v - d.a[i]));
    expect(Math.max(...moved)).toBeGreaterThan(0.5 * d.lr);
  }
  expect(foreignRequests).toEqual([]);
});

test('a peer with wrong math fails the pre-check, naming the row and the worst element', async () => {
  test.setTimeout(300_000);
  const tf = await precheck({ shapes: [{ ...SHAPE, formats: ['f32'] }], perturb: 'tfjs' });
  expect(tf.ok).toBe(false);
  expect(tf.failure).toMatch(/pre-check failed: LoRA train step .*W0 f32 T=64 d=64 r=4: tfjs (loss|dA|dB) vs ours: element \d+ is/);
  expect(tf.checks.find((c) => c.peer === 'ort')?.pass).toBe(true);

  const ort = await precheck({ shapes: [{ ...SHAPE, formats: ['f32'] }], perturb: 'ort' });
  expect(ort.ok).toBe(false);
  expect(ort.failure).toMatch(/pre-check failed: LoRA forward, W0 f32 T=64 d=64 r=4: ort y vs ours: element \d+ is/);
  expect(ort.checks.filter((c) => c.peer === 'tfjs').every((c) => c.pass)).toBe(true);
  expect(foreignRequests).toEqual([]);
});
