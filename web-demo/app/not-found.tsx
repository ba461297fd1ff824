'use client';

import { useT } from '@/components/LanguageProvider';

export default function NotFound() {
  const { t } = useT();
  return (
    <main className="narrow">
      <section className="card">
        <h1>{t('notFound.title')}</h1>
        <p>
          {t('notFound.text')} <a href="/">{t('notFound.back')}</a>
        </p>
      </section>
    </main>
  );
}
