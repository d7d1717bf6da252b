/**
 * The option schema's Chinese text (src/ui/i18n/messages/fields.ts) against the schema: every field of every field
 * set under src/options and of every method, every labelled choice and every method has a Chinese label and help,
 * no Chinese key is left over that the schema does not have, and useFieldText's English is the schema's own text.
 * Also the Method store's texts in both languages (the English ones exactly as before the catalog).
 */
import { describe, expect, it } from 'vitest';
import { availableMethods } from '../src/methods/registry';
import type { Field, FieldSet } from '../src/options/field';
import { LORA_FIELDS } from '../src/options/lora-fields';
import { PROMPT_TUNING_FIELDS } from '../src/options/prompt-learning-fields';
import { RUN_FIELDS } from '../src/options/run-fields';
import { TRAINING_FIELDS } from '../src/options/training-fields';
import { fieldPlace, fieldText } from '../src/ui/i18n/field-text';
import fieldsMessages, { ZH_SCHEMA_TEXT, choiceTextKey, fieldTextKey, methodTextKey, schemaFields } from '../src/ui/i18n/messages/fields';
import { DEFAULT_TRAINING_FIELDS, DEMO_PRESETS, demoPresetText, trainableSummary, trainingFieldsError } from '../src/ui/stores/method';
import { SMALL_LLAMA } from './fixtures/model-configs';

const zh: Record<string, string | undefined> = ZH_SCHEMA_TEXT;
const CJK = /[\u4e00-\u9fff]/;

function isField(v: unknown): v is Field {
  return typeof v === 'object' && v !== null && typeof (v as Field).kind === 'string' && typeof (v as Field).flag === 'string' && typeof (v as Field).label === 'string';
}

function isFieldSet(v: unknown): v is FieldSet {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && Object.keys(v).length > 0 && Object.values(v).every(isField);
}

/** Every field set that a module of src/options exports, by its export's name. */
const exportedSets: [string, FieldSet][] = Object.entries(import.meta.glob('../src/options/*.ts', { eager: true }) as Record<string, Record<string, unknown>>).flatMap(
  ([file, mod]) => Object.entries(mod).filter((e): e is [string, FieldSet] => isFieldSet(e[1])).map(([name, set]): [string, FieldSet] => [`${file}: ${name}`, set]),
);

/** Every field set of the schema: the exported ones and every method's. */
const allSets: [string, FieldSet][] = [...exportedSets, ...availableMethods().map((m): [string, FieldSet] => [`method ${m.id}`, m.fields])];

describe('the Chinese text of the option schema', () => {
  it('finds the field sets of src/options', () => {
    const sets = exportedSets.map(([, s]) => s);
    for (const s of [LORA_FIELDS, TRAINING_FIELDS, RUN_FIELDS, PROMPT_TUNING_FIELDS] as FieldSet[]) expect(sets).toContain(s);
  });

  it('has a Chinese label and help for every field of every field set and of every method', () => {
    const missing: string[] = [];
    for (const [where, set] of allSets) {
      for (const [key, field] of Object.entries(set)) {
        const place = fieldPlace(field);
        if (!place) {
          missing.push(`${where} ${key}: not in the catalog's field groups (messages/fields.ts FIELD_GROUPS)`);
          continue;
        }
        expect(place.key, `${where} ${key}`).toBe(key);
        for (const part of ['label', 'help'] as const) {
          const text = zh[fieldTextKey(place.group, place.key, part)];
          if (!text?.trim()) missing.push(`${where} ${key}: no Chinese ${part}`);
        }
        if (!CJK.test(zh[fieldTextKey(place.group, place.key, 'help')] ?? '')) missing.push(`${where} ${key}: the Chinese help is not Chinese`);
        if (field.kind === 'choice') {
          for (const value of Object.keys(field.choiceLabels ?? {})) {
            if (!zh[choiceTextKey(place.group, place.key, value)]?.trim()) missing.push(`${where} ${key}: no Chinese label of the choice ${value}`);
          }
        }
      }
    }
    expect(missing).toEqual([]);
  });

  it('has a Chinese label and help for every method', () => {
    for (const m of availableMethods()) {
      expect(zh[methodTextKey(m.id, 'label')]?.trim(), m.id).toBeTruthy();
      expect(zh[methodTextKey(m.id, 'help')], m.id).toMatch(CJK);
    }
  });

  it('has no Chinese key that the schema does not have, and the English side is the schema', () => {
    expect(Object.keys(ZH_SCHEMA_TEXT).sort()).toEqual(Object.keys(fieldsMessages.en).sort());
    expect(Object.keys(fieldsMessages.zh).sort()).toEqual(Object.keys(fieldsMessages.en).sort());
    const en: Record<string, string> = fieldsMessages.en;
    for (const { group, key, field } of schemaFields()) {
      // A field shared by sets under one key has one text.
      expect(en[fieldTextKey(group, key, 'label')], `${group}.${key}`).toBe(field.label);
      expect(en[fieldTextKey(group, key, 'help')], `${group}.${key}`).toBe(field.help);
    }
    for (const m of availableMethods()) expect(en[methodTextKey(m.id, 'label')]).toBe(m.label);
  });

  it('keeps code spans closed', () => {
    for (const [key, text] of Object.entries(ZH_SCHEMA_TEXT)) expect(text.split('`').length % 2, key).toBe(1);
  });
});

