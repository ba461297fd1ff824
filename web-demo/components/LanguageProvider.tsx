'use client';

import { createContext, createElement, Fragment, useContext, useEffect, useMemo, useState, type ReactNode } from 'react';

import {
  asLang,
  initialLanguage,
  LANGUAGE_STORAGE_KEY,
  LOCALES,
  parts,
  pluralKey,
  translate,
  type Key,
  type Lang,
  type PluralKey,
  type Translate,
  type Vars,
} from '@/lib/i18n';

/** The current language and its words, from `useT()`. */
export interface Translator {
  lang: Lang;
  /** The locale for dates and times (`undefined`: the browser's). */
  locale: string | undefined;
  /** Chooses the language and remembers it in localStorage. */
  setLang: (lang: Lang) => void;
  /** The text for `key`, placeholders filled from `vars`. */
  t: Translate;
  /** The text for `key` with React nodes as values (a name in `<strong>`). */
  rich: <K extends Key>(key: K, vars: Vars<K, ReactNode>) => ReactNode;
  /** The `.one` / `.other` form of `base` for `count`, with `{count}` filled. */
  plural: (base: PluralKey, count: number) => string;
}

function translator(lang: Lang, setLang: (lang: Lang) => void): Translator {
  return {
    lang,
    locale: LOCALES[lang],
    setLang,
    t: (key, ...vars) => translate(lang, key, vars[0] as Record<string, string | number> | undefined),
    rich: (key, vars) => {
      const values = vars as Record<string, ReactNode>;
      return parts(lang, key).map((p, i) =>
        createElement(Fragment, { key: i }, p.name !== undefined && p.name in values ? values[p.name] : p.text));
    },
    plural: (base, count) => translate(lang, pluralKey(lang, base, count), { count }),
  };
}

// Outside a provider (and in the static HTML), English.
const LanguageContext = createContext<Translator>(translator('en', () => {}));

/**
 * Holds the language for every page: English in the static export, then (after mount) the
 * stored choice or the browser's language; keeps `<html lang>` and other tabs in step.
 */
export function LanguageProvider({ children }: { children: ReactNode }) {
  const [lang, setLangState] = useState<Lang>('en');
  useEffect(() => {
    setLangState(initialLanguage());
    const onStorage = (e: StorageEvent) => {
      const chosen = e.key === LANGUAGE_STORAGE_KEY ? asLang(e.newValue) : null;
      if (chosen) setLangState(chosen);
    };
    window.addEventListener('storage', onStorage);
    return () => window.removeEventListener('storage', onStorage);
  }, []);
  useEffect(() => {
    document.documentElement.lang = lang;
  }, [lang]);
  const value = useMemo(
    () =>
      translator(lang, (chosen) => {
        setLangState(chosen);
        try {
          window.localStorage.setItem(LANGUAGE_STORAGE_KEY, chosen);
        } catch {
          /* not remembered, but still switched */
        }
      }),
    [lang],
  );
  return <LanguageContext.Provider value={value}>{children}</LanguageContext.Provider>;
}

/** The current language, `t(key, vars)` and friends. */
export function useT(): Translator {
  return useContext(LanguageContext);
}
