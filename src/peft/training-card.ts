/**
 * The README.md model card of an adapter the studio trained: PEFT's YAML metadata (base_model, library_name: peft,
 * pipeline_tag, tags: what the Hub reads, model-card.ts), then what a reader needs in place of the empty template:
 * the base model and revision, the method and its config, the dataset, the steps and settings, the final training
 * and validation loss, the time taken and the GPU, and how to load the adapter with PEFT. An adapter that was not
 * trained here (an import) keeps PEFT's own card.
 */
import type { ModelConfig } from '../model/config';
import { frameworkVersions, frontMatter } from './model-card';
import type { AdapterType } from './peft-type';

export interface TrainingCardFacts {
  /** adapter_config.json's base_model_name_or_path and revision. */
  baseModel: string;
  revision: string | null;
  model: ModelConfig;
  peftType: AdapterType;
  /** "LoRA", "Prompt tuning", … */
  methodLabel: string;
  /** Whether the adapter can be merged into the model (and so exported as ONNX for transformers.js). */
  mergeable: boolean;
  /** The method's config as the studio shows it, e.g. ['r', '8']. */
  methodFacts: readonly (readonly [string, string])[];
  dataset: { source: string; format: string; records: number; train: number; validation: number };
  training: { steps: number; batchSize: number; gradAccum: number; lr: number; schedule: string; maxLength: number; weightFormat: string; loraplusLrRatio?: number };
  /** The last step's training loss, and the last validation loss (null: none). */
  finalLoss: number | null;
  finalValLoss: number | null;
  seconds: number;
  /** The GPU adapter the run used, in words. */
  gpu: string;
}

/** Text for a Markdown table cell: pipes escaped, lines joined. */
function cell(text: string): string {
  return text.replace(/\|/g, '\\|').replace(/\s*\n\s*/g, ' ');
}

function duration(seconds: number): string {
  const s = Math.round(seconds);
  if (s < 60) return `${s} s`;
  const m = Math.floor(s / 60);
  return m < 60 ? `${m} min ${s % 60} s` : `${Math.floor(m / 60)} h ${m % 60} min`;
}

function loss(v: number | null): string {
  return v === null ? 'none' : v.toFixed(4);
}

/** README.md for an adapter trained in the studio (no final newline, as PEFT's card). */
export function trainedAdapterCard(f: TrainingCardFacts): string {
  const base = f.revision ? `${f.baseModel}@${f.revision}` : f.baseModel;
  const revisionArg = f.revision ? `, revision=${JSON.stringify(f.revision)}` : '';
  const t = f.training;
  const rows: [string, string][] = [
    ['base model', `\`${f.baseModel}\`${f.revision ? ` (revision \`${f.revision}\`)` : ''}, ${f.model.modelType}, ${f.model.numLayers} layers, hidden size ${f.model.hiddenSize}`],
    ['method', `${f.methodLabel} (\`${f.peftType}\`)`],
    ['config', f.methodFacts.map(([k, v]) => `${k} ${v}`).join(', ')],
    ['dataset', `${f.dataset.source} (${f.dataset.format}): ${f.dataset.records} records, ${f.dataset.train} training and ${f.dataset.validation} validation examples of at most ${t.maxLength} tokens`],
    ['training', `${t.steps} steps of batch ${t.batchSize}${t.gradAccum > 1 ? ` × ${t.gradAccum} accumulated` : ''}, learning rate ${t.lr} (${t.schedule}), AdamW${t.loraplusLrRatio !== undefined && t.loraplusLrRatio !== 1 ? ` with LoRA+ (lora_B at ${t.loraplusLrRatio} × the learning rate)` : ''}; W0 in ${t.weightFormat}`],
    ['final loss', `training ${loss(f.finalLoss)}, validation ${loss(f.finalValLoss)}`],
    ['time', duration(f.seconds)],
    ['GPU', f.gpu],
  ];
  const body = [
    '',
    `# ${f.methodLabel} adapter for ${base}`,
    '',
    `A ${f.methodLabel} adapter for \`${base}\`, trained in PEFT Studio: in a browser tab (or its command line) on WebGPU, in the`,
    "format of Hugging Face PEFT. Only the adapter's parameters were trained; the base model's weights are unchanged.",
    '',
    '## Training',
    '',
    '| | |',
    '|---|---|',
    ...rows.map(([k, v]) => `| ${k} | ${cell(v)} |`),
    '',
    '## How to load',
    '',
    'With PEFT, from this folder (or its Hub repo):',
    '',
    '```python',
    'from peft import PeftModel',
    'from transformers import AutoModelForCausalLM, AutoTokenizer',
    '',
    `base = AutoModelForCausalLM.from_pretrained(${JSON.stringify(f.baseModel)}${revisionArg})`,
    `tokenizer = AutoTokenizer.from_pretrained(${JSON.stringify(f.baseModel)}${revisionArg})`,
    'model = PeftModel.from_pretrained(base, "path/to/this/folder")',
    '```',
    '',
    ...(f.mergeable
      ? [
          "In a web page with transformers.js: export the merged model as ONNX (the studio's Export panel, or",
          '`peft-studio export --format onnx --model <base> --adapter <this folder> --out <dir>`), then:',
          '',
          '```js',
          "import { pipeline } from '@huggingface/transformers';",
          '',
          "// dtype: 'fp32' loads onnx/model.onnx; 'q8' and 'q4' the variants exported with --quant.",
          "const generator = await pipeline('text-generation', 'path/or/repo/of/the/onnx/export', { dtype: 'fp32' });",
          "const [out] = await generator('Once upon a time', { max_new_tokens: 40 });",
          '```',
          '',
        ]
      : []),
    frameworkVersions(),
  ];
  return `${frontMatter({ baseModel: f.baseModel, peftType: f.peftType, model: f.model })}${body.join('\n')}`;
}
