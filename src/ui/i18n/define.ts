/**
 * The typed message catalog: each module of the UI defines its English messages and their Chinese translations
 * together. A message is a string or a function of typed arguments; the Chinese side must have exactly the English
 * side's keys and signatures, so a missing or mistyped translation is a type error (and tests/ui-i18n.test.ts checks
 * the same at run time, for catalogs built from data).
 *
 * Conventions: technical names stay as they are in both languages (LoRA, `lora_alpha`, PEFT's field names, file
 * names); text between backticks is shown as code.
 */

export type Message = string | ((...args: never[]) => string);
export type Messages = Record<string, Message>;

/** The Chinese side of a module: every English key, each with the English message's type. */
export type Translation<E extends Messages> = { [K in keyof E]: E[K] };

export interface MessageModule<E extends Messages> {
  en: E;
  zh: Translation<E>;
}

export function defineMessages<E extends Messages>(en: E, zh: Translation<E>): MessageModule<E> {
  return { en, zh };
}
