/**
 * The README's table of peak training memory for real small models (`npm run docs:memory` writes it between the
 * README's memory-table markers; tests/memory-table.test.ts checks that it is current). LoRA with PEFT's defaults
 * for the model (r 8 on q_proj and v_proj), batch 4 × 512 tokens, every weight format, with and without gradient
 * checkpointing (engine/memory-plan.ts); and "before", the same run as the studio's pass took it before it freed
 * tensors as it went, saved no attention probabilities and chunked the loss (engine/memory.ts).
 */
import { ADAPTER_BYTES_PER_PARAM } from '../src/trainer/gpu-memory';
import { plannedWeightMemory } from '../src/engine/weight-memory';
import { trainingActivationBytes } from '../src/engine/memory';
import { planMemory } from '../src/engine/memory-plan';
import { WEIGHT_FORMATS } from '../src/kernels/weight-format';
import { planMethodOf } from '../src/methods/plan-method';
import { parseModelConfig } from '../src/model/config';
import { MODEL_PRESETS } from '../src/model/presets';

export const MEMORY_TABLE_BEGIN = '<!-- memory-table:begin (made by npm run docs:memory) -->';
export const MEMORY_TABLE_END = '<!-- memory-table:end -->';
const BATCH = 4;
const SEQ = 512;
const MODELS = ['smollm2-135m', 'smollm2-360m', 'qwen2.5-0.5b', 'tinyllama-1.1b'] as const;

function gib(bytes: number): string {
  return (bytes / 2 ** 30).toFixed(2);
}

export function memoryTable(): string {
  const lines = [
    `Peak GPU memory of a LoRA training step (PEFT's default targets, r 8), batch ${BATCH} × ${SEQ} tokens, in GiB: weights + adapter with`,
    'AdamW state + activations. "Before" is the same step as the studio took it before this work (every activation kept until',
    'the end of the pass, T² attention probabilities, the whole logits); the activation peaks are whole pool buffers.',
    '',
    '| model | format | weights | before: peak | activations | **peak** | with checkpointing: activations | **peak** |',
    '|---|---|---:|---:|---:|---:|---:|---:|',
  ];
  for (const name of MODELS) {
    const preset = MODEL_PRESETS[name];
    const config = parseModelConfig(preset.config, `${preset.repo}/config.json`);
    const method = planMethodOf('lora', {}, config, { nameOrPath: preset.repo });
    const ranks = method.lora!.targets.map((t) => t.r);
    for (const format of WEIGHT_FORMATS) {
      const plain = planMemory({ config, batch: BATCH, seqLen: SEQ, format, gradientCheckpointing: false, method });
      const ckpt = planMemory({ config, batch: BATCH, seqLen: SEQ, format, gradientCheckpointing: true, method });
      const before = plannedWeightMemory(config, format).total + ADAPTER_BYTES_PER_PARAM * method.trainableParams + trainingActivationBytes(config, BATCH, SEQ, ranks);
      lines.push(
        `| ${preset.repo} | ${format} | ${gib(plain.weights)} | ${gib(before)} | ${gib(plain.activations)} | **${gib(plain.peak)}** | ${gib(ckpt.activations)} | **${gib(ckpt.peak)}** |`,
      );
    }
  }
  return lines.join('\n');
}

export function withMemoryTable(readme: string, table: string): string {
  const begin = readme.indexOf(MEMORY_TABLE_BEGIN);
  const end = readme.indexOf(MEMORY_TABLE_END);
  if (begin < 0 || end < begin) throw new Error(`README.md: the markers ${MEMORY_TABLE_BEGIN} and ${MEMORY_TABLE_END} are missing`);
  return `${readme.slice(0, begin + MEMORY_TABLE_BEGIN.length)}\n${table}\n${readme.slice(end)}`;
}
