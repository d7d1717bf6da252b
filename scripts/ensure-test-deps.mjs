#!/usr/bin/env node
/**
 * `pretest`: makes sure what `npm test` needs is here, installing it where that is safe.
 *  - node_modules, installed from package-lock.json (`npm ci` when missing or older than the lock file);
 *  - the system Chromium at /usr/bin/chromium (Playwright cannot download browsers here) and the Vulkan
 *    loader libvulkan.so.1 (WebGPU in Node via the `webgpu` package, SwiftShader in Chromium);
 *  - a font with Chinese glyphs (fonts-wqy-microhei), so that the e2e walk's 中文 screenshots show text, not boxes
 *    (wanted, not required: the tests pass without it).
 * On Debian/Ubuntu as root the system packages are installed with apt-get; elsewhere it stops and says
 * what to install. Plain Node, no dependencies.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const CHROMIUM = '/usr/bin/chromium';
const APT_GET = '/usr/bin/apt-get';
const APT_PACKAGES = ['chromium', 'libvulkan1', 'fonts-wqy-microhei'];
const VULKAN_PATHS = [
  '/usr/lib/x86_64-linux-gnu/libvulkan.so.1',
  '/lib/x86_64-linux-gnu/libvulkan.so.1',
  '/usr/lib/aarch64-linux-gnu/libvulkan.so.1',
  '/lib/aarch64-linux-gnu/libvulkan.so.1',
  '/usr/lib64/libvulkan.so.1',
  '/usr/lib/libvulkan.so.1',
  '/usr/local/lib/libvulkan.so.1',
];

function run(command, args, options = {}) {
  const result = spawnSync(command, args, { stdio: 'inherit', cwd: root, ...options });
  if (result.error) throw new Error(`${command} ${args.join(' ')} could not start: ${result.error.message}`);
  if (result.status !== 0) {
    console.error(`ensure-test-deps: \`${command} ${args.join(' ')}\` failed with exit code ${result.status ?? result.signal}`);
    process.exit(result.status || 1);
  }
}

function mtime(path) {
  try {
    return statSync(path).mtimeMs;
  } catch {
    return -Infinity;
  }
}

// ------------------------------------------------------------------------------------------ node_modules
let nodeModules = 'node_modules up to date';
const lock = join(root, 'package-lock.json');
const installedLock = join(root, 'node_modules', '.package-lock.json');
if (!existsSync(join(root, 'node_modules')) || !existsSync(installedLock)) {
  console.log('ensure-test-deps: node_modules is missing; running npm ci');
  run('npm', ['ci']);
  nodeModules = 'node_modules installed (npm ci)';
} else if (mtime(lock) > mtime(installedLock)) {
  console.log('ensure-test-deps: package-lock.json is newer than node_modules; running npm ci');
  run('npm', ['ci']);
  nodeModules = 'node_modules reinstalled (npm ci)';
}

// ----------------------------------------------------------------------------- Chromium and the Vulkan loader
function findVulkanLoader() {
  for (const ldconfig of ['ldconfig', '/sbin/ldconfig', '/usr/sbin/ldconfig']) {
    const out = spawnSync(ldconfig, ['-p'], { encoding: 'utf8' });
    if (out.status === 0 && typeof out.stdout === 'string') {
      const line = out.stdout.split('\n').find((l) => /\blibvulkan\.so\.1\b/.test(l));
      if (line) return line.split('=>').pop().trim();
      break;
    }
  }
  return VULKAN_PATHS.find((p) => existsSync(p)) ?? null;
}

function missingSystemDeps() {
  const missing = [];
  if (!existsSync(CHROMIUM)) missing.push(`Chromium at ${CHROMIUM}`);
  if (!findVulkanLoader()) missing.push('the Vulkan loader libvulkan.so.1');
  return missing;
}

function hasChineseFont() {
  const out = spawnSync('fc-list', [':lang=zh'], { encoding: 'utf8' });
  return out.status === 0 && `${out.stdout ?? ''}`.trim() !== '';
}

let missing = missingSystemDeps();
let installedSystem = false;
if (missing.length > 0 || !hasChineseFont()) {
  const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;
  if (process.platform === 'linux' && isRoot && existsSync(APT_GET)) {
    console.log(`ensure-test-deps: missing ${[...missing, ...(hasChineseFont() ? [] : ['a Chinese font'])].join(' and ')}; installing ${APT_PACKAGES.join(' ')} with apt-get`);
    const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
    run(APT_GET, ['update'], { env });
    run(APT_GET, ['install', '-y', '--no-install-recommends', ...APT_PACKAGES], { env });
    installedSystem = true;
    missing = missingSystemDeps();
  }
  if (missing.length > 0) {
    console.error(
      `ensure-test-deps: missing ${missing.join(' and ')}.\n` +
        `The end-to-end tests need Chromium at ${CHROMIUM} (Playwright cannot download a browser here) and the ` +
        'Vulkan loader libvulkan.so.1 (WebGPU runs on SwiftShader through it when there is no GPU).\n' +
        'On Debian or Ubuntu, as root: apt-get update && apt-get install -y --no-install-recommends chromium libvulkan1\n' +
        `Elsewhere: install Chromium so that ${CHROMIUM} exists (a symlink to your Chromium binary will do) and ` +
        'your distribution\'s Vulkan loader package (libvulkan1 / vulkan-loader).',
    );
    process.exit(1);
  }
}

function chromiumVersion() {
  const out = spawnSync(CHROMIUM, ['--version'], { encoding: 'utf8', timeout: 20_000 });
  const line = `${out.stdout ?? ''}`.split('\n').find((l) => /chromium/i.test(l));
  return line ? line.trim() : 'version unknown';
}

if (!hasChineseFont()) console.warn('ensure-test-deps: no font with Chinese glyphs (fonts-wqy-microhei): the 中文 screenshots will show boxes');
console.log(
  `ensure-test-deps: ${nodeModules}; ${CHROMIUM} (${chromiumVersion()})${installedSystem ? ' installed' : ''}; ` +
    `Vulkan loader ${findVulkanLoader()}${installedSystem ? ' installed' : ''}`,
);
