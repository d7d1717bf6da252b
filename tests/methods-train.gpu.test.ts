/**
 * Every prompt-learning method through the training pipeline (runTraining, as the CLI and the worker run it) on the
 * tiny GPT-2 and the tiny Llama with grouped-query attention: the loss falls on a small task; the exported files
 * are PEFT's (one prompt_embeddings tensor of PEFT's shape); reading them back gives the same logits (export →
 * import is exact); and the log-probabilities of the imported adapter match the float64 reference that applies the
 * saved tensor the PEFT way.
 */
import { describe, expect, it } from 'vitest';
import { forwardLogits } from '../src/engine/training-pass';
import type { MethodId } from '../src/methods/method';
import { methodById } from '../src/methods/registry';
import { loadAdapterFiles } from '../src/methods/runtimes';
import { prefixTuningReference } from '../src/methods/prefix-tuning/reference';
import { promptTuningReference } from '../src/methods/prompt-tuning/reference';
import { parseSafetensors } from '../src/model-io/safetensors';
import { referenceForward } from '../src/model/reference/reference-model';
import { importPromptLearningAdapter } from '../src/peft/prompt-learning-files';
import type { CheckpointStore } from '../src/trainer/checkpoint';
import { expectClose } from './helpers/compare';
import { useGpu } from './helpers/gpu';
import { MemoryCheckpointStore } from './helpers/memory-checkpoint-store';
import { tinyBase, trainOnTask, useTinyModels } from './helpers/tiny-training';
import type { TinyModelKind } from './fixtures/tiny-models';

const ctx = useGpu();
const HEAVY_TIMEOUT_MS = 300_000;

/** Each method on both architectures; the LSTM encoder and the projection (variants of two of them) on one each. */
const CASES: { name: string; method: MethodId; options: Record<string, unknown>; lr: number; kinds?: TinyModelKind[] }[] = [
  { name: 'prompt tuning, TEXT init', method: 'prompt-tuning', options: { num_virtual_tokens: 6, prompt_tuning_init: 'TEXT', prompt_tuning_init_text: 'animal sounds:' }, lr: 0.3 },
  { name: 'P-tuning, MLP encoder', method: 'p-tuning', options: { num_virtual_tokens: 6, encoder_hidden_size: 16 }, lr: 3e-2 },
  { name: 'P-tuning, LSTM encoder', method: 'p-tuning', options: { num_virtual_tokens: 6, encoder_reparameterization_type: 'LSTM', encoder_hidden_size: 16, encoder_num_layers: 2, encoder_dropout: 0.1 }, lr: 5e-2, kinds: ['gpt2'] },
  { name: 'prefix tuning', method: 'prefix-tuning', options: { num_virtual_tokens: 4 }, lr: 0.3 },
  { name: 'prefix tuning with projection', method: 'prefix-tuning', options: { num_virtual_tokens: 4, prefix_projection: true, encoder_hidden_size: 16 }, lr: 3e-2, kinds: ['llama'] },
];

const models = useTinyModels(['gpt2', 'llama']);

