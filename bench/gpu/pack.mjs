#!/usr/bin/env node
/**
 * `node bench/gpu/pack.mjs [--out DIR] [--node PATH | --no-node] [--no-deb] [--fast]`
 *
 * Packs what a real-GPU run of `bench:train` and `bench:kernels` needs on an x86-64 Linux machine with an NVIDIA
 * driver but no Node, no package registry and maybe no Vulkan loader (bench/gpu/README.md). DIR (default
 * bench/gpu/dist/, git-ignored) gets:
 *
 *   run.sh, README.md, MANIFEST.json
 *   bench/train.mjs, bench/kernels.mjs, bench/adapter.mjs   each benchmark bundled into one ESM file (rolldown)
 *   bench/summarize.mjs                                      results → Markdown for the README
 *   public/models/<folder>/                                  the embedded default model that bench:train loads
 *   node_modules/webgpu/                                     package.json, index.js, dist/linux-x64/dawn.node.xz
 *   bin/node.xz                                              a Node binary (this one unless --node), xz-compressed
 *   deb/libvulkan1_*.deb                                     the Vulkan loader (apt-get download), when apt works here
 *
 * The two large binaries travel xz-compressed (Node 99 MB → 24 MB, dawn.node 21 MB → 5 MB) so the whole pack
 * stays well under 64 MiB; run.sh unpacks them with xz, or Python's lzma where xz is missing.
 *
 * The bundles keep `import.meta.dirname` as it is (ESM output), so bench/train.mjs finds the default model at
 * `<DIR>/bench/../public/models/<folder>`, the same relative place as in the checkout.
 *
 * Vite's `?raw` imports (the WGSL kernels) are resolved by a small plugin to the file's text. `webgpu` stays
 * external: it loads a native addon from its own folder.
 *
 * --node PATH: the Node binary to carry (an x86-64 Linux build, Node ≥ 20.19); default: the one running this.
 * --no-node:   carry none; then the run machine must have `node` ≥ 20.19 on PATH (or NODE=/path/to/node).
 * --no-deb:    do not try `apt-get download libvulkan1`.
 * --fast:      xz -6 instead of -9 (a few MB larger, about twice as fast to pack).
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync, openSync, readSync, closeSync, chmodSync, copyFileSync, realpathSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';

const HERE = dirname(fileURLToPath(import.meta.url));
const ROOT = resolve(HERE, '..', '..');
const MARKER = '.peft-gpu-pack';
const LIMIT = 64 * 1024 * 1024;

const { values: opts } = parseArgs({
  options: {
    out: { type: 'string', default: join(HERE, 'dist') },
    node: { type: 'string' },
    'no-node': { type: 'boolean', default: false },
    'no-deb': { type: 'boolean', default: false },
    fast: { type: 'boolean', default: false },
  },
});
const OUT = resolve(opts.out);

function log(msg) {
  process.stderr.write(`pack: ${msg}\n`);
}
function fail(msg) {
  process.stderr.write(`pack: error: ${msg}\n`);
  process.exit(1);
}

/** rolldown, Vite 8's bundler: this repo's dependency through vite (there is no esbuild in node_modules). */
async function loadRolldown() {
  const require = createRequire(join(ROOT, 'package.json'));
  let entry;
  try {
    entry = require.resolve('rolldown');
  } catch {
    const viteRequire = createRequire(require.resolve('vite/package.json'));
    entry = viteRequire.resolve('rolldown');
  }
  return import(pathToFileURL(entry).href);
}

/** `import text from './x.wgsl?raw'` → the file's text, as Vite does. */
const rawPlugin = {
  name: 'raw-text',
  resolveId(source, importer) {
    if (!source.endsWith('?raw')) return null;
    const file = source.slice(0, -'?raw'.length);
    return `${resolve(importer ? dirname(importer) : ROOT, file)}?raw`;
  },
  load(id) {
    if (!id.endsWith('?raw')) return null;
    return { code: `export default ${JSON.stringify(readFileSync(id.slice(0, -'?raw'.length), 'utf8'))};`, moduleType: 'js' };
  },
};

