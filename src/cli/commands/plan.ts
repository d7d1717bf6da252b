/**
 * peft-studio plan --model M [--batch B] [--seq T] [--quant F] [--gradient-checkpointing] [--budget GIB] [--json]
 * The GPU memory a training run would take, from the model's config.json alone (no weight is read): the weights,
 * the adapter with its optimizer state, the activations and the peak, for every weight format with and without
 * gradient checkpointing, and whether the chosen one fits (engine/memory-fit.ts). The Model step shows the same.
 */
import { fitTable, problemText, type FitAssessment } from '../../engine/memory-fit';
import { DEFAULT_MEMORY_BUDGET, WEBGPU_DEFAULT_LIMITS, type BufferLimits, type PlanInput } from '../../engine/memory-plan';
import { getNodeGpu } from '../../gpu/node-gpu';
import { planMethodOf } from '../../methods/plan-method';
import { RUN_DEFAULTS, RUN_FIELDS } from '../../options/run-fields';
import { TRAINING_FIELDS } from '../../options/training-fields';
import { DEFAULT_TRAINING } from '../../trainer/trainer';
import { CliUsageError } from '../errors';
import { num, readFlags, schemaFlags, str, type CliFlags, type Values } from '../flags';
import { METHOD_FLAG, methodOptionFlags, readMethodFlags } from '../method-flags';
import { MODEL_FLAG } from '../run-flags';
import { baseModelName, readModelConfig } from '../session';

const { batchSize, gradientCheckpointing } = TRAINING_FIELDS;
const { maxLength, quant } = RUN_FIELDS;

export const PLAN_FLAGS: CliFlags = {
  model: MODEL_FLAG,
  ...schemaFlags({ batchSize, maxLength, quant, gradientCheckpointing }),
  method: METHOD_FLAG,
  ...methodOptionFlags(),
  budget: { type: 'string', value: 'GIB', default: String(DEFAULT_MEMORY_BUDGET / 2 ** 30), help: 'The GPU memory to plan for, in GiB: a peak above it "won\'t fit", above 85 % of it is "tight".' },
  limits: {
    type: 'string',
    value: 'device|webgpu',
    default: 'device',
    help: "The buffer limits to check against: this machine's WebGPU adapter's (falls back to WebGPU's defaults when there is none), or WebGPU's defaults (what every adapter offers).",
  },
  json: { type: 'boolean', help: 'Prints one JSON object: the inputs, the limits and, per weight format, the plan without and with checkpointing.' },
};

async function limitsOf(which: string): Promise<{ limits: BufferLimits; source: string }> {
  if (which === 'webgpu') return { limits: WEBGPU_DEFAULT_LIMITS, source: "WebGPU's default limits" };
  if (which !== 'device') throw new CliUsageError(`--limits ${which}: expected device or webgpu`);
  const adapter = await getNodeGpu()
    .then((gpu) => gpu.requestAdapter())
    .catch(() => null);
  if (!adapter) return { limits: WEBGPU_DEFAULT_LIMITS, source: "WebGPU's default limits (no WebGPU adapter here)" };
  const { maxBufferSize, maxStorageBufferBindingSize } = adapter.limits;
  return { limits: { maxBufferSize, maxStorageBufferBindingSize }, source: `this machine's WebGPU adapter (${adapter.info.description || adapter.info.vendor || 'unnamed'})` };
}

function gib(bytes: number): string {
  return (bytes / 2 ** 30).toFixed(2);
}

function planJson(a: FitAssessment) {
  const { weights, adapter, activations, peak, largestBuffer, lossChunkRows, exact } = a.plan;
  return {
    label: a.label, weights, adapter, activations, peak, largest_buffer: { name: largestBuffer.name, bytes: largestBuffer.bytes },
    loss_chunk_rows: lossChunkRows, exact, problems: a.problems.map(problemText), changes: a.changes,
  };
}

export async function planCommand(values: Values): Promise<void> {
  const modelArg = str(values, 'model', true);
  const training = { ...DEFAULT_TRAINING, ...readFlags(TRAINING_FIELDS, values) };
  const run = { ...RUN_DEFAULTS, ...readFlags(RUN_FIELDS, values) };
  const budgetGib = num(values, 'budget', DEFAULT_MEMORY_BUDGET / 2 ** 30, { gt: 0 });
  const budget = budgetGib * 2 ** 30;
  const { method, options } = readMethodFlags(values);
  const config = await readModelConfig(modelArg);
  const { limits, source } = await limitsOf(str(values, 'limits') ?? 'device');
  let planMethod;
  try {
    planMethod = planMethodOf(method.id, options, config, baseModelName(modelArg));
  } catch (e) {
    throw new CliUsageError(`--method ${method.id}: ${(e as Error).message}`);
  }
  const input: Omit<PlanInput, 'format' | 'gradientCheckpointing'> = { config, batch: training.batchSize, seqLen: run.maxLength, method: planMethod, limits };
  const table = fitTable(input, budget);
  const chosen = table.find((r) => r.format === run.quant)!;
  const current = training.gradientCheckpointing ? chosen.checkpointed : chosen.plain;
  if (values.json) {
    const out = {
      model: modelArg,
      method: method.id,
      batch: training.batchSize,
      seq: run.maxLength,
      quant: run.quant,
      gradient_checkpointing: training.gradientCheckpointing,
      budget,
      limits: { ...limits, source },
      chosen: planJson(current),
      formats: Object.fromEntries(table.map((r) => [r.format, { plain: planJson(r.plain), gradient_checkpointing: planJson(r.checkpointed) }])),
    };
    process.stdout.write(`${JSON.stringify(out, null, 2)}\n`);
    return;
  }
  const lines = [
    `${modelArg}: ${config.numLayers} layers, hidden ${config.hiddenSize}, vocabulary ${config.vocabSize}; ${method.label}, ${planMethod.trainableParams} trainable parameters`,
    `batch ${training.batchSize} × ${run.maxLength} tokens; budget ${gib(budget)} GiB; limits: ${source}`,
    '',
    'format   weights   adapter+opt   activations (plain / checkpointed)   peak (plain / checkpointed)   GiB',
    ...table.map((r) =>
      [
        r.format.padEnd(8),
        gib(r.plain.plan.weights).padStart(7),
        gib(r.plain.plan.adapter).padStart(13),
        `${gib(r.plain.plan.activations)} / ${gib(r.checkpointed.plan.activations)}`.padStart(22),
        `${gib(r.plain.plan.peak)} ${r.plain.label} / ${gib(r.checkpointed.plan.peak)} ${r.checkpointed.label}`.padStart(44),
      ].join(' '),
    ),
    '',
    `${run.quant}${training.gradientCheckpointing ? ', gradient checkpointing' : ''}: ${current.label.replace('wont-fit', "won't fit")}, peak ${gib(current.plan.peak)} GiB`,
    ...current.problems.map((p) => `  - ${problemText(p)}`),
    ...(current.changes.length > 0 ? [`  fits with: ${current.changes.map((c) => `${c.text} (${gib(c.peak)} GiB)`).join('; ')}`] : []),
    ...(current.plan.exact ? [] : [`  (${method.label}'s own encoder or adapter activations are not counted: the plan is a little low)`]),
  ];
  process.stdout.write(`${lines.join('\n')}\n`);
}
