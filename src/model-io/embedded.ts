/**
 * What the studio ships in `public/`: the embedded default model (pretrained by tools/default-model/) and the
 * sample datasets. The page fetches them from its own origin; the CLI reads them from the checkout.
 */

export interface EmbeddedModel {
  /** The name the CLI accepts for `--model` besides "default". */
  id: string;
  /** Folder under public/. */
  folder: string;
  /** Every file of the folder the loader may read (the page cannot list a folder over HTTP). */
  files: readonly string[];
  title: string;
}

export const DEFAULT_MODEL: EmbeddedModel = {
  id: 'austen-2m',
  folder: 'models/austen-2m',
  files: ['config.json', 'model.safetensors', 'tokenizer.json', 'tokenizer_config.json', 'generation_config.json', 'MODEL_CARD.md'],
  title: 'Austen 2M: a 2M-parameter Llama pretrained on Jane Austen (embedded)',
};

export interface SampleDataset {
  /** The name the CLI accepts for `--data`. */
  name: string;
  /** File under public/. */
  file: string;
  title: string;
  /** The record shape, as the Data panel names it. */
  shape: string;
  description: string;
  /** A prompt the dataset does not contain, to compare base and adapted generations. */
  comparePrompt: string;
}

export const SAMPLE_DATASETS: readonly SampleDataset[] = [
  {
    name: 'pirate',
    file: 'datasets/pirate.jsonl',
    title: 'Austen pirates',
    shape: '{"text"}',
    description: "320 lines of Austen's characters talking like pirates. Plain text: the adapter learns the style.",
    comparePrompt: 'Sir Thomas Bertram said, "',
  },
  {
    name: 'invitations',
    file: 'datasets/invitations.jsonl',
    title: 'Invitation cards',
    shape: '{"instruction", "input", "output"}',
    description: '160 events turned into a fixed invitation-card format that the base model cannot produce.',
    comparePrompt:
      '### Instruction:\nWrite an invitation card for this event.\n\n### Input:\nMr. Elton is giving a dinner at Hartfield on Saturday at eight.\n\n### Response:\n',
  },
  {
    name: 'butler',
    file: 'datasets/butler.jsonl',
    title: 'The butler at Longbourn',
    shape: '{"messages"}',
    description: '160 chats with a butler who always answers in the same courteous form.',
    comparePrompt: 'User: Where is Mr. Elton?\nAssistant:',
  },
];

export function sampleDataset(name: string): SampleDataset | undefined {
  return SAMPLE_DATASETS.find((d) => d.name === name);
}