describe('fieldText', () => {
  it("gives the schema's own text in English", () => {
    const ft = fieldText('en');
    for (const [, set] of allSets) {
      for (const field of Object.values(set)) {
        expect(ft.label(field)).toBe(field.label);
        expect(ft.help(field)).toBe(field.help);
        if (field.kind === 'choice') {
          for (const c of field.choices) expect(ft.choice(field, c)).toBe((field.choiceLabels as Record<string, string> | undefined)?.[c] ?? c);
        }
      }
    }
    for (const m of availableMethods()) {
      expect(ft.methodLabel(m)).toBe(m.label);
      expect(ft.methodHelp(m)).toBe(m.help);
    }
  });

  it("gives the catalog's text in Chinese, and a choice without a label as its value", () => {
    const ft = fieldText('zh');
    expect(ft.label(LORA_FIELDS.r)).toBe('秩 `r`');
    expect(ft.label(TRAINING_FIELDS.lr)).toBe('学习率');
    expect(ft.choice(TRAINING_FIELDS.schedule, 'cosine')).toMatch(CJK);
    expect(ft.choice(LORA_FIELDS.bias, 'lora_only')).toBe('lora_only');
    for (const m of availableMethods()) expect(ft.methodHelp(m)).toMatch(CJK);
  });

  it('falls back to the English of a field outside the schema', () => {
    const stray: Field = { kind: 'int', flag: 'x', label: 'X', help: 'An x.', default: 1, defaultFrom: 'PEFT Studio' };
    expect(fieldText('zh').label(stray)).toBe('X');
    expect(fieldText('zh').help(stray)).toBe('An x.');
  });
});

describe("the Method store's texts", () => {
  const info = { config: SMALL_LLAMA, nameOrPath: 'tiny-llama' };

  it('describes the quick demos in either language', () => {
    expect(demoPresetText(DEMO_PRESETS.lora, 'en')).toBe('r 8, lora_alpha 16, all-linear; lr 0.005 constant, 30 steps of batch 8.');
    expect(demoPresetText(DEMO_PRESETS['prompt-tuning'], 'en')).toBe(
      'num_virtual_tokens 10, prompt_tuning_init TEXT, prompt_tuning_init_text "Answer like a pirate:"; lr 0.03 constant, 30 steps of batch 8.',
    );
    const text = demoPresetText(DEMO_PRESETS.lora, 'zh');
    expect(text).toMatch(/^r 8, lora_alpha 16, all-linear；/);
    expect(text).toMatch(CJK);
  });

  it('names a refused training setting in either language', () => {
    expect(trainingFieldsError({ ...DEFAULT_TRAINING_FIELDS, eps: 0 }, 'en')).toBe('eps = 0: expected a number > 0');
    expect(trainingFieldsError({ ...DEFAULT_TRAINING_FIELDS, eps: 0 }, 'zh')).toBe('AdamW ε = 0：应为 > 0 的数');
    expect(trainingFieldsError({ ...DEFAULT_TRAINING_FIELDS, valSplit: 1 }, 'zh')).toBe('验证集比例 = 1：应为 ≥ 0 且 < 1 的数');
    expect(trainingFieldsError({ ...DEFAULT_TRAINING_FIELDS, batchSize: 1.5 }, 'zh')).toBe('批大小 = 1.5：应为 ≥ 1 的整数');
    expect(trainingFieldsError({ ...DEFAULT_TRAINING_FIELDS, schedule: 'step' as never }, 'zh')).toBe('学习率调度 = "step"：应为 constant、linear、cosine 之一');
  });

  it("names a refused method option in either language, as planMethod does in English", () => {
    const spec = { id: 'p-tuning' as const, options: { encoder_hidden_size: Number.NaN } };
    expect(trainableSummary(spec, info, 'en')).toEqual({ error: 'P-tuning: encoder_hidden_size = NaN: expected an integer ≥ 1 (default: token_dim)' });
    expect(trainableSummary(spec, info, 'zh')).toEqual({ error: 'P-tuning：编码器隐藏维度 encoder_hidden_size = NaN：应为 ≥ 1 的整数（默认：token_dim）' });
    expect(trainableSummary({ id: 'lora', options: { r: 0 } }, info, 'zh')).toEqual({ error: 'LoRA：秩 r = 0：应为 ≥ 1 的整数' });
    expect(trainableSummary({ id: 'lora', options: { rank: 8 } }, info, 'zh')).toEqual({
      error: `LoRA：未知选项 rank；可用的选项：${Object.keys(LORA_FIELDS).join(', ')}`,
    });
  });
});
