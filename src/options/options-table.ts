/**
 * The README's option table, made from the option schema: `npm run docs:options` writes it into README.md between
 * the markers, and tests/options.test.ts fails when the README's copy differs.
 */
import { expectation, formatDefault, type FieldSet } from './field';
import { BOTTLENECK_FIELDS } from './bottleneck-fields';
import { IA3_FIELDS } from './ia3-fields';
import { LORA_FIELDS } from './lora-fields';
import { P_TUNING_FIELDS, PREFIX_TUNING_FIELDS, PROMPT_TUNING_FIELDS } from './prompt-learning-fields';
import { RUN_FIELDS } from './run-fields';
import { TRAINING_FIELDS } from './training-fields';

export const OPTIONS_TABLE_BEGIN = '<!-- options-table:begin (made by npm run docs:options from src/options) -->';
export const OPTIONS_TABLE_END = '<!-- options-table:end -->';

const cell = (text: string) => text.replaceAll('|', '\\|').replaceAll('\n', ' ');

/** The prompt-learning methods' fields, each once, under the methods (--method) that take it. */
function promptLearningRows(): string[] {
  const sets: [string, FieldSet][] = [['prompt-tuning', PROMPT_TUNING_FIELDS], ['p-tuning', P_TUNING_FIELDS], ['prefix-tuning', PREFIX_TUNING_FIELDS]];
  const seen = new Map<string, { methods: string[]; fields: FieldSet }>();
  for (const [method, fields] of sets) {
    for (const [key, f] of Object.entries(fields)) {
      const entry = seen.get(key) ?? { methods: [], fields: { [key]: f } };
      entry.methods.push(method);
      seen.set(key, entry);
    }
  }
  return [...seen.values()].flatMap((e) => rows(e.methods.join(', '), e.fields));
}

function rows(group: string, fields: FieldSet): string[] {
  return Object.entries(fields).map(([key, f]) =>
    [
      `${group} \`${key}\``,
      `\`--${f.flag}\``,
      f.label,
      f.kind === 'boolean' ? 'a switch' : expectation(f),
      `${formatDefault(f)} (${f.defaultFrom})`,
      f.help,
    ]
      .map(cell)
      .join(' | '),
  );
}

export function optionsTable(): string {
  return [
    '| option | CLI flag | studio | accepts | default (whose) | what it does |',
    '|---|---|---|---|---|---|',
    ...rows('lora', LORA_FIELDS),
    ...promptLearningRows(),
    ...rows('ia3', IA3_FIELDS),
    ...rows('bottleneck', BOTTLENECK_FIELDS),
    ...rows('settings', TRAINING_FIELDS),
    ...rows('run', RUN_FIELDS),
  ]
    .map((r) => (r.startsWith('|') ? r : `| ${r} |`))
    .join('\n');
}

/** The README text with the table between the markers replaced by `table`; throws when the markers are missing. */
export function withOptionsTable(readme: string, table: string): string {
  const begin = readme.indexOf(OPTIONS_TABLE_BEGIN);
  const end = readme.indexOf(OPTIONS_TABLE_END);
  if (begin < 0 || end < begin) throw new Error(`README.md: the markers ${OPTIONS_TABLE_BEGIN} and ${OPTIONS_TABLE_END} are missing`);
  return `${readme.slice(0, begin + OPTIONS_TABLE_BEGIN.length)}\n${table}\n${readme.slice(end)}`;
}
