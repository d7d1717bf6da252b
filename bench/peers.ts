/**
 * `npm run bench:peers [-- --json] [-- --reps N] [-- --quick] [-- --d N] [-- --formats LIST] [-- --adapter core|compat] [-- --kernels gpu|cpu] [-- --debug]`
 *
 * Peer benchmark (a benchmark, not a test): our fused LoRA kernels against TensorFlow.js (webgpu backend) and
 * onnxruntime-web (WebGPU EP), in one Chromium page and one run:
 * - our LoRA train step (forward, loss gradient, backward to A and B, AdamW) vs the same step in TF.js
 *   (optimizer.minimize with tf.train.adam);
 * - our LoRA forward vs the same math as a five-node ONNX graph in onnxruntime-web.
 * Shapes: T=256 d=256 r=8 and T=512 d=512 r=16 with W0 in f32, and T=512 d=768 r=8 with W0 in f32, q8, q4 and
 * nf4 for ours (the peers get the dequantized W0). Every row is pre-checked before it is timed (loss, gradients
 * and the Adam step against TF.js, outputs against ORT); a failed pre-check fails the run (exit 1). At the shape
 * with several formats, each quantized W0 is also timed side by side against f32 (peer "ours-f32").
 * After the rows comes a line per goal of issue 7 that a row missed (page.ts, goalFor), or "every goal met";
 * missing a goal does not change the exit status.
 *
 * This builds the page's own build (vite.bench.config.ts, into dist-bench/; the studio's build does not contain
 * it), serves it with `vite preview` on 127.0.0.1 (a free port), launches the system Chromium through Playwright
 * and opens /bench/peers/index.html (bench/peers/page.ts does the work). Every request the page makes must stay
 * on 127.0.0.1 (ORT's wasm is part of the build); `--debug` logs them.
 * `--adapter compat` runs every library on the GL compatibility adapter (Chromium flags
 * --use-webgpu-adapter=opengles --use-angle=gl-egl, requestAdapter({featureLevel: 'compatibility'})).
 * `--kernels tiled|direct` forces our kernel profile (default: the one chosen for the adapter, gpu/device.ts).
 *
 * Output: a table, or with --json one object per line {"name", "shape", "ours_ms", "peer", "peer_ms", "ratio"},
 * ratio = peer_ms / ours_ms (above 1: ours is faster). Medians of --reps (default 5) repeats; --quick runs only
 * the smallest shape with 2 repeats; --d N keeps only the shapes with d = N, and --formats (e.g. f32,nf4) only those
 * W0 formats. Progress goes to stderr.
 */
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { adapterLine, type KernelProfile } from '../src/gpu/device';
import { launchChromium, parseAdapter, serveBuild } from './chromium';
import { goalFor } from './peers/goals';
import type { PeerBenchOptions, PeerBenchResult, PeerRow, ShapeSpec } from './peers/page';

const PAGE = '/bench/peers/index.html';

const { values: opts } = parseArgs({
  options: {
    json: { type: 'boolean', default: false },
    reps: { type: 'string' },
    quick: { type: 'boolean', default: false },
    d: { type: 'string' },
    formats: { type: 'string' },
    adapter: { type: 'string', default: 'core' },
    kernels: { type: 'string' },
    debug: { type: 'boolean', default: false },
  },
  allowPositionals: true,
});

const reps = opts.reps !== undefined ? Number(opts.reps) : opts.quick ? 2 : 5;
if (!Number.isInteger(reps) || reps < 1) throw new Error(`--reps must be a positive integer, got ${opts.reps}`);
const adapter = parseAdapter(opts.adapter);
const compat = adapter === 'compat';
if (opts.kernels !== undefined && opts.kernels !== 'tiled' && opts.kernels !== 'direct') throw new Error(`--kernels must be tiled or direct, got ${opts.kernels}`);

const allShapes: ShapeSpec[] = opts.quick
  ? [{ T: 256, d: 256, r: 8, formats: ['f32'] }]
  : [
      { T: 256, d: 256, r: 8, formats: ['f32'] },
      { T: 512, d: 512, r: 16, formats: ['f32'] },
      { T: 512, d: 768, r: 8, formats: ['f32', 'q8', 'q4', 'nf4'] },
    ];
const keepFormats = opts.formats?.split(',');
const shapes = allShapes
  .filter((s) => opts.d === undefined || s.d === Number(opts.d))
  .map((s) => ({ ...s, formats: s.formats.filter((f) => !keepFormats || keepFormats.includes(f)) }))
  .filter((s) => s.formats.length > 0);
