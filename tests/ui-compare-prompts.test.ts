import { describe, expect, it } from 'vitest';
import { parseDataset } from '../src/data/index';
import {
  checkSettings,
  datasetValidationPrompts,
  formatBatchPrompts,
  parseBatchPrompts,
  promptOfRecord,
  settingsFromGeneration,
  validationPrompts,
} from '../src/ui/stores/compare';

const jsonl = (rows: unknown[]) => rows.map((r) => JSON.stringify(r)).join('\n');

describe('promptOfRecord', () => {
  it('keeps the first five words of a text record, as written', () => {
    expect(promptOfRecord({ kind: 'text', text: 'Miss Bates growled, "Avast! There be treasure"', line: 1 })).toBe('Miss Bates growled, "Avast! There');
    expect(promptOfRecord({ kind: 'text', text: '  One  two\nthree four five six', line: 1 })).toBe('One  two\nthree four five');
    expect(promptOfRecord({ kind: 'text', text: 'Too short', line: 1 })).toBe('Too short');
  });

  it("takes a prompt-completion record's prompt", () => {
    expect(promptOfRecord({ kind: 'prompt-completion', prompt: 'Q: 2+2?\nA:', completion: ' 4', line: 3 })).toBe('Q: 2+2?\nA:');
  });

  it('renders a conversation up to its last assistant turn with the chat template', () => {
    const prompt = promptOfRecord({
      kind: 'messages',
      line: 1,
      messages: [
        { role: 'system', content: 'You are Hill.' },
        { role: 'user', content: 'Hello?' },
        { role: 'assistant', content: 'Good day.' },
        { role: 'user', content: 'Where is Jane?' },
        { role: 'assistant', content: 'In the garden.' },
      ],
    });
    expect(prompt).toBe('You are Hill.\n\nUser: Hello?\nAssistant: Good day.<|endoftext|>\nUser: Where is Jane?\nAssistant:');
  });

  it('renders a single exchange as "User: …\\nAssistant:"', () => {
    const prompt = promptOfRecord({
      kind: 'messages',
      line: 1,
      messages: [
        { role: 'user', content: 'Is Mrs. Bennet at home?' },
        { role: 'assistant', content: 'Very good, madam.' },
      ],
    });
    expect(prompt).toBe('User: Is Mrs. Bennet at home?\nAssistant:');
  });
});

describe('validationPrompts', () => {
  it('takes up to five records from the end of an alpaca dataset, in file order', () => {
    const rows = Array.from({ length: 8 }, (_, i) => ({ instruction: `Task ${i}`, input: i % 2 ? `in ${i}` : '', output: `out ${i}` }));
    const parsed = parseDataset(jsonl(rows), 'tasks.jsonl');
    const prompts = validationPrompts(parsed.records);
    expect(prompts).toEqual([
      '### Instruction:\nTask 3\n\n### Input:\nin 3\n\n### Response:\n',
      '### Instruction:\nTask 4\n\n### Response:\n',
      '### Instruction:\nTask 5\n\n### Input:\nin 5\n\n### Response:\n',
      '### Instruction:\nTask 6\n\n### Response:\n',
      '### Instruction:\nTask 7\n\n### Input:\nin 7\n\n### Response:\n',
    ]);
  });

  it('takes every record of a short dataset', () => {
    const parsed = parseDataset('first line of text here ok\nsecond one\n', 'notes.txt');
    expect(validationPrompts(parsed.records)).toEqual(['first line of text here', 'second one']);
  });

  it('parses a data spec: a file by its extension, pasted text without a name, nothing for bad input', () => {
    expect(datasetValidationPrompts({ text: jsonl([{ prompt: 'a', completion: 'b' }, { prompt: 'c', completion: 'd' }]), fileName: 'x.jsonl' })).toEqual(['a', 'c']);
    expect(datasetValidationPrompts({ text: jsonl([{ messages: [{ role: 'user', content: 'Hi' }, { role: 'assistant', content: 'Yo' }] }]) })).toEqual(['User: Hi\nAssistant:']);
    expect(datasetValidationPrompts({ text: 'whatever', fileName: 'x.parquet' })).toEqual([]);
    expect(datasetValidationPrompts(null)).toEqual([]);
  });
});

describe('batch prompt text', () => {
  it('writes one prompt per line with escapes and reads them back', () => {
    const prompts = ['User: Where?\nAssistant:', 'a\\n is not a newline', 'tab\there', 'plain'];
    const text = formatBatchPrompts(prompts);
    expect(text.split('\n')).toHaveLength(4);
    expect(text.split('\n')[0]).toBe('User: Where?\\nAssistant:');
    expect(parseBatchPrompts(text)).toEqual(prompts);
  });

  it('skips blank lines and reads typed escapes', () => {
    expect(parseBatchPrompts('one\\ntwo\r\n\n   \nthree\n')).toEqual(['one\ntwo', 'three']);
  });
});

describe('settings', () => {
  it("fills the fields generation_config.json leaves out with the studio's defaults", () => {
    expect(settingsFromGeneration({ temperature: 0.5, maxNewTokens: 20 })).toEqual({
      doSample: true,
      temperature: 0.5,
      topK: 40,
      topP: 0.95,
      repetitionPenalty: 1.15,
      maxNewTokens: 20,
    });
    expect(settingsFromGeneration(null).maxNewTokens).toBe(48);
  });

  it('names a bad setting', () => {
    const ok = settingsFromGeneration(null);
    expect(checkSettings(ok, 1)).toBeNull();
    expect(checkSettings({ ...ok, topP: 1.5 }, 1)).toMatch(/topP/);
    expect(checkSettings({ ...ok, maxNewTokens: 0 }, 1)).toMatch(/max new tokens/);
    expect(checkSettings(ok, -1)).toMatch(/seed/);
  });
});
