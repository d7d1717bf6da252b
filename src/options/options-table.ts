/**
 * The README's option table, made from the option schema: `npm run docs:options` writes it into README.md between
 * the markers, and tests/options.test.ts fails when the README's copy differs.
 */
import { expectation, formatDefault, type FieldSet } from './field';
import { LORA_FIELDS } from './lora-fields';
import { RUN_FIELDS } from './run-fields';
import { TRAINING_FIELDS } from './training-fields';

export const OPTIONS_TABLE_BEGIN = '<!-- options-table:begin (made by npm run docs:options from src/options) -->';
export const OPTIONS_TABLE_END = '<!-- options-table:end -->';

const cell = (text: string) => text.replaceAll('|', '\\|').replaceAll('\n', ' ');

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
