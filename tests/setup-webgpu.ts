// Vitest setup: point Dawn at SwiftShader before any test creates a GPU (see src/gpu/node-gpu.ts).
import { getNodeGpu } from '../src/gpu/node-gpu';

await getNodeGpu();