/** What Vite writes for `import.meta.env.*` in a Node (SSR) build; the bench graph should not need it, but is safe. */
const DEFINE = {
  'import.meta.env.SSR': 'true',
  'import.meta.env.TEST_BUILD': 'false',
  'import.meta.env.DEV': 'false',
  'import.meta.env.PROD': 'true',
  'import.meta.env.MODE': '"production"',
  'import.meta.env.BASE_URL': '"/"',
};

async function bundle(rolldown, input, file) {
  const warnings = [];
  await rolldown.build({
    input,
    cwd: ROOT,
    platform: 'node',
    external: ['webgpu', /^node:/],
    plugins: [rawPlugin],
    transform: { target: 'node20', define: DEFINE },
    onLog(level, entry) {
      if (level === 'warn') warnings.push(entry.message);
    },
    output: { file, format: 'esm', codeSplitting: false, sourcemap: false, comments: { legal: false } },
    write: true,
  });
  for (const w of warnings) log(`warning (${relative(ROOT, input)}): ${w}`);
  const text = readFileSync(file, 'utf8');
  // Anything outside node: builtins and webgpu left as a bare import would fail on the run machine.
  const bare = [...text.matchAll(/(?:^|[\s;])(?:import|export)\s[^'"]*?from\s*['"]([^'"]+)['"]|import\(\s*['"]([^'"]+)['"]\s*\)/gm)]
    .map((m) => m[1] ?? m[2])
    .filter((s) => !s.startsWith('node:') && s !== 'webgpu' && !/^(fs|path|url|util|os|module|crypto|child_process|worker_threads|stream|zlib|events|buffer|process|perf_hooks)(\/|$)/.test(s));
  if (bare.length) fail(`${relative(ROOT, file)} still imports ${[...new Set(bare)].join(', ')}`);
  log(`bundled ${relative(ROOT, input)} → ${relative(OUT, file)} (${mb(statSync(file).size)})`);
}

function mb(bytes) {
  return `${(bytes / 1024 / 1024).toFixed(1)} MiB`;
}

/** xz-compresses `src` into `dst` with the xz tool, or Python's lzma where xz is missing. */
function xz(src, dst) {
  const level = opts.fast ? '-6' : '-9';
  const t0 = Date.now();
  if (spawnSync('xz', ['--version']).status === 0) {
    const r = spawnSync('sh', ['-c', 'nice -n 10 xz -T1 "$1" -c "$2" > "$3"', 'sh', level, src, dst], { stdio: 'inherit' });
    if (r.status !== 0) fail(`xz failed on ${src}`);
  } else {
    const py = `import lzma,shutil,sys\nwith open(sys.argv[1],'rb') as i, lzma.open(sys.argv[2],'wb',preset=int(sys.argv[3])) as o: shutil.copyfileobj(i,o,1<<20)`;
    const r = spawnSync('python3', ['-c', py, src, dst, level.slice(1)], { stdio: 'inherit' });
    if (r.status !== 0) fail(`neither xz nor python3's lzma could compress ${src}`);
  }
  log(`compressed ${src} (${mb(statSync(src).size)}) → ${relative(OUT, dst)} (${mb(statSync(dst).size)}) in ${((Date.now() - t0) / 1000).toFixed(0)} s`);
}

/** ELF64, x86-64 (e_machine 0x3e). */
function isX64Elf(file) {
  const fd = openSync(file, 'r');
  const head = Buffer.alloc(20);
  readSync(fd, head, 0, 20, 0);
  closeSync(fd);
  return head.readUInt32BE(0) === 0x7f454c46 && head[4] === 2 && head.readUInt16LE(18) === 0x3e;
}

function sha256(file) {
  return createHash('sha256').update(readFileSync(file)).digest('hex');
}

function walk(dir, out = []) {
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) walk(p, out);
    else out.push(p);
  }
  return out;
}

