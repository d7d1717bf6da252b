import { strFromU8, strToU8, unzipSync, zipSync } from 'fflate';
import { describe, expect, it } from 'vitest';
import { AdapterZipError, adapterFilesFromZip, adapterZipName, buildFolderZip, expandAdapterUpload, exportFileName, mergedZipName, onnxZipName } from '../src/ui/stores/export';
import { parseRequest } from '../src/worker/protocol';

const config = strToU8('{"r": 8, "peft_type": "LORA"}');
const weights = new Uint8Array(Array.from({ length: 300 }, (_, i) => (i * 37) % 256));
const card = strToU8('# LoRA adapter\n');

describe('buildFolderZip', () => {
  it('unzips to the same three files at the root', () => {
    const zip = buildFolderZip({ 'adapter_config.json': config, 'adapter_model.safetensors': weights, 'README.md': card });
    const out = unzipSync(zip);
    expect(Object.keys(out).sort()).toEqual(['README.md', 'adapter_config.json', 'adapter_model.safetensors']);
    expect(strFromU8(out['adapter_config.json'])).toBe('{"r": 8, "peft_type": "LORA"}');
    expect(Array.from(out['adapter_model.safetensors'])).toEqual(Array.from(weights));
    expect(strFromU8(out['README.md'])).toBe('# LoRA adapter\n');
  });
});

describe('adapterFilesFromZip', () => {
  it('takes the adapter files from the root', () => {
    const zip = zipSync({ 'adapter_config.json': config, 'adapter_model.safetensors': weights, 'README.md': card });
    const files = adapterFilesFromZip(zip, 'a.zip');
    expect(Object.keys(files).sort()).toEqual(['adapter_config.json', 'adapter_model.safetensors']);
    expect(Array.from(files['adapter_model.safetensors'])).toEqual(Array.from(weights));
  });

  it('takes them from a single top-level folder, ignoring macOS extras and deeper folders', () => {
    const zip = zipSync({
      'my-adapter/': new Uint8Array(0),
      'my-adapter/adapter_config.json': config,
      'my-adapter/adapter_model.safetensors': weights,
      'my-adapter/checkpoint-10/adapter_model.safetensors': new Uint8Array([1, 2, 3]),
      '__MACOSX/my-adapter/._adapter_config.json': new Uint8Array([9]),
      '.DS_Store': new Uint8Array([7]),
    });
    const files = adapterFilesFromZip(zip, 'my-adapter.zip');
    expect(Object.keys(files).sort()).toEqual(['adapter_config.json', 'adapter_model.safetensors']);
    expect(strFromU8(files['adapter_config.json'])).toBe('{"r": 8, "peft_type": "LORA"}');
    expect(files['adapter_model.safetensors'].length).toBe(300);
  });

  it('refuses a zip with the adapter in one of several folders, naming the zip', () => {
    const zip = zipSync({ 'a/adapter_config.json': config, 'b/adapter_model.safetensors': weights });
    expect(() => adapterFilesFromZip(zip, 'two.zip')).toThrow(AdapterZipError);
    expect(() => adapterFilesFromZip(zip, 'two.zip')).toThrow(/two\.zip: no adapter_config\.json/);
  });

  it('says so when the single folder has no adapter_config.json', () => {
    const zip = zipSync({ 'run/adapter_model.safetensors': weights });
    expect(() => adapterFilesFromZip(zip, 'run.zip')).toThrow(/run\.zip: the folder "run" in it has no adapter_config\.json/);
  });

  it('refuses bytes that are not a zip', () => {
    expect(() => adapterFilesFromZip(strToU8('hello, world'), 'fake.zip')).toThrow(/fake\.zip: not a readable zip file/);
  });
});

describe('expandAdapterUpload', () => {
  it('replaces a zip with its adapter files and keeps loose files', async () => {
    const zip = zipSync({ 'x/adapter_config.json': config, 'x/adapter_model.safetensors': weights });
    const out = await expandAdapterUpload([new File([zip], 'x.zip'), new File([card], 'README.md')]);
    expect(out.map((f) => f.name).sort()).toEqual(['README.md', 'adapter_config.json', 'adapter_model.safetensors']);
    const cfg = out.find((f) => f.name === 'adapter_config.json')!;
    expect(await cfg.text()).toBe('{"r": 8, "peft_type": "LORA"}');
  });
});

