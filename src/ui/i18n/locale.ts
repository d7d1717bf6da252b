/**
 * The UI's language, English or Chinese: chosen with the switch in the header and remembered in localStorage
 * (`peft-studio:lang`); the first visit follows the browser's language.
 */
import { create } from 'zustand';
import { localStore } from '../local-storage';

export const LANGS = ['en', 'zh'] as const;
export type Lang = (typeof LANGS)[number];

/** How each language names itself on the switch. */
export const LANG_NAMES: Record<Lang, string> = { en: 'English', zh: '中文' };

export const LANG_KEY = 'peft-studio:lang';

export function isLang(v: unknown): v is Lang {
  return typeof v === 'string' && (LANGS as readonly string[]).includes(v);
}

/** The remembered choice, else the browser's language (zh-* → zh), else English. */
export function initialLang(): Lang {
  const saved = localStore()?.getItem(LANG_KEY);
  if (isLang(saved)) return saved;
  const nav = typeof navigator === 'undefined' ? '' : (navigator.language ?? '');
  return nav.toLowerCase().startsWith('zh') ? 'zh' : 'en';
}

function applyToDocument(lang: Lang): void {
  if (typeof document !== 'undefined') document.documentElement.lang = lang === 'zh' ? 'zh-CN' : 'en';
}

interface LocaleState {
  lang: Lang;
  setLang(lang: Lang): void;
}

export const useLocale = create<LocaleState>()((set) => {
  const lang = initialLang();
  applyToDocument(lang);
  return {
    lang,
    setLang(next) {
      if (!isLang(next)) return;
      try {
        localStore()?.setItem(LANG_KEY, next);
      } catch {
        // not remembered, still switched
      }
      applyToDocument(next);
      set({ lang: next });
    },
  };
});
