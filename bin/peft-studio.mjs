#!/usr/bin/env node
// The peft-studio command: runs src/cli/main.ts through vite-node, which compiles the TypeScript and the
// WGSL imports the same way the studio's build does.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const viteNode = join(root, 'node_modules', 'vite-node', 'dist', 'cli.mjs');
if (!existsSync(viteNode)) {
  process.stderr.write(`peft-studio: ${viteNode} is missing; run npm install in ${root}\n`);
  process.exit(1);
}
const result = spawnSync(process.execPath, [viteNode, '--root', root, join(root, 'src', 'cli', 'main.ts'), '--', ...process.argv.slice(2)], {
  stdio: 'inherit',
  cwd: process.cwd(),
});
process.exit(result.status ?? 1);
