// Vitest setup: tests run on SwiftShader where Debian's chromium ships it, so that results and logs are the
// same on every machine; then WebGPU's globals are installed before any test file runs.
import { existsSync } from 'node:fs';
import { getNodeGpu, SWIFTSHADER_ICD } from '../src/gpu/node-gpu';

if (!process.env.VK_ICD_FILENAMES && existsSync(SWIFTSHADER_ICD)) process.env.VK_ICD_FILENAMES = SWIFTSHADER_ICD;
await getNodeGpu();
