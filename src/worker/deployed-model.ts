/**
 * The worker's deployed model: the current adapter merged and exported as ONNX for transformers.js
 * (src/deploy/onnx-export.ts), and that export run by onnxruntime-web for Compare's "deployed (ONNX)" column. The
 * export is rebuilt only when the adapter's weights or the variants asked for change; the session runs on the
 * WebGPU EP with the worker's own device, or on wasm where that cannot start.
 */
import { exportOnnx, type OnnxExport, type OnnxQuant } from '../deploy/onnx-export';
import { OnnxCausalLM } from '../deploy/onnx/onnx-causal-lm';
import type { LoadProgress } from '../model-io/load-model';
import { ADAPTER_WEIGHTS_FILE } from '../peft/adapter-files';
import type { HeldAdapter } from './held-adapter';
import type { LoadedBase } from './loaded-model';
import { resolveModelSpec } from './model-spec';

interface Deployed {
  base: LoadedBase;
  held: HeldAdapter;
  adapterWeights: Uint8Array;
  quants: string;
  export: OnnxExport;
  lm: OnnxCausalLM | null;
}

let deployed: Deployed | null = null;

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** Forgets the deployed model (a new model or adapter makes it stale). */
export function dropDeployed(): void {
  const lm = deployed?.lm;
  deployed = null;
  if (lm) void lm.release().catch(() => {});
}

type Progress = (p: LoadProgress | { message: string }) => void;

/** Whether the deployed model was built from this model and adapter, with these weights. */
function isCurrent(d: Deployed | null, base: LoadedBase, held: HeldAdapter, weights: Uint8Array): d is Deployed {
  return d !== null && d.base === base && d.held === held && sameBytes(d.adapterWeights, weights);
}

async function build(base: LoadedBase, held: HeldAdapter, adapterFiles: Map<string, Uint8Array>, quants: readonly OnnxQuant[], onProgress: Progress): Promise<Deployed> {
  const weights = adapterFiles.get(ADAPTER_WEIGHTS_FILE) ?? new Uint8Array(0);
  const { source } = await resolveModelSpec(base.spec, (message) => onProgress({ message }));
  const exported = await exportOnnx(source, adapterFiles, { quants, onProgress, onStep: (message) => onProgress({ message }) });
  // The same adapter with other variants keeps its session: the float32 model is the same.
  const lm = isCurrent(deployed, base, held, weights) ? deployed.lm : null;
  if (!lm) dropDeployed();
  deployed = { base, held, adapterWeights: weights.slice(), quants: [...quants].sort().join(','), export: exported, lm };
  return deployed;
}

/** The ONNX export of the current adapter on the loaded model, with `quants` variants beside the float32 model. */
export async function deployedExport(base: LoadedBase, held: HeldAdapter, quants: readonly OnnxQuant[], onProgress: Progress): Promise<OnnxExport> {
  const adapterFiles = await held.adapter.exportFiles();
  const weights = adapterFiles.get(ADAPTER_WEIGHTS_FILE) ?? new Uint8Array(0);
  if (isCurrent(deployed, base, held, weights) && deployed.quants === [...quants].sort().join(',')) return deployed.export;
  return (await build(base, held, adapterFiles, quants, onProgress)).export;
}

/** The deployed model's session (built and started on first use). */
export async function deployedModel(base: LoadedBase, held: HeldAdapter, onProgress: Progress): Promise<OnnxCausalLM> {
  const adapterFiles = await held.adapter.exportFiles();
  const weights = adapterFiles.get(ADAPTER_WEIGHTS_FILE) ?? new Uint8Array(0);
  const d = isCurrent(deployed, base, held, weights) ? deployed : await build(base, held, adapterFiles, [], onProgress);
  if (d.lm) return d.lm;
  const { files, main } = d.export;
  const model = {
    model: files.get(main.model)!,
    externalData: main.externalData ? { path: main.externalData.slice(main.externalData.lastIndexOf('/') + 1), data: files.get(main.externalData)! } : null,
  };
  const config = base.model.config;
  onProgress({ message: 'starting onnxruntime-web' });
  try {
    d.lm = await OnnxCausalLM.create(model, config, { kind: 'webgpu', device: base.gpu.device });
  } catch {
    d.lm = await OnnxCausalLM.create(model, config, { kind: 'wasm' });
  }
  return d.lm;
}