// ---- the output folder: only ever wipe a folder that is empty or an earlier pack --------------------------------
if (existsSync(OUT) && readdirSync(OUT).length > 0 && !existsSync(join(OUT, MARKER))) {
  fail(`${OUT} exists, is not empty and is not an earlier pack (no ${MARKER}); choose another --out`);
}
// A compressed Node from an earlier pack is kept when it came from the same binary (xz -9 of Node takes a minute).
const nodeSrc = opts['no-node'] ? null : resolve(opts.node ?? process.execPath);
const nodeKey = nodeSrc && existsSync(nodeSrc) ? `${realpathSync(nodeSrc)} ${statSync(nodeSrc).size} ${statSync(nodeSrc).mtimeMs} ${opts.fast ? 6 : 9}` : null;
const cacheDir = mkdtempSync(join(tmpdir(), 'peft-gpu-pack-'));
const oldNode = join(OUT, 'bin', 'node.xz');
if (nodeKey && existsSync(oldNode) && existsSync(`${oldNode}.key`) && readFileSync(`${oldNode}.key`, 'utf8') === nodeKey) {
  copyFileSync(oldNode, join(cacheDir, 'node.xz'));
}
rmSync(OUT, { recursive: true, force: true });
mkdirSync(join(OUT, 'bench'), { recursive: true });
writeFileSync(join(OUT, MARKER), 'made by bench/gpu/pack.mjs; safe to delete\n');

// ---- bundles ------------------------------------------------------------------------------------------------------
const rolldown = await loadRolldown();
await bundle(rolldown, join(ROOT, 'bench', 'train.ts'), join(OUT, 'bench', 'train.mjs'));
await bundle(rolldown, join(ROOT, 'bench', 'kernels.ts'), join(OUT, 'bench', 'kernels.mjs'));
await bundle(rolldown, join(HERE, 'adapter.ts'), join(OUT, 'bench', 'adapter.mjs'));
copyFileSync(join(HERE, 'summarize.mjs'), join(OUT, 'bench', 'summarize.mjs'));

// ---- the default model, where bench/train.mjs looks for it ------------------------------------------------------
const embedded = join(cacheDir, 'embedded.mjs');
await rolldown.build({ input: join(ROOT, 'src', 'model-io', 'embedded.ts'), cwd: ROOT, platform: 'node', output: { file: embedded, format: 'esm' }, write: true });
const { DEFAULT_MODEL } = await import(pathToFileURL(embedded).href);
const modelDir = join(OUT, 'public', DEFAULT_MODEL.folder);
mkdirSync(modelDir, { recursive: true });
for (const f of DEFAULT_MODEL.files) copyFileSync(join(ROOT, 'public', DEFAULT_MODEL.folder, f), join(modelDir, f));
log(`copied the default model ${DEFAULT_MODEL.id} → ${relative(OUT, modelDir)}`);

// ---- webgpu: the JS entry and the linux-x64 addon ---------------------------------------------------------------
const webgpuSrc = dirname(createRequire(join(ROOT, 'package.json')).resolve('webgpu/package.json'));
const webgpuPkg = JSON.parse(readFileSync(join(webgpuSrc, 'package.json'), 'utf8'));
const webgpuOut = join(OUT, 'node_modules', 'webgpu');
mkdirSync(join(webgpuOut, 'dist', 'linux-x64'), { recursive: true });
// index.js needs only Node's builtins (node:path, node:url, module) and dist/<platform>-<arch>/dawn.node.
const indexJs = readFileSync(join(webgpuSrc, webgpuPkg.main ?? 'index.js'), 'utf8');
const indexImports = [...indexJs.matchAll(/from\s+['"]([^'"]+)['"]/g)].map((m) => m[1]).filter((s) => !['node:path', 'node:url', 'module'].includes(s));
if (indexImports.length) fail(`webgpu's ${webgpuPkg.main} imports ${indexImports.join(', ')}, which the pack does not carry`);
copyFileSync(join(webgpuSrc, webgpuPkg.main ?? 'index.js'), join(webgpuOut, 'index.js'));
for (const f of ['LICENSE.md', 'LICENSE']) if (existsSync(join(webgpuSrc, f))) copyFileSync(join(webgpuSrc, f), join(webgpuOut, f));
writeFileSync(
  join(webgpuOut, 'package.json'),
  `${JSON.stringify({ name: 'webgpu', version: webgpuPkg.version, type: webgpuPkg.type, main: 'index.js', license: webgpuPkg.license }, null, 2)}\n`,
);
const dawn = join(webgpuSrc, 'dist', 'linux-x64', 'dawn.node');
if (!existsSync(dawn)) fail(`${dawn} is missing: the webgpu package here has no linux-x64 build`);
xz(dawn, join(webgpuOut, 'dist', 'linux-x64', 'dawn.node.xz'));

