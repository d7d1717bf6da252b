#!/usr/bin/env node
/**
 * `npm run test:e2e` runs this after building the production build (dist/), the test build (dist-e2e/, `vite build
 * --mode e2e`) and the peer benchmark's build (dist-bench/, `npm run build:bench`): the production build must
 * hold no test or benchmark code. Each rule names a text (or a file name) that marks one such piece, and the build
 * that must contain it: a rule whose mark is missing there (a renamed hook, a reworded message) fails too, so a
 * stale rule cannot pass for ever. Exit 1 with one line per problem. Plain Node, no dependencies.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const PRODUCTION = 'dist';
const BUILDS = {
  dist: 'npx vite build',
  'dist-e2e': 'npx vite build --mode e2e',
  'dist-bench': 'npm run build:bench',
};

/** `text`: a string the piece's code keeps through minification; `file`: a pattern its file names match. */
const RULES = [
  { what: 'the e2e hook window.__peftStudio (src/ui/test-hooks.ts)', text: '__peftStudio', witness: 'dist-e2e' },
  { what: 'the e2e hook window.__peftSelfTest (src/ui/test-hooks.ts)', text: '__peftSelfTest', witness: 'dist-e2e' },
  { what: 'the tiny-model fixture (tests/fixtures/tiny-models.ts)', text: 'makeTinyModel: unknown kind', witness: 'dist-e2e' },
  { what: 'the peer benchmark page (bench/peers)', text: '__peerBench', witness: 'dist-bench' },
  { what: 'TensorFlow.js', text: 'tfjsflags', witness: 'dist-bench' },
];

/**
 * What the production build must hold: onnxruntime-web runs the deployed ONNX model (and transformers.js), and its
 * wasm is served by the studio itself from node_modules, never fetched from a CDN.
 */
const REQUIRED = [{ what: "onnxruntime-web's wasm (ort-wasm-simd-threaded.asyncify.wasm)", file: /ort-wasm-simd-threaded\.asyncify[^/]*\.wasm$/ }];

function filesUnder(dir) {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => join(e.parentPath, e.name));
}

/** The files of `build` that carry the rule's mark, relative to the repository. */
function carriers(rule, files) {
  const text = rule.text && Buffer.from(rule.text);
  return files.filter((f) => (rule.file ? rule.file.test(f) : readFileSync(f).includes(text))).map((f) => relative(root, f));
}

const problems = [];
const files = {};
for (const [build, command] of Object.entries(BUILDS)) {
  const dir = join(root, build);
  if (!existsSync(dir)) problems.push(`${build}/ is missing: build it with \`${command}\``);
  else files[build] = filesUnder(dir);
}
if (problems.length === 0) {
  for (const rule of RULES) {
    const mark = rule.text ? `holds "${rule.text}"` : `is named like ${rule.file}`;
    for (const f of carriers(rule, files[PRODUCTION])) problems.push(`${f} ${mark}: ${rule.what} leaked into the production build`);
    if (carriers(rule, files[rule.witness]).length === 0) {
      problems.push(
        `no file of ${rule.witness}/ ${mark}, the mark of ${rule.what}: either ${rule.witness}/ is not what \`${BUILDS[rule.witness]}\` builds, ` +
          'or the mark is stale (update RULES in scripts/check-bundle.mjs)',
      );
    }
  }
}
if (files[PRODUCTION]) {
  for (const rule of REQUIRED) {
    if (carriers(rule, files[PRODUCTION]).length === 0) problems.push(`no file of ${PRODUCTION}/ is named like ${rule.file}: ${rule.what} is missing from the production build`);
  }
}
if (problems.length > 0) {
  for (const p of problems) process.stderr.write(`check-bundle: ${p}\n`);
  process.exit(1);
}
process.stdout.write(`check-bundle: ${PRODUCTION}/ holds none of the ${RULES.length} marks of test and benchmark code, and holds ${REQUIRED.map((r) => r.what).join(', ')}\n`);
