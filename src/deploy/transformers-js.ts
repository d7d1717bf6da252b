/**
 * An exported ONNX folder (onnx-export.ts) loaded by @xenova/transformers' own `pipeline('text-generation')`, from
 * the files in memory: they are handed to it as its cache (`env.customCache`), under a model id of their own, with
 * remote models off, so it reads nothing else. Its ONNX backend is the product's onnxruntime-web
 * (onnx/xenova-ort-backend.ts). The studio uses it to show that the download works in transformers.js as it is.
 */

/** The model id the files are served under. */
const MODEL_ID = 'peft-studio/exported-model';

/** A Web Cache (match/put) over the folder's files, by their path after the model id. */
function folderCache(files: ReadonlyMap<string, Uint8Array>) {
  const marker = `${MODEL_ID}/`;
  return {
    async match(key: string): Promise<Response | undefined> {
      const at = key.indexOf(marker);
      if (at < 0) return undefined;
      const name = key.slice(at + marker.length).replace(/^resolve\/[^/]+\//, '');
      const bytes = files.get(name);
      return bytes ? new Response(bytes as Uint8Array<ArrayBuffer>, { status: 200, headers: { 'content-length': String(bytes.byteLength) } }) : undefined;
    },
    async put(): Promise<void> {},
  };
}

export interface TransformersJsOptions {
  maxNewTokens: number;
  /** Load the q8 file (decoder_model_merged_quantized.onnx), as transformers.js does by default. */
  quantized?: boolean;
}

/** Greedy text generation by transformers.js on the exported folder; returns the whole text (prompt and continuation), as its pipeline does by default. */
export async function transformersJsGenerate(files: ReadonlyMap<string, Uint8Array>, prompt: string, opts: TransformersJsOptions): Promise<string> {
  const quantized = opts.quantized ?? false;
  const needed = quantized ? 'onnx/decoder_model_merged_quantized.onnx' : 'onnx/decoder_model_merged.onnx';
  if (!files.has(needed)) throw new Error(`transformers.js: the export has no ${needed} (export the xenova 2 layout${quantized ? ' with q8' : ''})`);
  const [{ env }, { pipeline }] = await Promise.all([import('@xenova/transformers/src/env.js'), import('@xenova/transformers/src/pipelines.js')]);
  env.allowRemoteModels = false;
  env.allowLocalModels = true;
  env.useBrowserCache = false;
  env.useFSCache = false;
  env.useCustomCache = true;
  env.customCache = folderCache(files);
  const generator = await pipeline('text-generation', MODEL_ID, { quantized, local_files_only: true });
  try {
    const out = await generator(prompt, { max_new_tokens: opts.maxNewTokens, do_sample: false, return_full_text: true });
    return out[0].generated_text;
  } finally {
    await generator.dispose();
  }
}