if (shapes.length === 0) throw new Error(`--d ${opts.d ?? 'any'} --formats ${opts.formats ?? 'any'}: no benchmarked row is left`);
const options: PeerBenchOptions = { shapes, reps, featureLevel: compat ? 'compatibility' : 'core', kernels: opts.kernels as KernelProfile | undefined };

const progress = (line: string) => process.stderr.write(`${line}\n`);

function printTable(rows: PeerRow[]): void {
  const header = ['name', 'shape', 'ours ms', 'peer', 'peer ms', 'ratio'];
  const body = rows.map((r) => [r.name, r.shape, r.ours_ms.toFixed(1), r.peer, r.peer_ms.toFixed(1), `${r.ratio.toFixed(2)}×`]);
  const widths = header.map((h, i) => Math.max(h.length, ...body.map((b) => b[i].length)));
  const line = (cells: string[]) => cells.map((c, i) => c.padEnd(widths[i])).join('  ');
  console.log(line(header));
  console.log(widths.map((w) => '-'.repeat(w)).join('  '));
  for (const b of body) console.log(line(b));
}

/** One line per row that missed its goal (goalFor), or one line saying every goal was met. */
function goalLines(rows: PeerRow[]): string[] {
  const missed = rows.flatMap((r) => {
    const goal = goalFor(r);
    return goal !== null && r.ratio < goal ? [`goal missed: ${r.name} ${r.shape}: ratio ${r.ratio.toFixed(3)}, goal ≥ ${goal.toFixed(3)}`] : [];
  });
  const counted = rows.filter((r) => goalFor(r) !== null).length;
  return missed.length > 0 ? missed : [`every goal met (${counted} rows with a goal)`];
}

function describe(result: PeerBenchResult): string[] {
  return [
    `feature level: ${result.featureLevel}; our kernels: ${result.kernels} profile (chosen by ${result.kernelsChosenBy}); adapters: ours ${adapterLine(result.adapters.ours)}; tfjs ${adapterLine(result.adapters.tfjs)}; ort ${adapterLine(result.adapters.ort)}`,
    `versions: @tensorflow/tfjs-core ${result.versions.tfjs}, onnxruntime-web ${result.versions.ort}; ${reps} repeats, medians; ratio = peer_ms / ours_ms`,
    `synchronisation: ${result.sync}`,
  ];
}

progress('building the page (vite.bench.config.ts, into dist-bench/)');
const server = await serveBuild(fileURLToPath(new URL('../vite.bench.config.ts', import.meta.url)));

let exitCode = 0;
const foreign = new Set<string>();
try {
  const base = server.base;
  const browser = await launchChromium(adapter);
  try {
    const page = await browser.newPage();
    page.on('request', (req) => {
      const url = new URL(req.url());
      if (opts.debug) progress(`[request] ${url.protocol}//${url.host}${url.pathname}`);
      if ((url.protocol === 'http:' || url.protocol === 'https:' || url.protocol === 'ws:' || url.protocol === 'wss:') && url.hostname !== '127.0.0.1') {
        foreign.add(url.host);
      }
    });
    page.on('console', (msg) => {
      const text = msg.text();
      if (opts.debug || text.startsWith('[peers]') || msg.type() === 'error' || msg.type() === 'warning') progress(text);
    });
    page.on('pageerror', (err) => progress(`[page error] ${err.message}`));
    page.on('response', (res) => {
      if (res.status() >= 400) progress(`[response ${res.status()}] ${res.url()}`);
    });
    await page.exposeFunction('__peerBenchOnRow', (row: PeerRow) => {
      if (opts.json) console.log(JSON.stringify(row));
    });
    progress(`opening ${base}${PAGE} (${compat ? 'GL compatibility adapter' : 'core adapter'})`);
    await page.goto(`${base}${PAGE}`);
    await page.waitForFunction(() => window.__peerBench?.ready === true, null, { timeout: 300_000 });
    const result = await page.evaluate((o) => window.__peerBench!.run(o), options);
    for (const line of describe(result)) (opts.json ? progress : console.log)(line);
    if (!opts.json) {
      console.log('');
      printTable(result.rows);
      console.log('');
    }
    for (const line of goalLines(result.rows)) (opts.json ? progress : console.log)(line);
    if (!result.ok) {
      progress(`\nbench:peers FAILED: ${result.failure}`);
      exitCode = 1;
    }
  } finally {
    await browser.close();
  }
} catch (e) {
  progress(`bench:peers: ${(e as Error).stack ?? String(e)}`);
  exitCode = 1;
} finally {
  await server.close();
}
if (foreign.size > 0) {
  progress(`bench:peers: the page made requests beyond 127.0.0.1: ${[...foreign].join(', ')}`);
  exitCode ||= 3;
} else if (opts.debug) {
  progress('every request stayed on 127.0.0.1');
}
process.exit(exitCode);