describe('exportFileName', () => {
  it("names each method's own weights file: AdapterHub's adapter.safetensors for bottleneck adapters, PEFT's for the others", () => {
    expect(exportFileName('weights', 'lora')).toBe('adapter_model.safetensors');
    expect(exportFileName('weights', 'ia3')).toBe('adapter_model.safetensors');
    expect(exportFileName('weights', 'bottleneck')).toBe('adapter.safetensors');
    expect(exportFileName('config', 'bottleneck')).toBe('adapter_config.json');
    expect(exportFileName('card', 'bottleneck')).toBe('README.md');
  });
});

describe('adapterZipName', () => {
  it('names the zip after the model and the method', () => {
    expect(adapterZipName('austen-2m', 'lora')).toBe('austen-2m-lora-adapter.zip');
    expect(adapterZipName('HuggingFaceTB/SmolLM2-135M', 'lora')).toBe('SmolLM2-135M-lora-adapter.zip');
    expect(adapterZipName('my model: v2', 'lora')).toBe('my-model-v2-lora-adapter.zip');
    expect(adapterZipName('', 'lora')).toBe('model-lora-adapter.zip');
    expect(adapterZipName('austen-2m', 'prompt-tuning')).toBe('austen-2m-prompt-tuning-adapter.zip');
  });
});

describe('the merged download', () => {
  it('names the zip after the model, the method and the dtype', () => {
    expect(mergedZipName('austen-2m', 'lora', 'F32')).toBe('austen-2m-lora-merged-f32.zip');
    expect(mergedZipName('HuggingFaceTB/SmolLM2-135M', 'lora', 'BF16')).toBe('SmolLM2-135M-lora-merged-bf16.zip');
    expect(mergedZipName('', 'lora', 'F16')).toBe('model-lora-merged-f16.zip');
  });

  it('asks the worker for one of the dtypes a merged export writes', () => {
    for (const dtype of ['F32', 'F16', 'BF16']) expect(parseRequest({ id: 1, kind: 'merged-export', dtype })).toEqual({ id: 1, kind: 'merged-export', dtype });
    expect(() => parseRequest({ id: 1, kind: 'merged-export', dtype: 'f16' })).toThrow('merged-export: dtype = "f16": expected one of F32, F16, BF16');
    expect(() => parseRequest({ id: 1, kind: 'merged-export' })).toThrow('merged-export: dtype = undefined: expected one of F32, F16, BF16');
  });
});

describe('the ONNX download and the deployed column', () => {
  it('names the zip after the model and the method', () => {
    expect(onnxZipName('austen-2m', 'lora')).toBe('austen-2m-lora-onnx.zip');
    expect(onnxZipName('HuggingFaceTB/SmolLM2-135M', 'lora')).toBe('SmolLM2-135M-lora-onnx.zip');
  });

  it('asks the worker for quantized variants it can write, and generates on any of the three sides', () => {
    expect(parseRequest({ id: 1, kind: 'onnx-export', quants: ['q8', 'q4'] })).toEqual({ id: 1, kind: 'onnx-export', quants: ['q8', 'q4'] });
    expect(parseRequest({ id: 1, kind: 'onnx-export', quants: [] }).kind).toBe('onnx-export');
    expect(() => parseRequest({ id: 1, kind: 'onnx-export', quants: ['int8'] })).toThrow('onnx-export: quants = ["int8"]: expected a list of q8, q4');
    expect(() => parseRequest({ id: 1, kind: 'onnx-export', quants: ['none'] })).toThrow('expected a list of q8, q4');
    const generate = { id: 2, kind: 'generate', prompt: 'hi', maxNewTokens: 4, seed: 1, sampling: {} };
    for (const side of ['base', 'adapted', 'deployed']) expect(parseRequest({ ...generate, side }).kind).toBe('generate');
    expect(() => parseRequest({ ...generate, side: 'onnx' })).toThrow("side");
  });
});
