'use client';

import { useT } from '@/components/LanguageProvider';
import { api } from '@/lib/api';
import { asLang, LANGUAGE_NAMES, LANGUAGES } from '@/lib/i18n';
import type { Session } from '@/lib/session';

/** English / हिन्दी, each named in itself. Signed in, the choice is also the account's
 *  language, so pushes, texts and emails follow the screens. */
export default function LanguageSwitch({ session }: { session: Session | null }) {
  const { lang, setLang, t } = useT();
  return (
    <select
      className="language"
      data-testid="language"
      aria-label={t('header.language')}
      value={lang}
      onChange={(e) => {
        const chosen = asLang(e.target.value);
        if (!chosen) return;
        setLang(chosen);
        if (session) {
          api('/me/preferences', { method: 'PUT', token: session.token, body: { language: chosen } }).catch((err) =>
            console.warn('the account keeps its language:', err),
          );
        }
      }}
    >
      {LANGUAGES.map((l) => (
        <option key={l} value={l} lang={l}>{LANGUAGE_NAMES[l]}</option>
      ))}
    </select>
  );
}
