/**
 * The UI's message catalog: every namespace has the same keys in English and in 中文, each with the same kind of
 * message (a string, or a function of as many arguments), none empty; every Chinese message has Chinese in it unless
 * it is a technical name kept as it is; the language switch is remembered; and no component shows English text
 * that does not go through the catalog.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it, vi } from 'vitest';
import { CATALOG } from '../src/ui/i18n/catalog';

const CJK = /[\u3000-\u303f\u4e00-\u9fff\uff00-\uffef]/;

describe('the message catalog', () => {
  for (const [ns, mod] of Object.entries(CATALOG)) {
    it(`${ns}: the same keys and kinds of message in both languages, none empty`, () => {
      const en = mod.en as Record<string, unknown>;
      const zh = mod.zh as Record<string, unknown>;
      expect(Object.keys(zh).sort(), `${ns}: keys in one language only`).toEqual(Object.keys(en).sort());
      for (const key of Object.keys(en)) {
        const [e, z] = [en[key], zh[key]];
        expect(typeof z, `${ns}.${key}`).toBe(typeof e);
        if (typeof e === 'function' && typeof z === 'function') expect(z.length, `${ns}.${key}: arguments`).toBe(e.length);
        if (typeof e === 'string') {
          expect(e.trim(), `${ns}.${key} (en) is empty`).not.toBe('');
          expect((z as string).trim(), `${ns}.${key} (zh) is empty`).not.toBe('');
        }
      }
    });
  }

  it('has Chinese in every Chinese message that differs from the English one', () => {
    const untranslated: string[] = [];
    for (const [ns, mod] of Object.entries(CATALOG)) {
      const en = mod.en as Record<string, unknown>;
      const zh = mod.zh as Record<string, unknown>;
      for (const key of Object.keys(en)) {
        const e = en[key];
        const z = zh[key];
        // A message the same in both languages is a technical name (LoRA, GPU, Hub) kept as it is.
        if (typeof e === 'string' && typeof z === 'string' && (z === e || CJK.test(z))) continue;
        if (typeof e === 'string' && typeof z === 'string') untranslated.push(`${ns}.${key}: ${z}`);
      }
    }
    expect(untranslated).toEqual([]);
  });
});

describe('the language switch', () => {
  it('is remembered, and the first visit follows the browser', async () => {
    const items = new Map<string, string>();
    vi.stubGlobal('localStorage', { getItem: (k: string) => items.get(k) ?? null, setItem: (k: string, v: string) => items.set(k, v), removeItem: (k: string) => items.delete(k) });
    vi.stubGlobal('navigator', { language: 'zh-CN' });
    vi.resetModules();
    let locale = await import('../src/ui/i18n/locale');
    expect(locale.useLocale.getState().lang).toBe('zh');
    locale.useLocale.getState().setLang('en');
    expect(items.get(locale.LANG_KEY)).toBe('en');
    vi.resetModules();
    locale = await import('../src/ui/i18n/locale');
    expect(locale.useLocale.getState().lang).toBe('en');
    const { tr } = await import('../src/ui/i18n');
    locale.useLocale.getState().setLang('zh');
    expect(tr('app').step('train')).toBe('训练');
    locale.useLocale.getState().setLang('en');
    expect(tr('app').step('train')).toBe('Train');
    vi.unstubAllGlobals();
  });
});

/** Every .tsx file under src/ui. */
function componentFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? componentFiles(path) : path.endsWith('.tsx') ? [path] : [];
  });
}

/** JSX text (between a tag's end and the next tag or brace) and prose attributes, with two English words or more. */
export function literalEnglish(source: string): string[] {
  const found: string[] = [];
  const code = source.replace(/<code>[^<]*<\/code>/g, '<code></code>');
  for (const m of code.matchAll(/>([^<>{}]*)</g)) {
    const text = m[1].trim();
    // (Type arguments such as ReadonlyArray<…> and code between them are not JSX text.)
    if (/[A-Za-z]{2,}\s+[A-Za-z]{2,}/.test(text) && !/[;=]|\bconst\b|=>|&&/.test(text)) found.push(text);
  }
  for (const m of code.matchAll(/\b(?:aria-label|title|placeholder|alt)="([^"]*)"/g)) {
    if (/[A-Za-z]{2,}\s+[A-Za-z]{2,}/.test(m[1])) found.push(m[1]);
  }
  return found;
}

describe('the components', () => {
  it('show no English text of their own: it all comes from the catalog', () => {
    const root = join(__dirname, '..', 'src', 'ui');
    const offenders = componentFiles(root).flatMap((file) => literalEnglish(readFileSync(file, 'utf8')).map((t) => `${file.slice(root.length + 1)}: ${t}`));
    // The product's name is a name.
    expect(offenders.filter((o) => !o.endsWith(': PEFT Studio'))).toEqual([]);
  });

  it('catch a literal sentence (the check can fail)', () => {
    expect(literalEnglish('<p className="hint">Load a model first.</p>')).toEqual(['Load a model first.']);
    expect(literalEnglish('<input placeholder="owner/name" aria-label="Name of the run" />')).toEqual(['Name of the run']);
    expect(literalEnglish('<p>{t.loadFirst}</p><code>adapter config file</code>')).toEqual([]);
  });
});