describe.each(CASES)('$name', (c) => {
  it.each(c.kinds ?? (['gpt2', 'llama'] as TinyModelKind[]))('%s: learns, exports PEFT files, imports them exactly, and matches the reference', async (kind) => {
    const m = models.get(kind)!;
    const base = tinyBase(ctx.gpu, kind, m);
    const { model, tokenizer } = base;
    const run = await trainOnTask(base, { adapter: { method: c.method, options: c.options }, settings: { lr: c.lr, maxSteps: 16 } });
    const imported = loadAdapterFiles(base, run.files);
    try {
      const losses = run.log.map((l) => l.loss);
      expect(losses.at(-1)!, `${kind} ${c.name}: ${losses.map((l) => l.toFixed(3)).join(' ')}`).toBeLessThan(0.75 * losses[0]);

      // PEFT's files: the config names the method, the weights hold one prompt_embeddings tensor of PEFT's shape.
      const config = JSON.parse(new TextDecoder().decode(run.files.get('adapter_config.json')!));
      expect(config.peft_type).toBe({ 'prompt-tuning': 'PROMPT_TUNING', 'p-tuning': 'P_TUNING', 'prefix-tuning': 'PREFIX_TUNING', lora: 'LORA', ia3: 'IA3', bottleneck: 'BOTTLENECK' }[c.method]);
      const st = parseSafetensors(run.files.get('adapter_model.safetensors')!, 'adapter_model.safetensors');
      expect([...st.tensors.keys()]).toEqual(['prompt_embeddings']);
      const saved = importPromptLearningAdapter(run.files, m.config);
      const width = c.method === 'prefix-tuning' ? m.config.numLayers * 2 * m.config.numKvHeads * m.config.headDim : m.config.hiddenSize;
      expect(saved.shape).toEqual([c.options.num_virtual_tokens, width]);
      // README.md is the run's card: the method, the data, the steps and the final loss.
      const card = new TextDecoder().decode(run.files.get('README.md')!);
      expect(card).toBe(run.card);
      expect(card).toContain(`# ${methodById(c.method).label} adapter for tiny-${kind}\n`);
      expect(card).toContain(`| dataset | task.jsonl (jsonl): 4 records, 4 training and 0 validation examples of at most 32 tokens |`);
      expect(card).toContain(`| final loss | training ${losses.at(-1)!.toFixed(4)}, validation none |`);
      expect(card).toMatch(/\| training \| 16 steps of batch 4, learning rate [0-9.e-]+ \(constant\), AdamW; W0 in f32 \|/);

      // Export → import: the same logits, bit for bit.
      const probe = { inputIds: [tokenizer.encode('cat says meow')] };
      expect(Array.from(await forwardLogits(ctx.gpu, model, imported, probe))).toEqual(Array.from(await forwardLogits(ctx.gpu, model, run.adapter, probe)));

      // The saved tensor applied the PEFT way on the float64 reference: virtual tokens in front, or the prefix.
      const reference =
        c.method === 'prefix-tuning' ? prefixTuningReference(m.config, saved.embeddings) : promptTuningReference(saved.embeddings, m.config.hiddenSize);
      expectClose(`${kind} ${c.name} logits`, await forwardLogits(ctx.gpu, model, imported, probe), referenceForward(m.config, m.weights, probe, reference), {
        atol: 1e-4,
        rtol: 1e-3,
      });
    } finally {
      imported.destroy();
      run.adapter.destroy();
      model.destroy();
    }
  }, HEAVY_TIMEOUT_MS);
});

describe('checkpoints of a prompt-learning method', () => {
  it('P-tuning: a run resumed from a checkpoint repeats the losses of an uninterrupted run', async () => {
    const base = tinyBase(ctx.gpu, 'llama', models.get('llama')!);
    const { model } = base;
    const run = async (store: CheckpointStore, stopAt: number | null, resume: boolean) => {
      const r = await trainOnTask(base, {
        adapter: { method: 'p-tuning', options: { num_virtual_tokens: 4, encoder_hidden_size: 8 } },
        settings: { lr: 3e-2, schedule: 'cosine', maxSteps: 6, batchSize: 2, gradAccum: 2, seed: 5, checkpointEvery: 2 },
        checkpoints: store,
        resume,
        onEvent: (e, trainer) => {
          if (e.kind === 'step' && e.log.step === stopAt) trainer.stop();
        },
      });
      r.adapter.destroy();
      return r.log.map((l) => l.loss);
    };
    try {
      const straight = await run(new MemoryCheckpointStore(), null, false);
      const store = new MemoryCheckpointStore();
      expect(await run(store, 3, false)).toHaveLength(3); // the checkpoint is from step 2
      expect(await run(store, null, true)).toEqual(straight);
    } finally {
      model.destroy();
    }
  }, HEAVY_TIMEOUT_MS);
});

