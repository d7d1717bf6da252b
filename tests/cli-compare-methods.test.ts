/**
 * peft-studio compare-methods: several methods trained in turn on the same model, data and settings; the table on
 * stdout, comparison.json, and each adapter in a folder of its own; a bad method list is refused naming it.
 */
import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { COMPARISON_COLUMNS, type MethodComparisonRow } from '../src/trainer/method-comparison';
import { parseSafetensors } from '../src/model-io/safetensors';
import { makeTinyModel } from './fixtures/tiny-models';
import { cliAsync as cli } from './helpers/cli';

describe('peft-studio compare-methods', () => {
  const dir = mkdtempSync(join(tmpdir(), 'peft-studio-compare-'));
  mkdirSync(join(dir, 'model'));
  for (const [name, bytes] of makeTinyModel('llama')) writeFileSync(join(dir, 'model', name), bytes);
  writeFileSync(join(dir, 'data.jsonl'), ['cat says meow', 'dog says woof', 'cow says moo', 'owl says hoot'].map((text) => JSON.stringify({ text })).join('\n'));

  it('trains each method on the same data and settings, prints the table, writes comparison.json and each adapter', async () => {
    const r = await cli(
      ['compare-methods', '--model', 'model', '--data', 'data.jsonl', '--methods', 'lora,ia3,prompt-tuning', '--steps', '3', '--batch', '2', '--lr', '0.05', '--out', 'cmp'],
      dir,
    );
    expect(r.code, r.stderr).toBe(0);
    const lines = r.stdout.trim().split('\n');
    expect(lines[0]).toBe(`| ${COMPARISON_COLUMNS.join(' | ')} |`);
    expect(lines.slice(2).map((l) => l.split('|')[1].trim())).toEqual(['LoRA', 'IA³', 'Prompt tuning']);

    const json = JSON.parse(readFileSync(join(dir, 'cmp', 'comparison.json'), 'utf8')) as { rows: MethodComparisonRow[]; settings: { maxSteps: number; seed: number } };
    expect(json.settings.maxSteps).toBe(3);
    expect(json.rows.map((x) => x.method)).toEqual(['lora', 'ia3', 'prompt-tuning']);
    for (const row of json.rows) {
      expect(row.steps).toBe(3);
      expect(row.finalLoss).toBeGreaterThan(0);
      expect(row.msPerStep).toBeGreaterThan(0);
      expect(row.trainablePercent).toBeCloseTo((100 * row.trainable) / row.all, 10);
      // The adapter file's size is the file's.
      const file = readFileSync(join(dir, 'cmp', row.method, 'adapter_model.safetensors'));
      expect(row.adapterBytes).toBe(file.byteLength);
      const tensors = parseSafetensors(new Uint8Array(file), row.method).tensors;
      expect([...tensors.values()].reduce((n, t) => n + t.shape.reduce((a, b) => a * b, 1), 0)).toBe(row.trainable);
      expect(row.peakGpuBytes).toBeGreaterThan(16 * row.trainable);
      expect(existsSync(join(dir, 'cmp', row.method, 'adapter_config.json'))).toBe(true);
    }
    // Prompt tuning got compare-methods' 10 virtual tokens (PEFT has no default): 10 × the tiny Llama's hidden size 32.
    expect(json.rows[2].trainable).toBe(10 * 32);
    expect(r.stderr).toContain('comparison written to');
  }, 300_000);

  it('refuses an unknown or repeated method, naming the list', async () => {
    const bad = await cli(['compare-methods', '--model', 'model', '--data', 'data.jsonl', '--methods', 'lora,nope', '--out', 'x'], dir);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain('--methods lora,nope:');
    const twice = await cli(['compare-methods', '--model', 'model', '--data', 'data.jsonl', '--methods', 'lora,lora', '--out', 'x'], dir);
    expect(twice.code).toBe(1);
    expect(twice.stderr).toContain('--methods lora,lora: lora is named twice');
  }, 60_000);
});
