/**
 * The model card of an adapter trained in the studio (src/peft/training-card.ts): PEFT's YAML metadata unchanged,
 * then the run's facts and how to load the adapter; table cells stay one cell whatever a dataset's name holds.
 */
import { describe, expect, it } from 'vitest';
import { peftModelCard } from '../src/peft/model-card';
import { trainedAdapterCard, type TrainingCardFacts } from '../src/peft/training-card';
import { SMALL_LLAMA } from './fixtures/model-configs';

const llama = SMALL_LLAMA;

const facts: TrainingCardFacts = {
  baseModel: 'owner/tiny',
  revision: 'v1',
  model: llama,
  peftType: 'LORA',
  methodLabel: 'LoRA',
  mergeable: true,
  methodFacts: [['r', '8'], ['lora_alpha', '16']],
  dataset: { source: 'pirate.jsonl', format: 'jsonl', records: 120, train: 108, validation: 12 },
  training: { steps: 30, batchSize: 8, gradAccum: 2, lr: 0.005, schedule: 'constant', maxLength: 64, weightFormat: 'nf4' },
  finalLoss: 1.23456,
  finalValLoss: 1.5,
  seconds: 125.4,
  gpu: 'Google / swiftshader (SwiftShader)',
};

describe('the model card of a trained adapter', () => {
  it("keeps PEFT's metadata block and says what was trained, on what, how, and how to load it", () => {
    const card = trainedAdapterCard(facts);
    const peftFront = peftModelCard({ baseModel: 'owner/tiny' }).split('\n---\n')[0];
    expect(card.startsWith(`${peftFront}\n---\n`)).toBe(true);
    expect(card).toContain('# LoRA adapter for owner/tiny@v1\n');
    expect(card).toContain('| base model | `owner/tiny` (revision `v1`), llama, 3 layers, hidden size 16 |');
    expect(card).toContain('| method | LoRA (`LORA`) |');
    expect(card).toContain('| config | r 8, lora_alpha 16 |');
    expect(card).toContain('| dataset | pirate.jsonl (jsonl): 120 records, 108 training and 12 validation examples of at most 64 tokens |');
    expect(card).toContain('| training | 30 steps of batch 8 × 2 accumulated, learning rate 0.005 (constant), AdamW; W0 in nf4 |');
    // LoRA+ is not in adapter_config.json: the card records it.
    expect(trainedAdapterCard({ ...facts, training: { ...facts.training, loraplusLrRatio: 16 } })).toContain(
      '| training | 30 steps of batch 8 × 2 accumulated, learning rate 0.005 (constant), AdamW with LoRA+ (lora_B at 16 × the learning rate); W0 in nf4 |',
    );
    expect(trainedAdapterCard({ ...facts, training: { ...facts.training, loraplusLrRatio: 1 } })).toContain('AdamW; W0 in nf4 |');
    expect(card).toContain('| final loss | training 1.2346, validation 1.5000 |');
    expect(card).toContain('| time | 2 min 5 s |');
    expect(card).toContain('| GPU | Google / swiftshader (SwiftShader) |');
    expect(card).toContain('base = AutoModelForCausalLM.from_pretrained("owner/tiny", revision="v1")');
    expect(card.endsWith('### Framework versions\n\n- PEFT 0.21.0')).toBe(true);
    expect(card).toContain("const generator = await pipeline('text-generation', 'path/or/repo/of/the/onnx/export', { dtype: 'fp32' });");
    expect(card).toContain('peft-studio export --format onnx');
  });

  it('offers transformers.js only for an adapter that can be merged', () => {
    const card = trainedAdapterCard({ ...facts, peftType: 'PROMPT_TUNING', methodLabel: 'Prompt tuning', mergeable: false });
    expect(card).not.toContain('transformers.js');
    expect(card).toContain('PeftModel.from_pretrained(base, "path/to/this/folder")');
  });

  it('keeps a cell one cell, and says when there was no validation', () => {
    const card = trainedAdapterCard({ ...facts, revision: null, dataset: { ...facts.dataset, source: 'a|b\nc.csv' }, finalValLoss: null, seconds: 3 });
    expect(card).toContain('| dataset | a\\|b c.csv (jsonl):');
    expect(card).toContain('| final loss | training 1.2346, validation none |');
    expect(card).toContain('| time | 3 s |');
    expect(card).toContain('base = AutoModelForCausalLM.from_pretrained("owner/tiny")\n');
  });
});