// ---- Node ---------------------------------------------------------------------------------------------------------
let nodeVersion = null;
if (nodeSrc) {
  if (!existsSync(nodeSrc)) fail(`--node ${nodeSrc}: no such file`);
  if (!isX64Elf(nodeSrc)) fail(`${nodeSrc} is not an x86-64 Linux (ELF) binary: pass --node with a linux-x64 Node ≥ 20.19, or --no-node`);
  nodeVersion = execFileSync(nodeSrc, ['--version'], { encoding: 'utf8' }).trim();
  const [maj, min] = nodeVersion.slice(1).split('.').map(Number);
  if (maj < 20 || (maj === 20 && min < 19)) fail(`${nodeSrc} is Node ${nodeVersion}; the benches need ≥ 20.19`);
  mkdirSync(join(OUT, 'bin'), { recursive: true });
  if (existsSync(join(cacheDir, 'node.xz'))) {
    copyFileSync(join(cacheDir, 'node.xz'), join(OUT, 'bin', 'node.xz'));
    log(`reused the compressed Node ${nodeVersion} of the earlier pack (${mb(statSync(join(OUT, 'bin', 'node.xz')).size)})`);
  } else {
    xz(nodeSrc, join(OUT, 'bin', 'node.xz'));
  }
  writeFileSync(join(OUT, 'bin', 'node.xz.key'), nodeKey);
} else {
  log('no Node carried (--no-node): the run machine needs node ≥ 20.19 on PATH, or NODE=/path/to/node');
}

// ---- the Vulkan loader ------------------------------------------------------------------------------------------
let vulkan = 'none';
if (!opts['no-deb']) {
  const debDir = join(OUT, 'deb');
  mkdirSync(debDir, { recursive: true });
  const r = spawnSync('apt-get', ['download', 'libvulkan1:amd64'], { cwd: debDir, encoding: 'utf8' });
  const debs = readdirSync(debDir).filter((f) => f.endsWith('.deb'));
  if (r.status === 0 && debs.length) {
    vulkan = `deb/${debs[0]}`;
    log(`downloaded the Vulkan loader → deb/${debs[0]}`);
  } else {
    rmSync(debDir, { recursive: true, force: true });
    log(
      `apt-get download libvulkan1:amd64 failed${r.error ? ` (${r.error.message})` : `: ${(r.stderr || '').trim().split('\n').pop()}`}. ` +
        'The pack has no Vulkan loader: run.sh then needs libvulkan.so.1 on the run machine. To carry one, on any Debian or ' +
        "Ubuntu machine: apt-get download libvulkan1:amd64, and put the .deb in DIR/deb/.",
    );
  }
}

// ---- run.sh, README, manifest ------------------------------------------------------------------------------------
copyFileSync(join(HERE, 'run.sh'), join(OUT, 'run.sh'));
chmodSync(join(OUT, 'run.sh'), 0o755);
copyFileSync(join(HERE, 'README.md'), join(OUT, 'README.md'));
rmSync(cacheDir, { recursive: true, force: true });

const git = (...args) => {
  try {
    return execFileSync('git', args, { cwd: ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  } catch {
    return null;
  }
};
const files = walk(OUT)
  .filter((f) => !f.endsWith(MARKER))
  .sort()
  .map((f) => ({ path: relative(OUT, f), bytes: statSync(f).size, sha256: sha256(f) }));
const total = files.reduce((a, f) => a + f.bytes, 0);
const manifest = {
  made: new Date().toISOString(),
  commit: git('rev-parse', 'HEAD'),
  dirty: git('status', '--porcelain', '--untracked-files=no') ? true : false,
  node: nodeVersion,
  webgpu: webgpuPkg.version,
  vulkan_loader: vulkan,
  default_model: DEFAULT_MODEL.folder,
  total_bytes: total,
  files,
};
writeFileSync(join(OUT, 'MANIFEST.json'), `${JSON.stringify(manifest, null, 2)}\n`);
for (const f of files) log(`  ${mb(f.bytes).padStart(9)}  ${f.path}`);
log(`total ${mb(total)} in ${OUT}`);
if (total > LIMIT) fail(`the pack is ${mb(total)}, over the 64 MiB limit`);
log(`next: carry ${relative(process.cwd(), OUT) || '.'} to the GPU machine and run ./run.sh there (bench/gpu/README.md)`);
