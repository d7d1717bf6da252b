/**
 * Reading the message catalog: `useT('training')` in components (re-renders on a language switch), `tr('training')`
 * elsewhere (the language at the time of the call).
 */
import { CATALOG, type Namespace } from './catalog';
import { useLocale, type Lang } from './locale';

export type MessagesOf<N extends Namespace> = (typeof CATALOG)[N]['en'];

export function messagesFor<N extends Namespace>(ns: N, lang: Lang): MessagesOf<N> {
  return CATALOG[ns][lang] as MessagesOf<N>;
}

export function useT<N extends Namespace>(ns: N): MessagesOf<N> {
  const lang = useLocale((s) => s.lang);
  return messagesFor(ns, lang);
}

export function tr<N extends Namespace>(ns: N): MessagesOf<N> {
  return messagesFor(ns, useLocale.getState().lang);
}

export { useLocale, LANGS, LANG_NAMES, type Lang } from './locale';
