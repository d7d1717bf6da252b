/**
 * The option schema's text in the UI's language: in English the schema's own label, help and choice labels (the
 * single English source, src/options and src/methods/registry.ts), in Chinese the catalog's (messages/fields.ts).
 * A field is found by the field object itself, so subsets of a set (pickFields, the panel's advanced settings)
 * and a field shared by several sets need nothing more.
 *
 *   const ft = useFieldText();              // in components (re-renders on a language switch)
 *   const ft = fieldText(lang);             // elsewhere
 *   ft.label(field), ft.help(field), ft.choice(field, value), ft.methodLabel(method), ft.methodHelp(method)
 */
import type { PeftMethod } from '../../methods/method';
import type { ChoiceField, Field } from '../../options/field';
import { messagesFor, useLocale, type Lang } from './index';
import { choiceTextKey, fieldTextKey, methodTextKey, schemaFields, type FieldGroup, type SchemaText, type SchemaTextKey } from './messages/fields';

export interface FieldText {
  readonly lang: Lang;
  /** The field's label; text in backticks is code (render it with <Rich>). */
  label(field: Field): string;
  /** What the field does; text in backticks is code. */
  help(field: Field): string;
  /** How a choice is named in the form: the choice's label, else the value itself. */
  choice(field: ChoiceField, value: string): string;
  /** The method's name: "LoRA", "Prompt tuning", … */
  methodLabel(method: PeftMethod): string;
  /** One sentence on what the method trains. */
  methodHelp(method: PeftMethod): string;
}

/** Each schema field object with its group and key in the catalog. */
const PLACES: ReadonlyMap<Field, { group: FieldGroup; key: string }> = new Map(schemaFields().map(({ group, key, field }) => [field, { group, key }]));

/** The catalog's group and key of a schema field; undefined for a field that is not in the schema's sets. */
export function fieldPlace(field: Field): { group: FieldGroup; key: string } | undefined {
  return PLACES.get(field);
}

function zhText(lang: Lang): SchemaText | null {
  return lang === 'en' ? null : (messagesFor('fields', lang) as SchemaText);
}

/** The catalog's text under a key, or the schema's English when there is none (a field outside the schema's sets). */
function lookup(text: SchemaText | null, key: string | null, english: string): string {
  return (text && key !== null && (text as Record<string, string | undefined>)[key as SchemaTextKey]) || english;
}

const cache = new Map<Lang, FieldText>();

export function fieldText(lang: Lang): FieldText {
  const hit = cache.get(lang);
  if (hit) return hit;
  const text = zhText(lang);
  const key = (field: Field, part: 'label' | 'help') => {
    const place = PLACES.get(field);
    return place ? fieldTextKey(place.group, place.key, part) : null;
  };
  const ft: FieldText = {
    lang,
    label: (field) => lookup(text, key(field, 'label'), field.label),
    help: (field) => lookup(text, key(field, 'help'), field.help),
    choice(field, value) {
      const english = (field.choiceLabels as Readonly<Record<string, string | undefined>> | undefined)?.[value] ?? value;
      const place = PLACES.get(field);
      return lookup(text, place ? choiceTextKey(place.group, place.key, value) : null, english);
    },
    methodLabel: (m) => lookup(text, methodTextKey(m.id, 'label'), m.label),
    methodHelp: (m) => lookup(text, methodTextKey(m.id, 'help'), m.help),
  };
  cache.set(lang, ft);
  return ft;
}

/** fieldText in the current language, re-rendering on a language switch. */
export function useFieldText(): FieldText {
  return fieldText(useLocale((s) => s.lang));
}

/** fieldText in the language at the time of the call (outside React). */
export function currentFieldText(): FieldText {
  return fieldText(useLocale.getState().lang);
}
