'use client';

import { useT } from '@/components/LanguageProvider';
import { asLang, LANGUAGE_NAMES, LANGUAGES } from '@/lib/i18n';

/** English / हिन्दी, each named in itself. */
export default function LanguageSwitch() {
  const { lang, setLang, t } = useT();
  return (
    <select
      className="language"
      data-testid="language"
      aria-label={t('header.language')}
      value={lang}
      onChange={(e) => {
        const chosen = asLang(e.target.value);
        if (chosen) setLang(chosen);
      }}
    >
      {LANGUAGES.map((l) => (
        <option key={l} value={l} lang={l}>{LANGUAGE_NAMES[l]}</option>
      ))}
    </select>
  );
}
