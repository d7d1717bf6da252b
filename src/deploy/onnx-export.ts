/**
 * The ONNX export for transformers.js: the merged model (merged-model.ts) as a decoder graph with a KV cache
 * (onnx/decoder-graph.ts), in the folders both generations of transformers.js load for `text-generation`:
 * - @huggingface/transformers 3+ ("v3"): onnx/model.onnx, onnx/model_quantized.onnx (q8), onnx/model_q4.onnx (q4);
 *   with external data, onnx/model.onnx_data next to it and `transformers.js_config.use_external_data_format`
 *   in config.json;
 * - @xenova/transformers 2 ("v2"): onnx/decoder_model_merged.onnx, and onnx/decoder_model_merged_quantized.onnx
 *   (q8), which its default `quantized: true` loads. It has no q4 file and cannot read external data.
 * Next to them: config.json, generation_config.json and the tokenizer files, as in the merged export.
 */
import type { LoadProgress } from '../model-io/load-model';
import type { ModelSource } from '../model-io/model-source';
import { mergeIntoSource, modelFolderFiles } from './merged-model';
import { buildDecoderGraph } from './onnx/decoder-graph';
import { OnnxTooLargeError, PROTOBUF_LIMIT_BYTES } from './onnx/onnx-graph';
import { ONNX_QUANTS, type OnnxQuant } from './onnx/onnx-quant';

export { OnnxTooLargeError, ONNX_QUANTS, type OnnxQuant };

/** Which transformers.js folder layouts to write. */
export const ONNX_LAYOUTS = ['both', 'v3', 'v2'] as const;
export type OnnxLayout = (typeof ONNX_LAYOUTS)[number];

/** Whether the weights go to a separate .onnx_data file: when needed (auto), always, or never (refused over 2 GB). */
export const EXTERNAL_DATA_MODES = ['auto', 'always', 'never'] as const;
export type ExternalDataMode = (typeof EXTERNAL_DATA_MODES)[number];

/** The file name of a variant in a layout, or null when the layout has none. */
export function onnxFileName(layout: 'v2' | 'v3', quant: OnnxQuant): string | null {
  if (layout === 'v3') return { none: 'onnx/model.onnx', q8: 'onnx/model_quantized.onnx', q4: 'onnx/model_q4.onnx' }[quant];
  return { none: 'onnx/decoder_model_merged.onnx', q8: 'onnx/decoder_model_merged_quantized.onnx', q4: null }[quant];
}

export interface OnnxExportOptions {
  /** Quantized variants to write next to the float32 model. */
  quants?: readonly OnnxQuant[];
  layout?: OnnxLayout;
  externalData?: ExternalDataMode;
  onProgress?: (p: LoadProgress) => void;
  /** Each variant as it is built, e.g. "building onnx/model_q4.onnx". */
  onStep?: (what: string) => void;
  /** protobuf's limit (tests lower it to exercise external data). */
  limitBytes?: number;
}

export interface OnnxExport {
  files: Map<string, Uint8Array>;
  warnings: string[];
  method: string;
  /** The float32 model's file, and its external data's name in the folder when it has one. */
  main: { model: string; externalData: string | null };
}

function checkChoice<T extends string>(what: string, value: T, allowed: readonly T[]): void {
  if (!allowed.includes(value)) throw new RangeError(`${what} ${JSON.stringify(value)} is not supported; expected one of ${allowed.join(', ')}`);
}

export async function exportOnnx(source: ModelSource, adapterFiles: ReadonlyMap<string, Uint8Array>, opts: OnnxExportOptions = {}): Promise<OnnxExport> {
  const layout = opts.layout ?? 'both';
  const mode = opts.externalData ?? 'auto';
  const quants = [...new Set(opts.quants ?? [])].filter((q) => q !== 'none');
  checkChoice('layout', layout, ONNX_LAYOUTS);
  checkChoice('external data', mode, EXTERNAL_DATA_MODES);
  for (const q of quants) checkChoice('quantization', q, ONNX_QUANTS);
  if (layout === 'v2' && quants.includes('q4')) {
    throw new RangeError('quantization q4: @xenova/transformers 2 (layout v2) has no q4 file; choose layout v3 or both');
  }
  const limit = opts.limitBytes ?? PROTOBUF_LIMIT_BYTES;

  const merged = await mergeIntoSource(source, adapterFiles, opts.onProgress);
  const warnings = [...merged.warnings];
  const files = new Map<string, Uint8Array>();
  let main: OnnxExport['main'] | null = null;
  let external = false;
  for (const quant of ['none', ...quants] as OnnxQuant[]) {
    const layouts = (layout === 'both' ? ['v3', 'v2'] : [layout]) as ('v2' | 'v3')[];
    const names = layouts.map((l) => ({ layout: l, name: onnxFileName(l, quant) })).filter((x): x is { layout: 'v2' | 'v3'; name: string } => x.name !== null);
    opts.onStep?.(`building ${names.map((n) => n.name).join(' and ')}`);
    const graph = buildDecoderGraph(merged.loaded.config, merged.weights, { quant });
    const tooLarge = graph.weightBytes() + 1_000_000 > limit;
    const useExternal = mode === 'always' || (mode === 'auto' && tooLarge);
    const written = names.filter(({ layout: l, name }) => {
      if (!useExternal || l !== 'v2') return true;
      if (layout === 'v2') {
        throw new OnnxTooLargeError(`${name}: the weights need an external data file, which @xenova/transformers 2 cannot load; export with layout v3 or both`);
      }
      warnings.push(`${name} is not written: @xenova/transformers 2 cannot load a model whose weights are in an external data file; use @huggingface/transformers 3 (onnx/model*.onnx)`);
      return false;
    });
    if (written.length === 0) continue;
    // One encoding serves every layout: the files differ only in name.
    const first = written[0].name;
    const dataName = useExternal ? `${first}_data` : null;
    const encoded = graph.encode({ externalData: dataName && dataName.slice(dataName.lastIndexOf('/') + 1), limitBytes: limit, file: first });
    for (const { name } of written) files.set(name, encoded.model);
    if (dataName && encoded.data) {
      files.set(dataName, encoded.data);
      external = true;
    }
    if (quant === 'none') main = { model: first, externalData: dataName };
  }
  if (main === null) throw new OnnxTooLargeError('no ONNX file could be written for the layout chosen');
  const extra: Record<string, unknown> = { torch_dtype: 'float32' };
  if (external) extra['transformers.js_config'] = { use_external_data_format: true };
  for (const [name, bytes] of await modelFolderFiles(source, merged.loaded, extra)) files.set(name, bytes);
  return { files, warnings, method: merged.method, main };
}
